//! The plugin's settings (`[plugins.proxy.config]`), every one optional.

use infrastructor_sdk::prelude::*;
use serde::Deserialize;

/// Where SWAG's `/config` is looked for when no running SWAG container names it.
pub const DEFAULT_SEARCH_ROOTS: &[&str] = &[
    "/mnt/appdata/swag",
    "/opt/appdata/swag",
    "/mnt/user/appdata/swag",
    "/srv/appdata/swag",
    "/opt/swag",
    "/docker/swag",
];

/// The plugin's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Candidate SWAG `/config` directories on a device (each must hold `nginx/proxy-confs`).
    pub search_roots: Vec<String>,
    /// How long a device found running SWAG is trusted, in seconds.
    pub found_ttl_secs: u64,
    /// How long a device found without SWAG is trusted, in seconds.
    pub missing_ttl_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            search_roots: DEFAULT_SEARCH_ROOTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            found_ttl_secs: 300,
            missing_ttl_secs: 60,
        }
    }
}

impl Settings {
    /// The operator's settings; defaults when the section is absent. A section that does not
    /// fit is an internal error naming the problem.
    pub fn load() -> Result<Settings, Error> {
        let settings: Settings = config::get()?;
        for root in &settings.search_roots {
            crate::names::config_dir(root).map_err(|_| {
                Error::internal(format!(
                    "plugins.proxy.config.search_roots: `{root}` is not an absolute path"
                ))
            })?;
        }
        Ok(settings)
    }
}
