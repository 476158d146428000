//! A systemd journal with chosen entries, for a device to read with plain `journalctl`:
//! written by `systemd-journal-remote` from journal export format into
//! `DIR/<machine-id>/system.journal`, and bind-mounted over `/var/log/journal` inside the
//! device's private mount namespace only ([`super::SshdOptions::binds`]). No journald runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};

use super::run_ok;
use super::tools::require_preferring;

/// One entry to write.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `_SYSTEMD_UNIT`.
    pub unit: &'static str,
    /// `MESSAGE`.
    pub message: &'static str,
    /// `PRIORITY` (0 emerg … 7 debug).
    pub priority: u8,
    /// How long ago it was logged, in seconds.
    pub age_secs: u64,
}

/// A journal directory; removed on drop.
#[derive(Debug)]
pub struct Journal {
    dir: tempfile::TempDir,
}

impl Journal {
    /// Writes `entries` (oldest first is not required: they are sorted by time).
    ///
    /// # Panics
    /// When `systemd-journal-remote` is missing (Debian package systemd-journal-remote).
    pub fn write(entries: &[Entry]) -> Result<Journal> {
        let remote = require_preferring(
            "/lib/systemd/systemd-journal-remote",
            "/usr/lib/systemd/systemd-journal-remote",
            "systemd-journal-remote",
        );
        let machine_id = machine_id()?;
        let dir = tempfile::Builder::new()
            .prefix("journal-")
            .tempdir()
            .context("creating the journal dir")?;
        let sub = dir.path().join(&machine_id);
        std::fs::create_dir(&sub).context("creating the machine-id dir")?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("clock")?
            .as_micros();
        let mut sorted = entries.to_vec();
        sorted.sort_by_key(|e| std::cmp::Reverse(e.age_secs));
        let mut export = String::new();
        for (i, e) in sorted.iter().enumerate() {
            let at = now - u128::from(e.age_secs) * 1_000_000;
            export.push_str(&format!(
                "__REALTIME_TIMESTAMP={at}\n__MONOTONIC_TIMESTAMP={}\n\
                 _BOOT_ID=0123456789abcdef0123456789abcdef\n_MACHINE_ID={machine_id}\n\
                 _HOSTNAME=testbed\n_PID=4242\nSYSLOG_IDENTIFIER={ident}\n\
                 _SYSTEMD_UNIT={unit}\nPRIORITY={prio}\nMESSAGE={msg}\n\n",
                i + 1,
                ident = e.unit.trim_end_matches(".service"),
                unit = e.unit,
                prio = e.priority,
                msg = e.message,
            ));
        }
        let export_path = dir.path().join("export.txt");
        std::fs::write(&export_path, export).context("writing the export")?;
        run_ok(
            Command::new(remote)
                .arg(format!("--output={}", sub.join("system.journal").display()))
                .arg(&export_path),
            "systemd-journal-remote",
        )?;
        std::fs::remove_file(&export_path).context("removing the export")?;
        Ok(Journal { dir })
    }

    /// The directory to bind over `/var/log/journal`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `(self.dir(), /var/log/journal)`, for [`super::SshdOptions::binds`].
    pub fn bind(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().to_path_buf(),
            PathBuf::from("/var/log/journal"),
        )
    }
}

/// This machine's id (journalctl reads `/var/log/journal/<machine-id>/`).
fn machine_id() -> Result<String> {
    let id = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    let id = id.trim().to_string();
    ensure!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "the journal testbed needs /etc/machine-id (Debian package systemd: run \
         systemd-machine-id-setup, as scripts/install-testbed does)"
    );
    ensure!(
        Path::new("/var/log/journal").is_dir(),
        "the journal testbed needs the directory /var/log/journal to bind over (created by \
         scripts/install-testbed)"
    );
    Ok(id)
}
