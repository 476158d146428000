//! The plugin's settings (`[plugins.vms.config]`), every one optional.

use infrastructor_sdk::prelude::*;
use serde::Deserialize;

/// The plugin's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The libvirt connection URI given to `virsh -c`.
    pub uri: String,
    /// libvirt's log directory (`<log_dir>/<daemon>.log`, `<log_dir>/qemu/<vm>.log`).
    pub log_dir: String,
    /// The daemons whose logs are read, modular first, then monolithic `libvirtd`.
    pub daemons: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            uri: "qemu:///system".to_owned(),
            log_dir: "/var/log/libvirt".to_owned(),
            daemons: [
                "virtqemud",
                "virtlogd",
                "virtnetworkd",
                "virtstoraged",
                "virtproxyd",
                "libvirtd",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        }
    }
}

impl Settings {
    /// The operator's settings; defaults when the section is absent.
    pub fn load() -> Result<Settings, Error> {
        let s: Settings = config::get()?;
        let plain = |v: &str| {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/:._+-".contains(c))
        };
        if !plain(&s.uri) || s.uri.starts_with('-') {
            return Err(Error::internal(
                "plugins.vms.config.uri is not a libvirt URI",
            ));
        }
        if !s.log_dir.starts_with('/')
            || !plain(&s.log_dir)
            || s.log_dir.split('/').any(|c| c == "..")
        {
            return Err(Error::internal(
                "plugins.vms.config.log_dir is not an absolute path",
            ));
        }
        if s.daemons
            .iter()
            .any(|d| !d.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') || d.is_empty())
        {
            return Err(Error::internal(
                "plugins.vms.config.daemons must be daemon names",
            ));
        }
        Ok(s)
    }
}
