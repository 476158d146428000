//! Which ZFS tools a device has, detected once per device and remembered (plugin storage,
//! [`TOOLS_TTL_SECS`]): OpenZFS (`-p` exact numbers everywhere; `-j` JSON from 2.3) or the
//! old zfs-fuse (pool version 23: no `-p`, no `zfs diff`, no `zpool events`, no arcstats).

use infrastructor_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// Prints the OpenZFS version (`zfs-2.2.2-1`), or `legacy` for tools without `zfs version`.
pub const DETECT: &str = "v=$(zfs version 2>/dev/null | head -n 1); \
if [ -n \"$v\" ]; then printf '%s\\n' \"$v\"; \
elif [ -r /sys/module/zfs/version ]; then printf 'zfs-%s\\n' \"$(cat /sys/module/zfs/version)\"; \
elif command -v zfs >/dev/null 2>&1; then echo legacy; else echo none; fi";

/// How long a device's tools are trusted before they are detected again.
pub const TOOLS_TTL_SECS: u64 = 24 * 3600;

const COLLECTION: &str = "zfs_tools";

/// A device's ZFS tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tools {
    /// OpenZFS `major.minor`, or none for zfs-fuse and other old tools.
    pub openzfs: Option<(u32, u32)>,
}

impl Tools {
    /// Whether `-p` (exact, parsable numbers) is supported.
    pub fn parsable(self) -> bool {
        self.openzfs.is_some()
    }

    /// Whether `-j` (JSON output, OpenZFS 2.3) is supported.
    pub fn json(self) -> bool {
        self.openzfs.is_some_and(|v| v >= (2, 3))
    }

    /// Whether `zfs diff` and `zpool events` exist.
    pub fn modern(self) -> bool {
        self.openzfs.is_some()
    }

    /// A name for the API: `openzfs-2.2` or `legacy`.
    pub fn label(self) -> String {
        match self.openzfs {
            Some((a, b)) => format!("openzfs-{a}.{b}"),
            None => "legacy".to_owned(),
        }
    }
}

/// Parses the detection output. `none` (no `zfs` at all) is an error.
pub fn parse_detect(text: &str) -> Result<Tools, String> {
    let line = text.lines().next().unwrap_or("").trim();
    if line == "none" || line.is_empty() {
        return Err("has no zfs command".to_owned());
    }
    if line == "legacy" {
        return Ok(Tools { openzfs: None });
    }
    let version = line.trim_start_matches("zfs-").trim_start_matches("kmod-");
    let mut parts = version.split(['.', '-']);
    let major = parts.next().and_then(|p| p.parse().ok());
    let minor = parts.next().and_then(|p| p.parse().ok());
    Ok(match (major, minor) {
        (Some(a), Some(b)) => Tools {
            openzfs: Some((a, b)),
        },
        _ => Tools { openzfs: None },
    })
}

/// The tools of `device`: remembered, or detected now. Errors: unavailable when the device
/// has no `zfs`.
pub fn of(device: &str) -> Result<Tools, Error> {
    storage::remembered(
        COLLECTION,
        &device.to_ascii_lowercase(),
        |_| TOOLS_TTL_SECS,
        || {
            let out = ssh::run_script(device, "detect", &[], None, Duration::from_secs(20))?
                .check("zfs detection")?;
            parse_detect(&out.stdout_str())
                .map_err(|e| Error::unavailable(format!("`{device}` {e}")))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let t = parse_detect("zfs-2.3.1-1\nzfs-kmod-2.3.1-1\n").expect("ok");
        assert!(t.json() && t.parsable());
        let t = parse_detect("zfs-2.1.5-1ubuntu6\n").expect("ok");
        assert!(!t.json() && t.parsable());
        assert_eq!(t.label(), "openzfs-2.1");
        let t = parse_detect("legacy\n").expect("ok");
        assert!(!t.parsable() && !t.modern());
        assert!(parse_detect("none\n").is_err());
    }
}
