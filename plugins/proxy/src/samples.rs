//! SWAG's samples and templates, read from the device's confs directory over SSH.

use infrastructor_sdk::prelude::*;
use infrastructor_sdk::text::rfc3339_from_micros;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names::{self, ConfType};
use crate::{detect, remote};

/// The device query of the sample and template routes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    /// The device; absent = the detected SWAG device.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub device: Option<String>,
}

/// One sample file.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Sample {
    /// `nextcloud.subdomain.conf.sample`.
    pub filename: String,
    /// `nextcloud (subdomain)`.
    pub display_name: String,
    /// `subdomain`, `subfolder`, `template` or `unknown`.
    pub sample_type: String,
    /// The service (`nextcloud`); none for templates.
    pub service_name: Option<String>,
    /// Full path on the device.
    pub file_path: String,
    /// Size in bytes.
    pub file_size: u64,
    /// Last modification (RFC 3339).
    pub last_modified: String,
    /// Its `## Version` date.
    pub version: Option<String>,
}

/// Parses the samples script's output for directory `dir`.
pub fn parse_samples(dir: &str, text: &str) -> Vec<Sample> {
    let (stats, versions) = text.split_once("#versions\n").unwrap_or((text, ""));
    let version_of = |file: &str| {
        versions.lines().find_map(|l| {
            let (f, v) = l.split_once(":## Version")?;
            (f == file).then(|| {
                infrastructor_parsers::swag_conf::header_version_date(&format!("## Version{v}"))
            })?
        })
    };
    let mut out = Vec::new();
    for line in stats.lines() {
        let mut parts = line.rsplitn(4, '|');
        let (Some(kind), Some(mtime), Some(size), Some(name)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if !kind.starts_with("regular") || !names::is_plain_file_name(name) {
            continue;
        }
        let stem = name.trim_end_matches(".conf.sample");
        let (service, kind) = stem.rsplit_once('.').unwrap_or((stem, ""));
        let sample_type = match (service, ConfType::parse(kind)) {
            ("_template", Some(_)) => "template",
            (_, Some(t)) => t.as_str(),
            _ => "unknown",
        };
        let service_name = (sample_type != "template").then(|| service.to_owned());
        out.push(Sample {
            filename: name.to_owned(),
            display_name: match &service_name {
                Some(s) if !kind.is_empty() => format!("{s} ({kind})"),
                Some(s) => s.clone(),
                None => format!("template ({kind})"),
            },
            sample_type: sample_type.to_owned(),
            service_name,
            file_path: format!("{dir}/{name}"),
            file_size: size.parse().unwrap_or(0),
            last_modified: rfc3339_from_micros(
                mtime.parse::<i64>().unwrap_or(0).saturating_mul(1_000_000),
            ),
            version: version_of(name),
        });
    }
    out
}

/// The answer of `GET /samples`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SampleList {
    /// The device.
    pub device: String,
    /// The directory listed.
    pub samples_directory: String,
    /// How many samples there are.
    pub total_samples: usize,
    /// The samples.
    pub samples: Vec<Sample>,
}

/// `GET /samples`.
pub fn list(req: &Request) -> Result<Response, Error> {
    let q: DeviceQuery = req.query()?;
    let detection = detect::locate(q.device.as_deref())?;
    let dir = remote::confs_dir(&detection)?;
    let out = ssh::run_script(
        &detection.device,
        "samples",
        &[&dir],
        None,
        Duration::from_secs(30),
    )?;
    if out.exit_code == 3 {
        return Err(Error::not_found(format!(
            "`{dir}` does not exist on `{}`",
            detection.device
        )));
    }
    let samples = parse_samples(&dir, &out.check("listing the samples")?.stdout_str());
    Ok(Json(SampleList {
        device: detection.device,
        samples_directory: dir,
        total_samples: samples.len(),
        samples,
    })
    .into())
}

/// `GET /samples/{sample_name}`.
pub fn get(req: &Request) -> Result<Response, Error> {
    let name = req.path("sample_name")?;
    let candidates = names::sample_candidates(name)?;
    let q: DeviceQuery = req.query()?;
    let detection = detect::locate(q.device.as_deref())?;
    let dir = remote::confs_dir(&detection)?;
    match remote::read_first(&detection.device, &dir, &candidates)? {
        Some(f) => Ok(Response::text(f.content).header("x-sample-file", &f.name)),
        None => Err(Error::not_found(format!("no sample `{name}` in `{dir}`"))),
    }
}

/// `GET /templates/{template_type}`.
pub fn template(req: &Request) -> Result<Response, Error> {
    let kind = req.path("template_type")?;
    let Some(kind) = ConfType::parse(kind) else {
        return Err(Error::bad_request(
            "template_type must be subdomain or subfolder",
        ));
    };
    let q: DeviceQuery = req.query()?;
    let detection = detect::locate(q.device.as_deref())?;
    let dir = remote::confs_dir(&detection)?;
    match remote::read_first(&detection.device, &dir, &[kind.template_file()])? {
        Some(f) => Ok(Response::text(f.content)),
        None => Err(Error::not_found(format!(
            "no `{}` in `{dir}`",
            kind.template_file()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_and_templates() {
        let text = "nextcloud.subdomain.conf.sample|2000|1700000000|regular file\n\
_template.subfolder.conf.sample|10|1700000000|regular file\n\
odd.conf.sample|1|1|regular file\n\
link.subdomain.conf.sample|1|1|symbolic link\n\
#versions\nnextcloud.subdomain.conf.sample:## Version 2024/07/16\n";
        let s = parse_samples("/c", text);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].service_name.as_deref(), Some("nextcloud"));
        assert_eq!(s[0].sample_type, "subdomain");
        assert_eq!(s[0].version.as_deref(), Some("2024-07-16"));
        assert_eq!(s[0].file_path, "/c/nextcloud.subdomain.conf.sample");
        assert_eq!(s[1].sample_type, "template");
        assert_eq!(s[1].service_name, None);
        assert_eq!(s[2].sample_type, "unknown");
    }
}
