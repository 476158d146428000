//! `GET /api/devices/{hostname}/logs`: systemd journal entries from `journalctl -o json`,
//! one round trip. Every request value reaches journalctl as one argv element of the form
//! `--unit=VALUE`, so nothing is parsed by a shell and no value can pose as another option.
//! A host without journalctl or without a journal gets `status: "unavailable"` and a message
//! saying which, never a 500 or a silent empty success.

use infrastructor_sdk::prelude::*;

use crate::device::require_device;
use crate::parse::journal::{JournalEntry, journal_since, parse_journal_json};
use crate::sections::Sections;
use serde::Serialize;

/// A device's journal (`GET /{hostname}/logs`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct JournalLogs {
    /// The device's id.
    pub device_id: String,
    /// The device.
    pub hostname: String,
    /// The unit asked for.
    pub service: Option<String>,
    /// The start asked for.
    pub since: Option<String>,
    /// The lowest priority asked for.
    pub priority: Option<String>,
    /// The most entries asked for.
    pub lines: u32,
    /// `success`, or `unavailable` when the device has no journal.
    pub status: String,
    /// Why the journal is unavailable (only then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The entries, oldest first.
    pub logs: Vec<JournalEntry>,
    /// How many entries there are.
    pub log_count: usize,
}

/// The script's name.
pub const SCRIPT: &str = "logs";

/// Says whether journalctl and a journal exist, then runs `journalctl "$@"`.
pub const SCRIPT_BODY: &str = r#"
command -v journalctl >/dev/null 2>&1 || { echo '@@infra:no_journalctl@@'; exit 0; }
if [ -z "$(find /run/log/journal /var/log/journal -maxdepth 2 -name '*.journal' 2>/dev/null | head -n 1)" ]; then
  echo '@@infra:no_journal@@'
fi
echo '@@infra:journal@@'
exec journalctl "$@"
"#;

/// Programs the script runs.
pub const SCRIPT_PROGRAMS: &[&str] = &["journalctl", "find", "head"];

/// Pattern of a `service` value: a systemd unit name (`nginx`, `ssh.service`,
/// `getty@tty1.service`, `sys-devices-x\x2dy.device`).
pub const SERVICE_PATTERN: &str = r"^[A-Za-z0-9][A-Za-z0-9@._:\\-]{0,255}$";

/// Pattern of a `since` value's characters (its meaning is checked by [`journal_since`]).
pub const SINCE_PATTERN: &str = infrastructor_sdk::JOURNAL_SINCE_PATTERN;

/// Journal priorities by name, for `priority`.
pub const PRIORITIES: &[&str] = &[
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// journalctl's arguments for a request (also used by the unit tests).
pub fn journalctl_args(
    service: Option<&str>,
    since: Option<&str>,
    priority: Option<&str>,
    lines: u32,
) -> Result<Vec<String>, Error> {
    let mut args = vec![
        "--no-pager".to_string(),
        "--output=json".to_string(),
        format!("--lines={lines}"),
    ];
    if let Some(since) = since {
        let since = journal_since(since).map_err(|e| Error::bad_request(e.to_string()))?;
        args.push(format!("--since={since}"));
    }
    if let Some(service) = service {
        args.push(format!("--unit={service}"));
    }
    if let Some(p) = priority {
        args.push(format!("--priority={p}"));
    }
    Ok(args)
}

/// `GET /{hostname}/logs?service=&since=&lines=&priority=`.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let device = require_device(req.path("hostname")?)?;
    let service = req.query_str("service").filter(|s| !s.is_empty());
    let since = req.query_str("since").filter(|s| !s.is_empty());
    let priority = req.query_str("priority").filter(|s| !s.is_empty());
    let lines: u32 = req.query_as("lines")?;
    let timeout: u64 = req.query_as("timeout")?;
    let args = journalctl_args(service, since, priority, lines)?;
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ssh::run_script(
        &device.hostname,
        SCRIPT,
        &argv,
        None,
        Duration::from_secs(timeout),
    )?;
    let text = out.stdout_str();
    let s = Sections::parse(&text);
    let mut body = JournalLogs {
        device_id: device.id.clone(),
        hostname: device.hostname.clone(),
        service: service.map(str::to_owned),
        since: since.map(str::to_owned),
        priority: priority.map(str::to_owned),
        lines,
        status: "success".to_owned(),
        message: None,
        logs: Vec::new(),
        log_count: 0,
    };
    let unavailable = if s.get("no_journalctl").is_some() {
        Some("journalctl is not installed on the device (no systemd journal)")
    } else if s.get("no_journal").is_some() {
        Some(
            "the device has no systemd journal (no journal files under /run/log/journal or \
             /var/log/journal)",
        )
    } else {
        None
    };
    if let Some(message) = unavailable {
        body.status = "unavailable".to_owned();
        body.message = Some(message.to_owned());
        return Ok(Json(body).into());
    }
    if out.exit_code != 0 {
        return Err(Error::upstream(format!(
            "journalctl exited {}: {}",
            out.exit_code,
            out.stderr_str().trim()
        )));
    }
    let entries = parse_journal_json(s.require(SCRIPT, "journal")?)
        .map_err(|e| Error::upstream(e.to_string()))?;
    body.log_count = entries.len();
    body.logs = entries;
    Ok(Json(body).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_single_option_arguments() {
        let args = journalctl_args(Some("ssh.service"), Some("1h"), Some("err"), 50).expect("ok");
        assert_eq!(
            args,
            [
                "--no-pager",
                "--output=json",
                "--lines=50",
                "--since=-1h",
                "--unit=ssh.service",
                "--priority=err"
            ]
        );
        let defaults = journalctl_args(None, None, None, 100).expect("ok");
        assert!(
            !defaults.iter().any(|a| a.starts_with("--since")),
            "no since by default: the newest lines, never an empty window"
        );
    }

    #[test]
    fn a_meaningless_since_is_a_400() {
        let e = journalctl_args(None, Some("yesterday-ish"), None, 10).expect_err("refused");
        assert_eq!(e.status(), 400);
    }
}
