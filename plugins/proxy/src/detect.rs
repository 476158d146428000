//! SWAG detection: which device runs SWAG, its container, and where its `/config` lives.
//!
//! One remote run per device ([`DETECT`]): the running containers' names, images and mounts
//! (`docker inspect` over `docker ps -q`), and which configured search roots hold
//! `nginx/proxy-confs`. A container whose image is `linuxserver/swag` (any registry, tag or
//! digest) or whose name contains `swag` is SWAG; its `/config` mount is the config directory.
//! Without one, the first search root that exists is used (reads work; edits need the
//! container for `nginx -t`). Devices are probed at once (`ssh::exec_all`), and both found
//! and missing results are remembered (plugin storage) for their TTLs.

use infrastructor_sdk::prelude::*;
use infrastructor_sdk::registry::DeviceFilter;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::settings::Settings;

/// The detection script: `#containers` then one line per running container (`"/name"
/// "image" [mounts]` as JSON), `#roots` then each search root (`$@`) that has
/// `nginx/proxy-confs`.
pub const DETECT: &str = "echo '#containers'; ids=$(docker ps -q 2>/dev/null); \
if [ -n \"$ids\" ]; then docker inspect --format '{{json .Name}} {{json .Config.Image}} {{json .Mounts}}' $ids 2>/dev/null; fi; \
echo '#roots'; for d in \"$@\"; do [ -d \"$d/nginx/proxy-confs\" ] && printf '%s\\n' \"$d\"; done; exit 0";

/// The storage collection of detection results, one document per device.
const DETECTIONS: &str = "detections";

/// Most devices probed by one detection.
const MAX_DEVICES: u32 = 256;

/// How SWAG was found on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The running container's `/config` mount.
    ContainerMount,
    /// A configured search root.
    SearchRoot,
}

/// What detection found on one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Detection {
    /// The device (as named in the registry or the request).
    pub device: String,
    /// Whether SWAG's config directory was found.
    pub found: bool,
    /// The running SWAG container's name.
    pub container: Option<String>,
    /// Its image.
    pub image: Option<String>,
    /// SWAG's `/config` directory on the device.
    pub config_dir: Option<String>,
    /// How the config directory was found.
    pub source: Option<Source>,
    /// Other running containers that also look like SWAG.
    pub other_containers: Vec<String>,
    /// Why nothing was found, or why the device could not be probed.
    pub reason: Option<String>,
    /// When it was probed (seconds since the epoch).
    pub checked_at_secs: u64,
    /// Whether this answer came from the remembered result.
    #[serde(default)]
    pub cached: bool,
}

impl Detection {
    /// `<config_dir>/nginx/proxy-confs`.
    pub fn confs_dir(&self) -> Option<String> {
        self.config_dir
            .as_ref()
            .map(|d| format!("{}/nginx/proxy-confs", d.trim_end_matches('/')))
    }
}

/// A running container as the detection script lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    /// Its name, without docker's leading `/`.
    pub name: String,
    /// Its image reference.
    pub image: String,
    /// Where its `/config` is on the host, if mounted.
    pub config_source: Option<String>,
}

/// The detection script's output, parsed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Probe {
    /// The running containers.
    pub containers: Vec<Container>,
    /// The search roots that exist.
    pub roots: Vec<String>,
}

/// Whether `image` is linuxserver's SWAG: the repository path (registry and tag or digest
/// removed) is `linuxserver/swag`.
pub fn is_swag_image(image: &str) -> bool {
    let without_digest = image.split('@').next().unwrap_or(image);
    // A tag is a `:` after the last `/` (a registry port comes before it).
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    let repo = match without_digest[last_slash..].find(':') {
        Some(i) => &without_digest[..last_slash + i],
        None => without_digest,
    };
    let repo = repo.to_ascii_lowercase();
    repo == "linuxserver/swag" || repo.ends_with("/linuxserver/swag")
}

/// Parses the detection script's output. Lines that are not what docker prints are skipped.
pub fn parse_probe(text: &str) -> Probe {
    let mut probe = Probe::default();
    let mut section = "";
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        match line {
            "#containers" | "#roots" => {
                section = line;
                continue;
            }
            "" => continue,
            _ => {}
        }
        match section {
            "#containers" => {
                if let Some(c) = parse_container(line) {
                    probe.containers.push(c);
                }
            }
            "#roots" if line.starts_with('/') => probe.roots.push(line.to_owned()),
            _ => {}
        }
    }
    probe
}

fn parse_container(line: &str) -> Option<Container> {
    let values: Vec<Value> = serde_json::Deserializer::from_str(line)
        .into_iter::<Value>()
        .take(3)
        .collect::<Result<_, _>>()
        .ok()?;
    let [name, image, mounts] = values.as_slice() else {
        return None;
    };
    let config_source = mounts.as_array().and_then(|ms| {
        ms.iter()
            .find(|m| m["Destination"].as_str() == Some("/config"))
            .and_then(|m| m["Source"].as_str())
            .filter(|s| s.starts_with('/'))
            .map(str::to_owned)
    });
    Some(Container {
        name: name.as_str()?.trim_start_matches('/').to_owned(),
        image: image.as_str()?.to_owned(),
        config_source,
    })
}

/// What a probe means for `device`: the SWAG container (by image first, then by name) and
/// its config directory, else the first existing search root.
pub fn decide(device: &str, probe: &Probe, now_secs: u64) -> Detection {
    let mut swag: Vec<&Container> = probe
        .containers
        .iter()
        .filter(|c| is_swag_image(&c.image))
        .collect();
    swag.extend(
        probe
            .containers
            .iter()
            .filter(|c| !is_swag_image(&c.image) && c.name.to_ascii_lowercase().contains("swag")),
    );
    let chosen = swag.first().copied();
    let mut detection = Detection {
        device: device.to_owned(),
        found: false,
        container: chosen.map(|c| c.name.clone()),
        image: chosen.map(|c| c.image.clone()),
        config_dir: None,
        source: None,
        other_containers: swag.iter().skip(1).map(|c| c.name.clone()).collect(),
        reason: None,
        checked_at_secs: now_secs,
        cached: false,
    };
    if let Some(dir) = chosen.and_then(|c| c.config_source.clone()) {
        detection.config_dir = Some(dir);
        detection.source = Some(Source::ContainerMount);
    } else if let Some(root) = probe.roots.first() {
        detection.config_dir = Some(root.clone());
        detection.source = Some(Source::SearchRoot);
    }
    detection.found = detection.config_dir.is_some();
    if !detection.found {
        detection.reason = Some(match chosen {
            Some(c) => format!(
                "container `{}` has no /config mount and no search root has nginx/proxy-confs",
                c.name
            ),
            None => {
                "no SWAG container is running and no search root has nginx/proxy-confs".to_owned()
            }
        });
    }
    detection
}

fn remembered(device: &str, settings: &Settings, now: u64) -> Option<Detection> {
    let doc = storage::get_json::<Detection>(DETECTIONS, &device.to_ascii_lowercase())
        .ok()
        .flatten()?;
    let ttl = if doc.body.found {
        settings.found_ttl_secs
    } else {
        settings.missing_ttl_secs
    };
    (now.saturating_sub(doc.body.checked_at_secs) < ttl).then_some(Detection {
        cached: true,
        ..doc.body
    })
}

fn remember(d: &Detection) {
    if let Err(e) = storage::put_json(DETECTIONS, &d.device.to_ascii_lowercase(), d) {
        log::warn(
            "cannot remember a SWAG detection",
            &[("device", &d.device), ("error", &e.to_string())],
        );
    }
}

/// Detects SWAG on each of `devices` (remembered results within their TTL unless
/// `refresh`), probing the others at once. A device that cannot be reached is a result
/// with `found: false` and the reason; it is not remembered.
pub fn detect_all(devices: &[String], refresh: bool) -> Result<Vec<Detection>, Error> {
    let settings = Settings::load()?;
    let now = storage::unix_now_secs();
    let mut results: Vec<Option<Detection>> = devices
        .iter()
        .map(|d| {
            if refresh {
                None
            } else {
                remembered(d, &settings, now)
            }
        })
        .collect();
    let to_probe: Vec<String> = devices
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_none())
        .map(|(d, _)| d.clone())
        .collect();
    if !to_probe.is_empty() {
        let outputs = ssh::exec_all(
            &to_probe,
            Command::Script {
                name: "detect".to_owned(),
                args: settings.search_roots.clone(),
            },
            Duration::from_secs(15),
        )?;
        let mut probed = to_probe.iter().zip(outputs);
        for slot in results.iter_mut().filter(|r| r.is_none()) {
            let Some((device, output)) = probed.next() else {
                break;
            };
            let detection = match output {
                Ok(out) => {
                    let d = decide(device, &parse_probe(&out.stdout_str()), now);
                    remember(&d);
                    d
                }
                Err(e) => Detection {
                    device: device.clone(),
                    found: false,
                    container: None,
                    image: None,
                    config_dir: None,
                    source: None,
                    other_containers: Vec::new(),
                    reason: Some(format!("cannot probe: {e}")),
                    checked_at_secs: now,
                    cached: false,
                },
            };
            *slot = Some(detection);
        }
    }
    Ok(results.into_iter().flatten().collect())
}

/// The monitored registered devices, by hostname.
pub fn monitored_devices() -> Result<Vec<String>, Error> {
    let page = registry::list(&DeviceFilter {
        monitoring_enabled: Some(true),
        limit: MAX_DEVICES,
        ..DeviceFilter::default()
    })?;
    Ok(page.items.into_iter().map(|d| d.hostname).collect())
}

/// SWAG on `device` when named (404 when it has none), else on the first monitored device
/// that runs it (404 when none does).
pub fn locate(device: Option<&str>) -> Result<Detection, Error> {
    let devices = match device {
        Some(d) => vec![d.to_owned()],
        None => monitored_devices()?,
    };
    let results = detect_all(&devices, false)?;
    if let Some(found) = results.iter().find(|d| d.found) {
        return Ok(found.clone());
    }
    match (device, results.first()) {
        (Some(d), Some(r))
            if r.reason
                .as_deref()
                .is_some_and(|x| x.starts_with("cannot probe")) =>
        {
            Err(Error::unavailable(format!(
                "SWAG detection on `{d}` failed: {}",
                r.reason.as_deref().unwrap_or_default()
            )))
        }
        (Some(d), _) => Err(Error::not_found(format!(
            "no SWAG on `{d}`: {}",
            results
                .first()
                .and_then(|r| r.reason.as_deref())
                .unwrap_or("nothing found")
        ))),
        (None, _) => Err(Error::not_found(format!(
            "no SWAG found on any of the {} monitored devices (pass `device` to name one)",
            devices.len()
        ))),
    }
}

/// Forgets what was detected on `device` (after an edit found the container gone).
pub fn forget(device: &str) {
    let _ = storage::delete(DETECTIONS, &device.to_ascii_lowercase());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swag_images() {
        for yes in [
            "linuxserver/swag",
            "lscr.io/linuxserver/swag:latest",
            "ghcr.io/linuxserver/swag:2.11.0",
            "registry.local:5000/linuxserver/swag@sha256:abc",
            "LinuxServer/SWAG:1",
        ] {
            assert!(is_swag_image(yes), "{yes}");
        }
        for no in [
            "nginx",
            "linuxserver/swagger",
            "me/swag",
            "linuxserver/nginx:swag",
        ] {
            assert!(!is_swag_image(no), "{no}");
        }
    }

    const OUTPUT: &str = "#containers\n\
\"/web\" \"nginx:1.25\" []\n\
\"/proxy\" \"lscr.io/linuxserver/swag:latest\" [{\"Type\":\"bind\",\"Source\":\"/mnt/appdata/swag\",\"Destination\":\"/config\",\"Mode\":\"\",\"RW\":true}]\n\
\"/old-swag\" \"nginx\" []\n\
garbage line\n\
#roots\n\
/opt/appdata/swag\n";

    #[test]
    fn probe_prefers_the_image_and_its_mount() {
        let probe = parse_probe(OUTPUT);
        assert_eq!(probe.containers.len(), 3);
        assert_eq!(probe.roots, ["/opt/appdata/swag"]);
        let d = decide("box", &probe, 7);
        assert!(d.found);
        assert_eq!(d.container.as_deref(), Some("proxy"));
        assert_eq!(d.config_dir.as_deref(), Some("/mnt/appdata/swag"));
        assert_eq!(d.source, Some(Source::ContainerMount));
        assert_eq!(d.other_containers, ["old-swag"]);
        assert_eq!(
            d.confs_dir().as_deref(),
            Some("/mnt/appdata/swag/nginx/proxy-confs")
        );
    }

    #[test]
    fn search_roots_are_the_fallback_and_nothing_is_a_reason() {
        let d = decide("box", &parse_probe("#containers\n#roots\n/opt/swag\n"), 1);
        assert!(d.found);
        assert_eq!(d.source, Some(Source::SearchRoot));
        assert_eq!(d.container, None);
        let none = decide("box", &parse_probe("#containers\n#roots\n"), 1);
        assert!(!none.found);
        assert!(none.reason.expect("reason").contains("no SWAG container"));
        let unmounted = decide(
            "box",
            &parse_probe("#containers\n\"/swag\" \"lscr.io/linuxserver/swag\" null\n#roots\n"),
            1,
        );
        assert!(!unmounted.found);
        assert_eq!(unmounted.container.as_deref(), Some("swag"));
        assert!(parse_probe("").containers.is_empty());
    }
}
