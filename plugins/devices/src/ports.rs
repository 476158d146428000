//! `GET /api/devices/{hostname}/ports`: listening TCP/UDP sockets from `ss -tulpn` (netstat
//! when `ss` is missing), in one round trip, with process names and PIDs when visible.

use infrastructor_parsers::ss::{Socket, parse_netstat, parse_ss};
use infrastructor_sdk::prelude::*;
use serde::Serialize;

/// A device's listening sockets (`GET /{hostname}/ports`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct PortsView {
    /// The device.
    pub hostname: String,
    /// The tool that listed them: `ss` or `netstat`.
    pub source: String,
    /// The listening TCP and UDP sockets.
    pub ports: Vec<Socket>,
    /// How many there are.
    pub port_count: usize,
}

/// The script's name.
pub const SCRIPT: &str = "ports";

/// `ss` when present, else `netstat`; the first line says which.
pub const SCRIPT_BODY: &str = r#"
if command -v ss >/dev/null 2>&1; then echo ss; exec ss -tulpn
elif command -v netstat >/dev/null 2>&1; then echo netstat; exec netstat -tulpn
else echo none; fi
"#;

/// Programs the script may run.
pub const SCRIPT_PROGRAMS: &[&str] = &["ss", "netstat"];

/// `GET /{hostname}/ports`.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let hostname = req.path("hostname")?;
    let timeout: u64 = req.query_as("timeout")?;
    let out = ssh::run_script(hostname, SCRIPT, &[], None, Duration::from_secs(timeout))?;
    let text = out.stdout_str();
    let (tool, rest) = text.split_once('\n').unwrap_or((text.as_ref(), ""));
    if tool == "none" {
        return Err(Error::upstream(
            "neither ss nor netstat is installed on the device",
        ));
    }
    if out.exit_code != 0 {
        return Err(Error::upstream(format!(
            "{tool} exited {}: {}",
            out.exit_code,
            out.stderr_str().trim()
        )));
    }
    let sockets = if tool == "ss" {
        parse_ss(rest)
    } else {
        parse_netstat(rest)
    }
    .map_err(|e| Error::upstream(e.to_string()))?;
    Ok(Json(PortsView {
        hostname: hostname.to_owned(),
        source: tool.to_owned(),
        port_count: sockets.len(),
        ports: sockets,
    })
    .into())
}
