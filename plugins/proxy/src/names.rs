//! The names this plugin accepts from requests and from the device, checked before they reach
//! a path: service names, conf and sample file names, config directories.

use infrastructor_sdk::prelude::*;

/// The pattern of a service name in a path or body: a DNS-label-like name that is safe as
/// part of a file name (`nextcloud`, `home-assistant`, `code_server`).
pub const SERVICE_PATTERN: &str = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$";

/// The pattern of a sample name: a service name, or a sample's full file name
/// (`nextcloud.subdomain.conf.sample`).
pub const SAMPLE_PATTERN: &str = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$";

/// The pattern of a config directory given in a request: an absolute path of plain names.
pub const DIR_PATTERN: &str = r"^/[A-Za-z0-9._/-]{0,254}$";

/// How SWAG includes a conf: `*.subdomain.conf` at http level, `*.subfolder.conf` inside the
/// default server.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ConfType {
    /// `<service>.subdomain.conf`: its own server block.
    Subdomain,
    /// `<service>.subfolder.conf`: locations inside the default server.
    Subfolder,
}

impl ConfType {
    /// Both, in SWAG's lookup order.
    pub const ALL: [ConfType; 2] = [ConfType::Subdomain, ConfType::Subfolder];

    /// `subdomain` / `subfolder`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfType::Subdomain => "subdomain",
            ConfType::Subfolder => "subfolder",
        }
    }

    /// Parses `subdomain` / `subfolder`.
    pub fn parse(s: &str) -> Option<ConfType> {
        match s {
            "subdomain" => Some(ConfType::Subdomain),
            "subfolder" => Some(ConfType::Subfolder),
            _ => None,
        }
    }

    /// The active conf's file name: `<service>.<type>.conf`.
    pub fn conf_file(self, service: &str) -> String {
        format!("{service}.{}.conf", self.as_str())
    }

    /// The sample's file name: `<service>.<type>.conf.sample`.
    pub fn sample_file(self, service: &str) -> String {
        format!("{}.sample", self.conf_file(service))
    }

    /// The template's file name: `_template.<type>.conf.sample`.
    pub fn template_file(self) -> String {
        self.sample_file("_template")
    }
}

/// Whether `name` is an acceptable service name ([`SERVICE_PATTERN`]).
pub fn is_service(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Whether `name` is a file name this plugin may read or write in the confs directory:
/// plain characters, no path separator, not hidden, not `.`/`..`.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The sample file a sample name means: a full sample file name as given, else the service's
/// samples in lookup order (subdomain, then subfolder).
pub fn sample_candidates(name: &str) -> Result<Vec<String>, Error> {
    if name.ends_with(".conf.sample") {
        if !is_plain_file_name(name) {
            return Err(Error::bad_request(format!("`{name}` is not a sample name")));
        }
        return Ok(vec![name.to_owned()]);
    }
    // `_template` and other `_` names are not services; they must still be plain file
    // names (no `/`), as the file names built from them are read from the confs directory.
    let underscored = name.starts_with('_') && is_plain_file_name(name);
    if !is_service(name) && !underscored {
        return Err(Error::bad_request(format!(
            "`{name}` is not a service name"
        )));
    }
    Ok(ConfType::ALL.iter().map(|t| t.sample_file(name)).collect())
}

/// A config directory named in a request, normalised: absolute, no `.`/`..` segments, no
/// trailing slash. Errors: bad-request.
pub fn config_dir(dir: &str) -> Result<String, Error> {
    let trimmed = dir.trim_end_matches('/');
    let ok = trimmed.starts_with('/')
        && trimmed.len() > 1
        && trimmed
            .split('/')
            .skip(1)
            .all(|s| !s.is_empty() && s != "." && s != "..");
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(Error::bad_request(format!(
            "`{dir}` is not an absolute directory path without `.`/`..` segments"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (property tests): a name starting with `_` skipped every check, so
    /// `_/../x` became the sample file `_/../x.subdomain.conf.sample`.
    #[test]
    fn underscored_sample_names_are_plain_file_names() {
        for bad in ["_/", "_/../../etc/x", "_a b", "_\n"] {
            assert!(sample_candidates(bad).is_err(), "{bad:?}");
        }
        let template = sample_candidates("_template").expect("the template");
        assert!(
            template.iter().all(|c| c.starts_with("_template.")),
            "{template:?}"
        );
    }

    #[test]
    fn service_names() {
        for ok in ["nextcloud", "home-assistant", "code_server", "a", "x1"] {
            assert!(is_service(ok), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "a;b",
            "a b",
            "-x",
            "_template",
            "a/b",
            "a.b",
            &"a".repeat(64),
        ] {
            assert!(!is_service(bad), "{bad}");
        }
    }

    #[test]
    fn file_names_and_samples() {
        assert!(is_plain_file_name("nextcloud.subdomain.conf"));
        for bad in [
            "",
            ".hidden.conf",
            "../x.conf",
            "a/b.conf",
            "a b.conf",
            "..",
        ] {
            assert!(!is_plain_file_name(bad), "{bad}");
        }
        assert_eq!(
            sample_candidates("nextcloud").expect("ok"),
            [
                "nextcloud.subdomain.conf.sample",
                "nextcloud.subfolder.conf.sample"
            ]
        );
        assert_eq!(
            sample_candidates("x.subfolder.conf.sample").expect("ok"),
            ["x.subfolder.conf.sample"]
        );
        assert!(sample_candidates("../etc/passwd.conf.sample").is_err());
        assert!(sample_candidates("a;b").is_err());
        assert_eq!(
            ConfType::Subdomain.template_file(),
            "_template.subdomain.conf.sample"
        );
    }

    #[test]
    fn config_dirs() {
        assert_eq!(
            config_dir("/mnt/appdata/swag/").expect("ok"),
            "/mnt/appdata/swag"
        );
        for bad in ["relative", "/", "/a/../b", "/a/./b", "//a", ""] {
            assert!(config_dir(bad).is_err(), "{bad}");
        }
    }
}
