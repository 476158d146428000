//! `docker ps -a --no-trunc --format '{{json .}}'`: one JSON object per container and line,
//! every value a string as the CLI's formatter prints it. Docker's fields are kept (in
//! snake_case) next to parsed ones: the state (derived from `Status` on old dockers that
//! print no `State`), the exit code, the creation time as RFC 3339, the ports as a list, the
//! labels as an object and the compose project/service.
//!
//! The grammars of `Status`, `Ports`, `Labels` and `Size` are public ([`parse_status`],
//! [`parse_ports`], [`parse_labels`], [`parse_size`]) because the same texts appear in the
//! `docker ps` table.

use std::collections::BTreeMap;

use infrastructor_sdk::text::{ParseError, parse_docker_size};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::docker_time::rfc3339_from_go_time;

const CMD: &str = "docker ps";

/// The compose project label.
pub const COMPOSE_PROJECT_LABEL: &str = "com.docker.compose.project";
/// The compose service label.
pub const COMPOSE_SERVICE_LABEL: &str = "com.docker.compose.service";

/// A port range longer than this (in ports) is kept as one [`PortMapping`] with
/// `*_port_end` set instead of one mapping per port.
pub const MAX_EXPANDED_RANGE: u32 = 1024;

/// A container's lifecycle state, as docker's `State` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    /// Created, never started.
    Created,
    /// Running (also when unhealthy).
    Running,
    /// Running but frozen (`docker pause`).
    Paused,
    /// Being restarted by its restart policy.
    Restarting,
    /// Being removed.
    Removing,
    /// Stopped.
    Exited,
    /// Defunct: partially removed, e.g. because a resource was busy.
    Dead,
    /// Docker printed something this parser does not know.
    Unknown,
}

impl ContainerState {
    /// Docker's `State` value (`running`, `exited`…; case-insensitive). `None` for anything
    /// else.
    pub fn from_docker(state: &str) -> Option<Self> {
        Some(match state.trim().to_ascii_lowercase().as_str() {
            "created" => Self::Created,
            "running" => Self::Running,
            "paused" => Self::Paused,
            "restarting" => Self::Restarting,
            "removing" => Self::Removing,
            "exited" => Self::Exited,
            "dead" => Self::Dead,
            _ => return None,
        })
    }

    /// The state's name as docker prints it (`running`), `unknown` for [`Self::Unknown`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Restarting => "restarting",
            Self::Removing => "removing",
            Self::Exited => "exited",
            Self::Dead => "dead",
            Self::Unknown => "unknown",
        }
    }
}

/// What docker's human `Status` text (`Up 3 hours (healthy)`, `Exited (137) 5 seconds ago`)
/// says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusInfo {
    /// The state the text describes; [`ContainerState::Unknown`] when it is not one of
    /// docker's forms.
    pub state: ContainerState,
    /// The exit code of `Exited (N) …` and `Restarting (N) …`.
    pub exit_code: Option<i32>,
    /// The health of `Up … (healthy)`, `(unhealthy)`, `(health: starting)`: `healthy`,
    /// `unhealthy` or `starting`.
    pub health: Option<String>,
}

/// One published or exposed port (or, for a range longer than [`MAX_EXPANDED_RANGE`], a
/// range of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PortMapping {
    /// The host address the port is published on (`0.0.0.0`, `::`, `127.0.0.1`), without
    /// brackets; `None` for a port that is exposed but not published.
    pub host_ip: Option<String>,
    /// The host port; `None` when not published.
    pub host_port: Option<u16>,
    /// The last host port of an unexpanded range.
    pub host_port_end: Option<u16>,
    /// The container port.
    pub container_port: u16,
    /// The last container port of an unexpanded range.
    pub container_port_end: Option<u16>,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

/// One container of `docker ps`.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ContainerSummary {
    /// Docker's `ID` (64 hex digits with `--no-trunc`, else 12).
    pub id: String,
    /// The container's name: the first of `Names`.
    pub name: String,
    /// Docker's `Names`: the name, then (with `--no-trunc`) link aliases, comma-separated.
    pub names: String,
    /// Docker's `Image`, as the container was created from (`nginx`, `it4lik/meow-api:arm`,
    /// or an image id).
    pub image: String,
    /// Docker's `Command`, unquoted (docker prints it as a Go-quoted string; kept as printed
    /// when it cannot be unquoted). Truncated with `…` without `--no-trunc`.
    pub command: String,
    /// Docker's `CreatedAt` (`2024-01-01 12:00:00 +0000 UTC`).
    pub created_at: String,
    /// `CreatedAt` as RFC 3339 in UTC (`2024-01-01T12:00:00Z`).
    pub created: Option<String>,
    /// Docker's `RunningFor` (`4 seconds ago`).
    pub running_for: String,
    /// Docker's `Status` (`Up 3 seconds`, `Exited (0) 2 weeks ago`).
    pub status: String,
    /// The state: from `State`, or derived from `Status` where docker printed no `State`.
    pub state: ContainerState,
    /// Docker's `State` as printed, `None` when absent (docker before 1.13 or so).
    pub state_text: Option<String>,
    /// The exit code from `Status` (`Exited (137) …`, `Restarting (1) …`).
    pub exit_code: Option<i32>,
    /// The health from `Status`: `healthy`, `unhealthy` or `starting`.
    pub health: Option<String>,
    /// Docker's `Ports` (`0.0.0.0:8080->80/tcp, 443/tcp`).
    pub ports_text: String,
    /// `Ports` parsed, ranges expanded (see [`parse_ports`]).
    pub ports: Vec<PortMapping>,
    /// Docker's `Labels` (`key=value` pairs joined with `,`).
    pub labels_text: String,
    /// `Labels` parsed (see [`parse_labels`]).
    pub labels: BTreeMap<String, String>,
    /// The `com.docker.compose.project` label.
    pub compose_project: Option<String>,
    /// The `com.docker.compose.service` label.
    pub compose_service: Option<String>,
    /// Docker's `Networks`: network names, comma-separated.
    pub networks: String,
    /// Docker's `Mounts`: volume names or host paths, comma-separated.
    pub mounts: String,
    /// Docker's `Size` (`0B (virtual 187MB)`). Docker only measures it with `--size`;
    /// without it, it prints `0B` or nothing.
    pub size: String,
    /// The writable layer's size from `Size`, in bytes.
    pub size_bytes: Option<u64>,
    /// The `virtual` (image plus writable layer) size from `Size`, in bytes.
    pub virtual_size_bytes: Option<u64>,
    /// Docker's `LocalVolumes`: the number of local volumes mounted.
    pub local_volumes: String,
}

/// Parses `docker ps --format '{{json .}}'` (with or without `-a`, `--no-trunc`, `--size`).
/// Blank lines are skipped; no output means no containers. Every other line must be a JSON
/// object with at least `ID` and `Names`, and its `Status`, `Ports`, `CreatedAt` and `Size`
/// must be in docker's forms; anything else is an error naming the line.
pub fn parse_ps(text: &str) -> Result<Vec<ContainerSummary>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        out.push(parse_ps_line(line).map_err(|m| ParseError::at(CMD, i + 1, m))?);
    }
    Ok(out)
}

/// A field as text: strings as they are, numbers and booleans printed, null or missing
/// empty.
fn field(obj: &Map<String, Value>, key: &str) -> String {
    match obj.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn parse_ps_line(line: &str) -> Result<ContainerSummary, String> {
    let obj: Map<String, Value> =
        serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let id = field(&obj, "ID");
    if id.is_empty() {
        return Err("no \"ID\"".into());
    }
    let names = field(&obj, "Names");
    let name = names
        .split(',')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    if name.is_empty() {
        return Err(format!("container {id}: no \"Names\""));
    }
    let status = field(&obj, "Status");
    let info = parse_status(&status);
    let state_text = obj.get("State").map(|_| field(&obj, "State"));
    let state = state_text
        .as_deref()
        .and_then(ContainerState::from_docker)
        .unwrap_or(info.state);
    let created_at = field(&obj, "CreatedAt");
    let created = match created_at.trim() {
        "" => None,
        t => Some(rfc3339_from_go_time(t).ok_or_else(|| {
            format!("container {name}: CreatedAt `{t}` is not a date like `2024-01-01 12:00:00 +0000 UTC`")
        })?),
    };
    let ports_text = field(&obj, "Ports");
    let ports = parse_ports(&ports_text).map_err(|m| format!("container {name}: Ports: {m}"))?;
    let labels_text = field(&obj, "Labels");
    let labels = parse_labels(&labels_text);
    let size = field(&obj, "Size");
    let (size_bytes, virtual_size_bytes) =
        parse_size(&size).map_err(|m| format!("container {name}: Size: {m}"))?;
    let raw_command = field(&obj, "Command");
    Ok(ContainerSummary {
        command: unquote_go(&raw_command).unwrap_or(raw_command),
        compose_project: labels.get(COMPOSE_PROJECT_LABEL).cloned(),
        compose_service: labels.get(COMPOSE_SERVICE_LABEL).cloned(),
        image: field(&obj, "Image"),
        running_for: field(&obj, "RunningFor"),
        networks: field(&obj, "Networks"),
        mounts: field(&obj, "Mounts"),
        local_volumes: field(&obj, "LocalVolumes"),
        exit_code: info.exit_code,
        health: info.health,
        id,
        name,
        names,
        created_at,
        created,
        status,
        state,
        state_text,
        ports_text,
        ports,
        labels_text,
        labels,
        size,
        size_bytes,
        virtual_size_bytes,
    })
}

/// Undoes Go's `strconv.Quote` where its escapes are JSON's (all but `\a`, `\v`, `\x..`,
/// `\U........`, which leave the text as printed).
fn unquote_go(text: &str) -> Option<String> {
    if text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
        serde_json::from_str(text).ok()
    } else {
        None
    }
}

/// Reads docker's human `Status` of a container (case-insensitive, so compose's lower-case
/// copies work too): `Up …` → running (`Up … (Paused)` → paused; `(healthy)`,
/// `(unhealthy)`, `(health: starting)` → health), `Exited (N) …` → exited with code N,
/// `Restarting (N) …` → restarting, `Created` → created, `Removal In Progress` → removing,
/// `Dead` → dead; anything else (including empty) → unknown.
pub fn parse_status(status: &str) -> StatusInfo {
    let s = status.trim();
    let lower = s.to_ascii_lowercase();
    let word = lower.split_whitespace().next().unwrap_or_default();
    let mut info = StatusInfo {
        state: ContainerState::Unknown,
        exit_code: None,
        health: None,
    };
    match word {
        "up" => {
            info.state = ContainerState::Running;
            if let Some(group) = last_paren_group(&lower) {
                match group {
                    "paused" => info.state = ContainerState::Paused,
                    "healthy" | "unhealthy" => info.health = Some(group.to_string()),
                    g => {
                        if let Some(h) = g.strip_prefix("health:") {
                            info.health = Some(h.trim().to_string());
                        }
                    }
                }
            }
        }
        "exited" | "restarting" => {
            info.state = if word == "exited" {
                ContainerState::Exited
            } else {
                ContainerState::Restarting
            };
            info.exit_code = lower[word.len()..]
                .trim_start()
                .strip_prefix('(')
                .and_then(|r| r.split_once(')'))
                .and_then(|(n, _)| n.trim().parse().ok());
        }
        "created" if lower == "created" => info.state = ContainerState::Created,
        "dead" if lower == "dead" => info.state = ContainerState::Dead,
        "removal" if lower.starts_with("removal in progress") => {
            info.state = ContainerState::Removing;
        }
        _ => {}
    }
    info
}

/// The text inside the last `( … )` at the end of `s`.
fn last_paren_group(s: &str) -> Option<&str> {
    let inner = s.strip_suffix(')')?;
    let open = inner.rfind('(')?;
    Some(inner[open + 1..].trim())
}

/// A port or `first-last` range.
fn port_range(text: &str) -> Result<(u16, u16), String> {
    let port = |p: &str| -> Result<u16, String> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("`{p}` is not a port"));
        }
        p.parse().map_err(|_| format!("port {p} is out of range"))
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            if a > b {
                return Err(format!("range `{text}` is reversed"));
            }
            Ok((a, b))
        }
        None => {
            let p = port(text)?;
            Ok((p, p))
        }
    }
}

/// Parses docker's `Ports` column: entries joined with `, `, each one of
///
/// * `80/tcp`, `80-82/tcp`: exposed, not published (host fields `None`);
/// * `0.0.0.0:8080->80/tcp`, `127.0.0.1:5000->5000/tcp`: published on an IPv4 address;
/// * `:::8080->80/tcp` (docker's grouped form) or `[::]:8080->80/tcp` (`net.JoinHostPort`
///   form): published on an IPv6 address;
/// * `0.0.0.0:1000-1002->1000-1002/udp`: a published range (host and container ranges of
///   the same length).
///
/// Ranges of at most [`MAX_EXPANDED_RANGE`] ports are expanded into one mapping per port;
/// longer ones are kept as one mapping with `host_port_end`/`container_port_end`. Empty
/// text is no ports.
pub fn parse_ports(text: &str) -> Result<Vec<PortMapping>, String> {
    let mut out = Vec::new();
    if text.trim().is_empty() {
        return Ok(out);
    }
    for entry in text.split(',').map(str::trim) {
        let (left, protocol) = entry
            .rsplit_once('/')
            .ok_or_else(|| format!("`{entry}` has no /protocol"))?;
        if protocol.is_empty() || !protocol.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(format!("`{entry}`: bad protocol `{protocol}`"));
        }
        let (host, container) = match left.split_once("->") {
            Some((host, container)) => (Some(host), container),
            None => (None, left),
        };
        let (c_first, c_last) = port_range(container).map_err(|m| format!("`{entry}`: {m}"))?;
        let host = match host {
            None => None,
            Some(host) => {
                let (ip, ports) = match host.strip_prefix('[') {
                    Some(rest) => {
                        let (ip, after) = rest
                            .split_once(']')
                            .ok_or_else(|| format!("`{entry}`: unclosed `[`"))?;
                        let ports = after
                            .strip_prefix(':')
                            .ok_or_else(|| format!("`{entry}`: no host port"))?;
                        (ip, ports)
                    }
                    None => host
                        .rsplit_once(':')
                        .ok_or_else(|| format!("`{entry}`: no host port"))?,
                };
                let (address, scope) = ip.split_once('%').unwrap_or((ip, "x"));
                if address.is_empty()
                    || !address
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':'))
                    || scope.is_empty()
                    || !scope
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                {
                    return Err(format!("`{entry}`: bad host address `{ip}`"));
                }
                let (h_first, h_last) = port_range(ports).map_err(|m| format!("`{entry}`: {m}"))?;
                if h_last - h_first != c_last - c_first {
                    return Err(format!(
                        "`{entry}`: host and container ranges differ in length"
                    ));
                }
                Some((ip.to_string(), h_first, h_last))
            }
        };
        let count = u32::from(c_last - c_first) + 1;
        let protocol = protocol.to_string();
        if count > MAX_EXPANDED_RANGE {
            out.push(PortMapping {
                host_ip: host.as_ref().map(|h| h.0.clone()),
                host_port: host.as_ref().map(|h| h.1),
                host_port_end: host.as_ref().map(|h| h.2),
                container_port: c_first,
                container_port_end: Some(c_last),
                protocol,
            });
            continue;
        }
        for offset in 0..=(c_last - c_first) {
            out.push(PortMapping {
                host_ip: host.as_ref().map(|h| h.0.clone()),
                host_port: host.as_ref().map(|h| h.1 + offset),
                host_port_end: None,
                container_port: c_first + offset,
                container_port_end: None,
                protocol: protocol.clone(),
            });
        }
    }
    Ok(out)
}

/// Parses docker's `Labels` column: `key=value` pairs joined with `,`. Docker does not
/// escape commas inside values, so a segment without `=` continues the previous value
/// (`a=x,y` is `{a: "x,y"}`); a first segment without `=` is a key with an empty value.
/// Later duplicates win. Empty text is no labels.
pub fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut last: Option<String> = None;
    if text.is_empty() {
        return out;
    }
    for segment in text.split(',') {
        match (segment.split_once('='), &last) {
            (Some((key, value)), _) => {
                out.insert(key.to_string(), value.to_string());
                last = Some(key.to_string());
            }
            (None, Some(key)) => {
                if let Some(value) = out.get_mut(key) {
                    value.push(',');
                    value.push_str(segment);
                }
            }
            (None, None) => {
                out.insert(segment.to_string(), String::new());
                last = Some(segment.to_string());
            }
        }
    }
    out
}

/// Parses docker's `Size` column: `35.6kB`, `0B (virtual 187MB)` (also old versions'
/// `35.58 kB (virtual 109.2 MB)`) → (writable layer bytes, virtual bytes). Empty text is
/// (`None`, `None`).
pub fn parse_size(text: &str) -> Result<(Option<u64>, Option<u64>), String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok((None, None));
    }
    let size = |s: &str| parse_docker_size(s).ok_or_else(|| format!("`{s}` is not a size"));
    match text.split_once('(') {
        Some((rw, rest)) => {
            let virt = rest
                .strip_suffix(')')
                .and_then(|r| r.trim().strip_prefix("virtual"))
                .ok_or_else(|| format!("`{text}` is not `SIZE (virtual SIZE)`"))?;
            Ok((Some(size(rw)?), Some(size(virt)?)))
        }
        None => Ok((Some(size(text)?), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::parse_table;
    use infrastructor_sdk::testing::{fixture, fixture_dir};

    fn published(ip: &str, host: u16, container: u16, protocol: &str) -> PortMapping {
        PortMapping {
            host_ip: Some(ip.into()),
            host_port: Some(host),
            host_port_end: None,
            container_port: container,
            container_port_end: None,
            protocol: protocol.into(),
        }
    }

    fn exposed(container: u16, protocol: &str) -> PortMapping {
        PortMapping {
            host_ip: None,
            host_port: None,
            host_port_end: None,
            container_port: container,
            container_port_end: None,
            protocol: protocol.into(),
        }
    }

    #[test]
    fn json_docs_fixture() {
        let cs = parse_ps(&fixture("docker/docker-ps_format-json_docs.jsonl")).expect("ps");
        assert_eq!(cs.len(), 1);
        let c = &cs[0];
        assert_eq!(c.id, "a762a2b37a1d");
        assert_eq!(c.name, "boring_keldysh");
        assert_eq!(c.names, "boring_keldysh");
        assert_eq!(c.image, "nginx");
        assert_eq!(c.command, "/docker-entrypoint.…");
        assert_eq!(c.created_at, "2021-03-10 00:15:05 +0100 CET");
        assert_eq!(c.created.as_deref(), Some("2021-03-09T23:15:05Z"));
        assert_eq!(c.running_for, "4 seconds ago");
        assert_eq!(c.status, "Up 3 seconds");
        assert_eq!(c.state, ContainerState::Running);
        assert_eq!(c.state_text.as_deref(), Some("running"));
        assert_eq!(c.exit_code, None);
        assert_eq!(c.health, None);
        assert_eq!(c.ports_text, "80/tcp");
        assert_eq!(c.ports, [exposed(80, "tcp")]);
        assert_eq!(
            c.labels_text,
            "maintainer=NGINX Docker Maintainers <docker-maint@nginx.com>"
        );
        assert_eq!(c.labels.len(), 1);
        assert_eq!(
            c.labels["maintainer"],
            "NGINX Docker Maintainers <docker-maint@nginx.com>"
        );
        assert_eq!(c.compose_project, None);
        assert_eq!(c.networks, "bridge");
        assert_eq!(c.mounts, "");
        assert_eq!(c.size, "0B");
        assert_eq!((c.size_bytes, c.virtual_size_bytes), (Some(0), None));
        assert_eq!(c.local_volumes, "0");
        let json = serde_json::to_value(c).expect("serialise");
        assert_eq!(json["state"], "running");
        assert_eq!(json["ports"][0]["host_port"], Value::Null);
        assert_eq!(
            json["labels"]["maintainer"].as_str().map(str::len),
            Some(49)
        );
    }

    /// Every `docker ps` JSON fixture parses to at least one container with a known state;
    /// every `docker ps` table fixture's STATUS, PORTS and SIZE cells are in the forms the
    /// parsers know.
    #[test]
    fn every_ps_fixture() {
        let mut json_files = 0;
        let mut table_rows = 0;
        for f in fixture_dir("docker") {
            if !f.starts_with("docker-ps") {
                continue;
            }
            let text = fixture(&format!("docker/{f}"));
            if f.ends_with(".jsonl") || f.ends_with(".json") {
                json_files += 1;
                let cs = parse_ps(&text).unwrap_or_else(|e| panic!("{f}: {e}"));
                assert!(!cs.is_empty(), "{f}");
                for c in cs {
                    assert_ne!(c.state, ContainerState::Unknown, "{f}: {}", c.status);
                    assert!(c.created.is_some(), "{f}");
                }
                continue;
            }
            let t = parse_table(&text, CMD).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(!t.rows.is_empty(), "{f}");
            let status = t.column("STATUS").expect("STATUS column");
            let ports = t.column("PORTS").expect("PORTS column");
            for row in &t.rows {
                table_rows += 1;
                let info = parse_status(row.cell(status));
                assert_ne!(info.state, ContainerState::Unknown, "{f}: {row:?}");
                parse_ports(row.cell(ports)).unwrap_or_else(|e| panic!("{f}: {e}"));
                if let Some(size) = t.column("SIZE") {
                    let (rw, virt) = parse_size(row.cell(size)).expect("size");
                    assert!(rw.is_some() && virt.is_some(), "{f}: {row:?}");
                }
            }
        }
        assert!(json_files >= 1);
        assert!(table_rows >= 13, "{table_rows}");
    }

    #[test]
    fn table_fixture_statuses() {
        let col = |file: &str, name: &str| -> Vec<String> {
            let t = parse_table(&fixture(&format!("docker/{file}")), CMD).expect("table");
            let i = t.column(name).expect("column");
            t.rows.iter().map(|r| r.cell(i).to_string()).collect()
        };
        let exited137: Vec<StatusInfo> = col("docker-ps-a_exited137_docs.txt", "STATUS")
            .iter()
            .map(|s| parse_status(s))
            .collect();
        assert!(exited137.iter().all(|i| i.state == ContainerState::Exited));
        assert!(exited137.iter().all(|i| i.exit_code == Some(137)));
        let exited0 = col("docker-ps-a_exited0_docs.txt", "STATUS");
        assert!(exited0.iter().all(|s| parse_status(s).exit_code == Some(0)));
        assert_eq!(
            parse_ports(&col("docker-ps-a_exited0_docs.txt", "PORTS")[0]),
            Ok(vec![published("127.0.0.1", 5000, 5000, "tcp")])
        );
        let single = col("docker-ps_single.txt", "PORTS");
        assert_eq!(
            parse_ports(&single[0]),
            Ok(vec![published("0.0.0.0", 8000, 8000, "tcp")])
        );
        let sizes: Vec<_> = col("docker-ps_size_docs.txt", "SIZE")
            .iter()
            .map(|s| parse_size(s))
            .collect();
        assert_eq!(
            sizes,
            [
                Ok((Some(35_580), Some(109_200_000))),
                Ok((Some(0), Some(209_500_000)))
            ]
        );
    }

    #[test]
    fn golden_ports_fixture() {
        let t = parse_table(&fixture("docker/docker-ps_golden_ports.txt"), CMD).expect("table");
        let ports = t.column("PORTS").expect("PORTS");
        let names = t.column("NAMES").expect("NAMES");
        let by_name: BTreeMap<&str, Vec<PortMapping>> = t
            .rows
            .iter()
            .map(|r| (r.cell(names), parse_ports(r.cell(ports)).expect("ports")))
            .collect();
        assert_eq!(by_name.len(), 5);
        assert!(by_name["c1"].is_empty());
        assert!(by_name["c2"].is_empty());
        assert_eq!(
            by_name["c3"],
            [exposed(80, "tcp"), exposed(81, "tcp"), exposed(82, "tcp")]
        );
        assert_eq!(by_name["c4"], [exposed(81, "udp")]);
        assert_eq!(by_name["c5"], [published("8.8.8.8", 82, 82, "tcp")]);
    }

    #[test]
    fn every_port_form() {
        let p = |s: &str| parse_ports(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(p(""), []);
        assert_eq!(p("  "), []);
        assert_eq!(
            p("0.0.0.0:8080->80/tcp"),
            [published("0.0.0.0", 8080, 80, "tcp")]
        );
        assert_eq!(p(":::8080->80/tcp"), [published("::", 8080, 80, "tcp")]);
        assert_eq!(p("[::]:8080->80/tcp"), [published("::", 8080, 80, "tcp")]);
        assert_eq!(
            p("[fe80::1%eth0]:53->53/udp"),
            [published("fe80::1%eth0", 53, 53, "udp")]
        );
        assert_eq!(
            p("::1:9000->9000/tcp"),
            [published("::1", 9000, 9000, "tcp")]
        );
        assert_eq!(p("80/tcp"), [exposed(80, "tcp")]);
        assert_eq!(p("5000/sctp"), [exposed(5000, "sctp")]);
        assert_eq!(
            p("0.0.0.0:1000-1002->1000-1002/udp"),
            [
                published("0.0.0.0", 1000, 1000, "udp"),
                published("0.0.0.0", 1001, 1001, "udp"),
                published("0.0.0.0", 1002, 1002, "udp"),
            ]
        );
        assert_eq!(
            p(":::2000-2001->3000-3001/tcp"),
            [
                published("::", 2000, 3000, "tcp"),
                published("::", 2001, 3001, "tcp"),
            ]
        );
        // What docker prints for a container published on both stacks, plus an exposed port.
        assert_eq!(
            p(
                "0.0.0.0:443->443/tcp, :::443->443/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 9000/tcp"
            ),
            [
                published("0.0.0.0", 443, 443, "tcp"),
                published("::", 443, 443, "tcp"),
                published("0.0.0.0", 8080, 80, "tcp"),
                published("::", 8080, 80, "tcp"),
                exposed(9000, "tcp"),
            ]
        );
        // Exactly MAX_EXPANDED_RANGE ports are expanded; one more is kept as a range.
        assert_eq!(p("10000-11023/udp").len(), 1024);
        assert_eq!(p("0.0.0.0:10000-11023->10000-11023/tcp").len(), 1024);
        assert_eq!(
            p("0.0.0.0:10000-11024->20000-21024/tcp"),
            [PortMapping {
                host_ip: Some("0.0.0.0".into()),
                host_port: Some(10000),
                host_port_end: Some(11024),
                container_port: 20000,
                container_port_end: Some(21024),
                protocol: "tcp".into(),
            }]
        );
        assert_eq!(
            p("1-65535/tcp"),
            [PortMapping {
                host_ip: None,
                host_port: None,
                host_port_end: None,
                container_port: 1,
                container_port_end: Some(65535),
                protocol: "tcp".into(),
            }]
        );
        assert_eq!(p("65535/tcp"), [exposed(65535, "tcp")]);
    }

    #[test]
    fn bad_ports_are_errors() {
        for bad in [
            "80",
            "80/",
            "80/TCP",
            "x/tcp",
            "65536/tcp",
            "82-80/tcp",
            "-80/tcp",
            "80-/tcp",
            "0.0.0.0:->80/tcp",
            "8080->80/tcp",
            ":8080->80/tcp",
            "[::]8080->80/tcp",
            "[:::8080->80/tcp",
            "host.example:8080->80/tcp",
            "[fe80::1%]:53->53/udp",
            "[fe80::1%a b]:53->53/udp",
            "0.0.0.0:1000-1002->1000/tcp",
            "0.0.0.0:1000->1000-1002/tcp",
            "80/tcp,",
            "80/tcp, , 81/tcp",
        ] {
            assert!(parse_ports(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn state_from_status() {
        let s = |text: &str| {
            let i = parse_status(text);
            (i.state, i.exit_code, i.health)
        };
        use ContainerState::*;
        assert_eq!(s("Up 3 seconds"), (Running, None, None));
        assert_eq!(s("Up Less than a second"), (Running, None, None));
        assert_eq!(s("Up 2 hours (Paused)"), (Paused, None, None));
        assert_eq!(
            s("Up 2 hours (healthy)"),
            (Running, None, Some("healthy".into()))
        );
        assert_eq!(
            s("Up 5 minutes (unhealthy)"),
            (Running, None, Some("unhealthy".into()))
        );
        assert_eq!(
            s("Up 4 seconds (health: starting)"),
            (Running, None, Some("starting".into()))
        );
        assert_eq!(s("Exited (0) 2 weeks ago"), (Exited, Some(0), None));
        assert_eq!(s("Exited (137) 5 seconds ago"), (Exited, Some(137), None));
        assert_eq!(s("exited (0)"), (Exited, Some(0), None));
        assert_eq!(s("Exited (x) ago"), (Exited, None, None));
        assert_eq!(
            s("Restarting (1) 3 seconds ago"),
            (Restarting, Some(1), None)
        );
        assert_eq!(s("Created"), (Created, None, None));
        assert_eq!(s("Removal In Progress"), (Removing, None, None));
        assert_eq!(s("Dead"), (Dead, None, None));
        assert_eq!(s(""), (Unknown, None, None));
        assert_eq!(s("Created yesterday"), (Unknown, None, None));
        assert_eq!(s("Upgrading"), (Unknown, None, None));
        assert_eq!(s("Something else"), (Unknown, None, None));
    }

    #[test]
    fn state_derived_when_docker_prints_none() {
        let line = |status: &str| {
            format!(r#"{{"ID":"abc","Names":"web","Status":"{status}","Ports":"","CreatedAt":""}}"#)
        };
        let cases = [
            ("Up 3 hours", ContainerState::Running, None),
            ("Up 3 hours (Paused)", ContainerState::Paused, None),
            ("Exited (2) 1 minute ago", ContainerState::Exited, Some(2)),
            ("Created", ContainerState::Created, None),
            (
                "Restarting (1) 1 second ago",
                ContainerState::Restarting,
                Some(1),
            ),
            ("Removal In Progress", ContainerState::Removing, None),
            ("Dead", ContainerState::Dead, None),
            ("???", ContainerState::Unknown, None),
        ];
        for (status, state, code) in cases {
            let c = parse_ps(&line(status)).expect("ps").remove(0);
            assert_eq!((c.state, c.exit_code), (state, code), "{status}");
            assert_eq!(c.state_text, None);
            assert_eq!(c.created, None);
        }
        // Docker's State wins over Status; an unknown State falls back to Status.
        let c = parse_ps(r#"{"ID":"a","Names":"b","State":"paused","Status":"Up 1 hour"}"#)
            .expect("ps");
        assert_eq!(c[0].state, ContainerState::Paused);
        let c = parse_ps(r#"{"ID":"a","Names":"b","State":"frozen","Status":"Up 1 hour"}"#)
            .expect("ps");
        assert_eq!(c[0].state, ContainerState::Running);
        assert_eq!(c[0].state_text.as_deref(), Some("frozen"));
    }

    #[test]
    fn full_line_with_compose_labels() {
        let line = r#"{"Command":"\"docker-entrypoint.sh postgres -c 'max_connections=200'\"","CreatedAt":"2024-05-01 08:00:00 -0400 EDT","ID":"4f2b1c0d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c","Image":"postgres:16","Labels":"com.docker.compose.project=paperless,com.docker.compose.service=db,com.docker.compose.config-hash=ab12,desc=a, b and c,empty=","LocalVolumes":"1","Mounts":"pgdata","Names":"paperless-db-1,paperless-web-1/db","Networks":"paperless_default,other","Ports":"5432/tcp","RunningFor":"2 days ago","Size":"63B (virtual 432MB)","State":"running","Status":"Up 2 days (healthy)"}"#;
        let c = parse_ps(&format!("\r\n{line}\r\n\n"))
            .expect("ps")
            .remove(0);
        assert_eq!(c.name, "paperless-db-1");
        assert_eq!(c.names, "paperless-db-1,paperless-web-1/db");
        assert_eq!(
            c.command,
            "docker-entrypoint.sh postgres -c 'max_connections=200'"
        );
        assert_eq!(c.created.as_deref(), Some("2024-05-01T12:00:00Z"));
        assert_eq!(c.compose_project.as_deref(), Some("paperless"));
        assert_eq!(c.compose_service.as_deref(), Some("db"));
        assert_eq!(c.labels["desc"], "a, b and c");
        assert_eq!(c.labels["empty"], "");
        assert_eq!(c.labels.len(), 5);
        assert_eq!(c.health.as_deref(), Some("healthy"));
        assert_eq!(
            (c.size_bytes, c.virtual_size_bytes),
            (Some(63), Some(432_000_000))
        );
        assert_eq!(c.ports, [exposed(5432, "tcp")]);
    }

    #[test]
    fn labels() {
        assert!(parse_labels("").is_empty());
        let l = parse_labels("a=1,b=x,y,z,c==d,e=");
        assert_eq!(l["a"], "1");
        assert_eq!(l["b"], "x,y,z");
        assert_eq!(l["c"], "=d");
        assert_eq!(l["e"], "");
        let l = parse_labels("orphan,k=v");
        assert_eq!(l["orphan"], "");
        assert_eq!(l["k"], "v");
        assert_eq!(parse_labels("a=1,a=2")["a"], "2");
        assert_eq!(parse_labels("a=x,")["a"], "x,");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size(""), Ok((None, None)));
        assert_eq!(parse_size("0B"), Ok((Some(0), None)));
        assert_eq!(parse_size("1.5kB"), Ok((Some(1500), None)));
        assert_eq!(
            parse_size("2B (virtual 1.2GB)"),
            Ok((Some(2), Some(1_200_000_000)))
        );
        for bad in [
            "N/A",
            "2B (virtual)",
            "2B (1GB)",
            "2B (virtual 1GB",
            "x (virtual 1GB)",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_command_and_line() {
        let err = |t: &str| parse_ps(t).expect_err(t).to_string();
        assert_eq!(
            err("{\"ID\":\"a\",\"Names\":\"b\"}\nnot json"),
            "docker ps: line 2: not a JSON object: expected ident at line 1 column 2"
        );
        assert!(err("[1]").starts_with("docker ps: line 1: not a JSON object"));
        assert_eq!(err("{}"), "docker ps: line 1: no \"ID\"");
        assert_eq!(
            err(r#"{"ID":"abc"}"#),
            "docker ps: line 1: container abc: no \"Names\""
        );
        assert_eq!(
            err(r#"{"ID":"a","Names":"web","Ports":"80"}"#),
            "docker ps: line 1: container web: Ports: `80` has no /protocol"
        );
        assert_eq!(
            err(r#"{"ID":"a","Names":"web","CreatedAt":"yesterday"}"#),
            "docker ps: line 1: container web: CreatedAt `yesterday` is not a date like `2024-01-01 12:00:00 +0000 UTC`"
        );
        assert_eq!(
            err(r#"{"ID":"a","Names":"web","Size":"big"}"#),
            "docker ps: line 1: container web: Size: `big` is not a size"
        );
        // Truncated output: the cut line is an error, not a shorter list.
        let full = fixture("docker/docker-ps_format-json_docs.jsonl");
        let half = (0..=full.len() / 2)
            .rev()
            .find(|i| full.is_char_boundary(*i))
            .unwrap_or(0);
        assert!(parse_ps(&full[..half]).is_err());
        // Other commands' JSON lines are not taken for containers.
        for f in [
            "docker-compose-ps_format-json_docs.jsonl",
            "docker-network-ls_format-json_docs.jsonl",
            "docker-stats_no-stream_format-json_docs.jsonl",
        ] {
            assert!(parse_ps(&fixture(&format!("docker/{f}"))).is_err(), "{f}");
        }
        // A table (docker ps without --format) is not JSON.
        assert!(parse_ps(&fixture("docker/docker-ps_single.txt")).is_err());
        // No output is no containers.
        assert_eq!(parse_ps(""), Ok(vec![]));
        assert_eq!(parse_ps("\n \n"), Ok(vec![]));
    }

    #[test]
    fn numbers_and_nulls_in_fields() {
        let c = parse_ps(r#"{"ID":"a","Names":"b","LocalVolumes":2,"Mounts":null}"#)
            .expect("ps")
            .remove(0);
        assert_eq!(c.local_volumes, "2");
        assert_eq!(c.mounts, "");
        assert_eq!(c.state, ContainerState::Unknown);
        assert_eq!(c.state.as_str(), "unknown");
    }
}
