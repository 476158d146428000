//! What a device already uses: listening ports (`ss -tulpn`, `netstat -tulpn` where `ss` is
//! missing) plus ports published by its containers (`docker ps`), and its docker networks
//! (`docker network ls`, then one `docker network inspect` of every id). A command that fails
//! is an error, never an empty success.

use std::collections::{BTreeMap, BTreeSet};

use infrastructor_parsers::{docker_network, docker_ps, ss};
use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Prints which tool answers on its first line (`ss` or `netstat`), then its output.
pub const LISTENERS: &str = "if command -v ss >/dev/null 2>&1; then echo ss; ss -tulpn; \
elif command -v netstat >/dev/null 2>&1; then echo netstat; netstat -tulpn; \
else echo 'neither ss nor netstat is installed' >&2; exit 127; fi";

/// `docker ps` as JSON lines (every container, labels and ports untruncated).
pub const DOCKER_PS: &[&str] = &["docker", "ps", "-a", "--no-trunc", "--format", "{{json .}}"];

/// `POST /scan-ports`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortScanRequest {
    /// A registered device's hostname.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub device: String,
    /// First port of the range to report free ports in.
    #[serde(default = "crate::defaults::port_range_start")]
    #[schemars(range(min = 1, max = 65535))]
    pub port_range_start: u16,
    /// Last port of the range (inclusive).
    #[serde(default = "crate::defaults::port_range_end")]
    #[schemars(range(min = 1, max = 65535))]
    pub port_range_end: u16,
}

/// Ports in use on a device and who uses them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PortUsage {
    /// Every port in use (listeners of any protocol, published container ports).
    pub used: BTreeSet<u16>,
    /// Who holds each port: `ss: nginx (pid 12)`, `container: web`.
    pub owners: BTreeMap<u16, Vec<String>>,
    /// Things the scan could not see (no docker, processes hidden from the SSH user).
    pub warnings: Vec<String>,
}

impl PortUsage {
    fn add(&mut self, port: u16, owner: String) {
        self.used.insert(port);
        let owners = self.owners.entry(port).or_default();
        if !owners.contains(&owner) {
            owners.push(owner);
        }
    }
}

/// Scans `device`'s listeners and its containers' published ports.
pub fn ports(device: &str) -> Result<PortUsage, Error> {
    let mut usage = PortUsage::default();
    let out = ssh::run_script(device, "listeners", &[], None, Duration::from_secs(30))?
        .check("ss -tulpn")?;
    let text = out.stdout_str();
    let (tool, body) = text.split_once('\n').unwrap_or((text.as_ref(), ""));
    let sockets = match tool.trim() {
        "ss" => ss::parse_ss(body),
        _ => ss::parse_netstat(body),
    }
    .map_err(|e| Error::upstream(e.to_string()))?;
    let mut hidden = 0;
    for s in sockets
        .iter()
        .filter(|s| s.state == "LISTEN" || s.protocol == "udp")
    {
        let Some(port) = s.local_port else { continue };
        let owner = match s.processes.first() {
            Some(p) => format!("{} {} (pid {})", s.protocol, p.name, p.pid),
            None => {
                hidden += 1;
                s.protocol.clone()
            }
        };
        usage.add(port, owner);
    }
    if hidden > 0 {
        usage.warnings.push(format!(
            "{hidden} listening sockets show no process (the SSH user cannot see them)"
        ));
    }
    let ps = ssh::exec(device, DOCKER_PS, None, Duration::from_secs(30))?;
    if ps.success() {
        let containers =
            docker_ps::parse_ps(&ps.stdout_str()).map_err(|e| Error::upstream(e.to_string()))?;
        for c in &containers {
            for p in &c.ports {
                let Some(first) = p.host_port else { continue };
                let last = p.host_port_end.unwrap_or(first);
                for port in first..=last {
                    usage.add(port, format!("container {}", c.name));
                }
            }
        }
    } else {
        usage.warnings.push(format!(
            "docker ps failed (exit {}): published container ports are not counted: {}",
            ps.exit_code,
            ps.stderr_str().trim()
        ));
    }
    Ok(usage)
}

/// The answer of `POST /scan-ports`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PortScanResult {
    /// The device.
    pub device: String,
    /// First port of the range.
    pub port_range_start: u16,
    /// Last port of the range.
    pub port_range_end: u16,
    /// Ports in the range.
    pub total_scanned: usize,
    /// Every port in use (listeners of any protocol, published container ports).
    pub used_ports: BTreeSet<u16>,
    /// The free ports of the range.
    pub available_ports: Vec<u16>,
    /// Who holds each port in use.
    pub port_owners: BTreeMap<u16, Vec<String>>,
    /// Things the scan could not see.
    pub warnings: Vec<String>,
    /// How long the scan took.
    pub execution_time_ms: u64,
}

/// The answer of `POST /scan-networks`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NetworkScanResult {
    /// The device.
    pub device: String,
    /// Its docker networks (without `bridge`, `host`, `none` unless asked).
    pub networks: Vec<docker_network::NetworkDetail>,
    /// The containers' names by network.
    pub containers_by_network: BTreeMap<String, Vec<String>>,
    /// The network to add services to: SWAG's, else the user-defined one with the most
    /// containers.
    pub recommended_network: Option<String>,
    /// How long the scan took.
    pub execution_time_ms: u64,
}

/// `POST /scan-ports`.
pub fn ports_handler(req: &Request) -> Result<Response, Error> {
    let body: PortScanRequest = req.body()?;
    if body.port_range_start > body.port_range_end {
        return Err(Error::bad_request(
            "port_range_start must not be greater than port_range_end",
        ));
    }
    crate::device::require(&body.device)?;
    let started = infrastructor_sdk::clock::Stopwatch::start();
    let usage = ports(&body.device)?;
    let range = body.port_range_start..=body.port_range_end;
    let available: Vec<u16> = range.clone().filter(|p| !usage.used.contains(p)).collect();
    Ok(Json(PortScanResult {
        device: body.device,
        port_range_start: body.port_range_start,
        port_range_end: body.port_range_end,
        total_scanned: range.count(),
        used_ports: usage.used,
        available_ports: available,
        port_owners: usage.owners,
        warnings: usage.warnings,
        execution_time_ms: started.elapsed_ms(),
    })
    .into())
}

/// `POST /scan-networks`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkScanRequest {
    /// A registered device's hostname.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub device: String,
    /// Also list `bridge`, `host` and `none`.
    #[serde(default)]
    pub include_system_networks: bool,
}

/// Docker's own networks.
pub const SYSTEM_NETWORKS: &[&str] = &["bridge", "host", "none"];

/// The device's networks (one `ls`, one `inspect` of all ids) and the one to recommend: the
/// network a SWAG container is on, else the user-defined network with the most containers.
pub fn networks(
    device: &str,
) -> Result<(Vec<docker_network::NetworkDetail>, Option<String>), Error> {
    let ls = ssh::exec(
        device,
        &[
            "docker",
            "network",
            "ls",
            "--no-trunc",
            "--format",
            "{{json .}}",
        ],
        None,
        Duration::from_secs(30),
    )?
    .check("docker network ls")?;
    let summaries = docker_network::parse_network_ls(&ls.stdout_str())
        .map_err(|e| Error::upstream(e.to_string()))?;
    if summaries.is_empty() {
        return Ok((Vec::new(), None));
    }
    let mut argv = vec!["docker", "network", "inspect"];
    argv.extend(summaries.iter().map(|n| n.id.as_str()));
    let inspect =
        ssh::exec(device, &argv, None, Duration::from_secs(30))?.check("docker network inspect")?;
    let details = docker_network::parse_network_inspect(&inspect.stdout_str())
        .map_err(|e| Error::upstream(e.to_string()))?;
    let user: Vec<&docker_network::NetworkDetail> = details
        .iter()
        .filter(|n| !SYSTEM_NETWORKS.contains(&n.name.as_str()))
        .collect();
    let recommended = user
        .iter()
        .find(|n| n.containers.iter().any(|c| c.name.contains("swag")))
        .or_else(|| user.iter().max_by_key(|n| n.containers.len()))
        .map(|n| n.name.clone());
    Ok((details, recommended))
}

/// `POST /scan-networks`.
pub fn networks_handler(req: &Request) -> Result<Response, Error> {
    let body: NetworkScanRequest = req.body()?;
    crate::device::require(&body.device)?;
    let started = infrastructor_sdk::clock::Stopwatch::start();
    let (all, recommended) = networks(&body.device)?;
    let shown: Vec<docker_network::NetworkDetail> = all
        .into_iter()
        .filter(|n| body.include_system_networks || !SYSTEM_NETWORKS.contains(&n.name.as_str()))
        .collect();
    let by_network: BTreeMap<String, Vec<String>> = shown
        .iter()
        .map(|n| {
            (
                n.name.clone(),
                n.containers.iter().map(|c| c.name.clone()).collect(),
            )
        })
        .collect();
    Ok(Json(NetworkScanResult {
        device: body.device,
        networks: shown,
        containers_by_network: by_network,
        recommended_network: recommended,
        execution_time_ms: started.elapsed_ms(),
    })
    .into())
}
