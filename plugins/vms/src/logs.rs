//! libvirt's logs, tail-limited (never a whole file): the daemons' log files under the log
//! directory (modular `virtqemud`, `virtlogd`… and monolithic `libvirtd`), else their
//! journal entries; and one VM's `qemu/<vm>.log`. The answer names its source.

use infrastructor_parsers::journal::{journal_since, parse_journal_json};
use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::parse::is_vm_name;
use crate::settings::Settings;

/// Tails every `$1/<daemon>.log` of `$3…` that exists: `#file PATH`, then its last `$2`
/// lines. Exit 4 when none exists.
pub const DAEMON_LOGS: &str = r#"d=$1; n=$2; shift 2; found=
for name in "$@"; do
  f="$d/$name.log"
  if [ -f "$f" ] && [ -r "$f" ]; then found=1; printf '#file %s\n' "$f"; tail -n "$n" -- "$f"; fi
done
[ -n "$found" ] || exit 4"#;

/// Tails `$1/qemu/$2.log` (`$3` lines); exit 4 when it does not exist.
pub const VM_LOG: &str = r#"f="$1/qemu/$2.log"; [ -f "$f" ] || exit 4; tail -n "$3" -- "$f""#;

/// How many lines, and since when (the journal only: files are tailed).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// The newest lines to answer, per file.
    #[serde(default = "default_lines")]
    #[schemars(range(min = 1, max = 10000))]
    pub lines: u32,
    /// Only journal entries since (`1h`, `2d`, `YYYY-MM-DD[ HH:MM]`, `today`); files are
    /// tailed whatever their times.
    #[schemars(regex(pattern = infrastructor_sdk::JOURNAL_SINCE_PATTERN))]
    pub since: Option<String>,
}

/// How many lines of one VM's log.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VmLogQuery {
    /// The newest lines to answer.
    #[serde(default = "default_lines")]
    #[schemars(range(min = 1, max = 10000))]
    pub lines: u32,
}

fn default_lines() -> u32 {
    200
}

/// Where libvirt's logs were read.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    /// The daemons' log files.
    Files,
    /// The journal (no log files).
    Journal,
}

/// `GET /{hostname}/logs`: the daemons' log files, or their journal entries.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum LibvirtLogs {
    /// From the log directory.
    Files {
        /// The device.
        hostname: String,
        /// `files`.
        source: LogSource,
        /// The log directory read.
        log_dir: String,
        /// Always false: files are not filtered by time.
        since_applied: bool,
        /// One tail per daemon log file.
        files: Vec<FileTail>,
    },
    /// From the journal.
    Journal {
        /// The device.
        hostname: String,
        /// `journal`.
        source: LogSource,
        /// The units read.
        units: Vec<String>,
        /// Whether `since` filtered the entries.
        since_applied: bool,
        /// Journal entries (journalctl's JSON fields, parsed).
        entries: Vec<serde_json::Map<String, Value>>,
    },
}

/// `GET /{hostname}/logs/{vm_name}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct VmLog {
    /// The device.
    pub hostname: String,
    /// The VM.
    pub vm_name: String,
    /// The log file read.
    pub source: String,
    /// Its last lines.
    pub lines: Vec<String>,
}

/// One log file's tail.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FileTail {
    /// Its path on the device.
    pub path: String,
    /// Its last lines.
    pub lines: Vec<String>,
}

/// Parses the daemon script's output into one tail per file.
pub fn parse_tails(text: &str) -> Vec<FileTail> {
    let mut files: Vec<FileTail> = Vec::new();
    for line in text.lines() {
        if let Some(path) = line.strip_prefix("#file ") {
            files.push(FileTail {
                path: path.to_owned(),
                lines: Vec::new(),
            });
        } else if let Some(f) = files.last_mut() {
            f.lines.push(line.to_owned());
        }
    }
    files
}

/// `GET /{hostname}/logs`.
pub fn daemon(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let q: LogsQuery = req.query()?;
    let settings = Settings::load()?;
    let lines = q.lines.to_string();
    let mut args = vec![settings.log_dir.as_str(), lines.as_str()];
    args.extend(settings.daemons.iter().map(String::as_str));
    let out = ssh::run_script(host, "daemon_logs", &args, None, Duration::from_secs(30))?;
    if out.success() {
        let files = parse_tails(&out.stdout_str());
        return Ok(Json(json!(LibvirtLogs::Files {
            hostname: host.to_owned(),
            source: LogSource::Files,
            log_dir: settings.log_dir,
            since_applied: false,
            files,
        }))
        .into());
    }
    if out.exit_code != 4 {
        return Err(out
            .check("reading libvirt logs")
            .err()
            .unwrap_or_else(|| Error::upstream("reading libvirt logs failed")));
    }
    let mut argv: Vec<String> = vec![
        "journalctl".into(),
        "--no-pager".into(),
        "--output=json".into(),
        format!("--lines={}", q.lines),
    ];
    if let Some(since) = &q.since {
        let since = journal_since(since).map_err(|e| Error::bad_request(e.to_string()))?;
        argv.push(format!("--since={since}"));
    }
    argv.extend(
        settings
            .daemons
            .iter()
            .map(|d| format!("--unit={d}.service")),
    );
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = ssh::exec(host, &refs, None, Duration::from_secs(30))?;
    let entries = if out.success() {
        parse_journal_json(&out.stdout_str()).map_err(|e| Error::upstream(e.to_string()))?
    } else {
        Vec::new()
    };
    if entries.is_empty() {
        return Err(Error::not_found(format!(
            "no libvirt logs on `{host}`: no daemon log in {} and no journal entries of {}",
            settings.log_dir,
            settings.daemons.join(", ")
        )));
    }
    Ok(Json(json!(LibvirtLogs::Journal {
        hostname: host.to_owned(),
        source: LogSource::Journal,
        units: settings
            .daemons
            .iter()
            .map(|d| format!("{d}.service"))
            .collect(),
        since_applied: q.since.is_some(),
        entries: entries
            .iter()
            .filter_map(|e| match serde_json::to_value(e) {
                Ok(Value::Object(o)) => Some(o),
                _ => None,
            })
            .collect(),
    }))
    .into())
}

/// `GET /{hostname}/logs/{vm_name}`.
pub fn vm(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let vm = req.path("vm_name")?;
    if !is_vm_name(vm) {
        return Err(Error::bad_request(format!("`{vm}` is not a VM name")));
    }
    let q: VmLogQuery = req.query()?;
    let settings = Settings::load()?;
    let lines = q.lines.to_string();
    let out = ssh::run_script(
        host,
        "vm_log",
        &[&settings.log_dir, vm, &lines],
        None,
        Duration::from_secs(30),
    )?;
    if out.exit_code == 4 {
        return Err(Error::not_found(format!(
            "no log for VM `{vm}` ({}/qemu/{vm}.log) on `{host}`",
            settings.log_dir
        )));
    }
    let out = out.check("reading the VM log")?;
    Ok(Json(json!(VmLog {
        hostname: host.to_owned(),
        vm_name: vm.to_owned(),
        source: format!("{}/qemu/{vm}.log", settings.log_dir),
        lines: out.stdout_str().lines().map(str::to_owned).collect(),
    }))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_per_file() {
        let t = parse_tails("#file /l/virtqemud.log\na\nb\n#file /l/libvirtd.log\nc\n");
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].lines, ["a", "b"]);
        assert_eq!(t[1].path, "/l/libvirtd.log");
        assert!(parse_tails("stray\n").is_empty());
    }
}
