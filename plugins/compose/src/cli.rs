//! The compose command line on a device: `docker compose` (v2) preferred, `docker-compose`
//! (v1) as the fallback, detected with one remote run per device and remembered (plugin
//! storage, [`FLAVOUR_TTL_SECS`]); every invocation is argv.

use infrastructor_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// The script that says which compose a device has: `v2`, `v1` or `none`.
pub const DETECT: &str = "if docker compose version >/dev/null 2>&1; then echo v2; \
elif docker-compose version >/dev/null 2>&1; then echo v1; else echo none; fi";

/// How long a detected flavour is trusted before it is detected again.
pub const FLAVOUR_TTL_SECS: u64 = 24 * 3600;

/// The storage collection remembering each device's flavour.
const FLAVOURS: &str = "compose_cli";

/// Which compose command line a device has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    /// The `docker compose` plugin.
    V2,
    /// The standalone `docker-compose`.
    V1,
}

impl Flavour {
    /// The device's flavour: remembered, or detected now (and remembered). A storage
    /// failure only costs a detection.
    pub fn of(device: &str) -> Result<Flavour, Error> {
        storage::remembered(
            FLAVOURS,
            &device.to_ascii_lowercase(),
            |_| FLAVOUR_TTL_SECS,
            || Flavour::detect(device),
        )
    }

    /// Runs the detection on `device`. Errors: unavailable when the device has neither.
    pub fn detect(device: &str) -> Result<Flavour, Error> {
        let out = ssh::run_script(device, "detect", &[], None, Duration::from_secs(30))?
            .check("compose detection")?;
        match out.stdout_str().trim() {
            "v2" => Ok(Flavour::V2),
            "v1" => Ok(Flavour::V1),
            _ => Err(Error::unavailable(format!(
                "`{device}` has neither `docker compose` nor `docker-compose`"
            ))),
        }
    }

    /// The argv of `compose -f FILE ARGS…`.
    pub fn argv<'a>(self, file: &'a str, args: &[&'a str]) -> Vec<&'a str> {
        let mut argv = match self {
            Flavour::V2 => vec!["docker", "compose"],
            Flavour::V1 => vec!["docker-compose"],
        };
        argv.extend(["-f", file]);
        argv.extend_from_slice(args);
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_per_flavour() {
        assert_eq!(
            Flavour::V2.argv("/s/c.yml", &["up", "-d"]),
            ["docker", "compose", "-f", "/s/c.yml", "up", "-d"]
        );
        assert_eq!(
            Flavour::V1.argv("/s/c.yml", &["config", "-q"]),
            ["docker-compose", "-f", "/s/c.yml", "config", "-q"]
        );
    }
}
