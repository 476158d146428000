//! `docker stats --no-stream --format '{{json .}}'` (one JSON object per container and line)
//! and the default `docker stats --no-stream` table, into docker's strings plus numbers.
//!
//! Docker prints memory with binary units (`2.352MiB / 982.5MiB`, `units.BytesSize`) and
//! network and block I/O with decimal ones (`539kB / 606kB`, `units.HumanSize`);
//! [`parse_docker_size`] reads both. Where docker could not read a value it prints `--`
//! (`-- / --` for pairs): that number is `None`.

use infrastructor_sdk::text::parse_docker_size;
use serde::Serialize;
use serde_json::{Map, Value};

use super::ParseError;
use super::table::parse_table;

const CMD: &str = "docker stats";

/// One container's resource usage, as docker printed it and as numbers.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ContainerStats {
    /// Docker's `Container`: the name or id the container was asked for by (the id when all
    /// containers are listed).
    pub container: String,
    /// Docker's `ID` (12 hex digits).
    pub id: String,
    /// Docker's `Name`.
    pub name: String,
    /// Docker's `CPUPerc` (`0.03%`).
    pub cpu_perc: String,
    /// Docker's `MemUsage` (`2.352MiB / 982.5MiB`; one value on Windows).
    pub mem_usage: String,
    /// Docker's `MemPerc` (`0.24%`).
    pub mem_perc: String,
    /// Docker's `NetIO`: received / sent (`539kB / 606kB`).
    pub net_io: String,
    /// Docker's `BlockIO`: read / written (`0B / 13.3kB`).
    pub block_io: String,
    /// Docker's `PIDs` (`2`).
    pub pids_text: String,
    /// CPU use in percent of one CPU (can exceed 100 on several CPUs).
    pub cpu_percent: Option<f64>,
    /// Memory in use, in bytes.
    pub memory_used_bytes: Option<u64>,
    /// The memory limit (the host's memory when the container has none), in bytes.
    pub memory_limit_bytes: Option<u64>,
    /// Memory in use in percent of the limit.
    pub memory_percent: Option<f64>,
    /// Bytes received over the network.
    pub net_rx_bytes: Option<u64>,
    /// Bytes sent over the network.
    pub net_tx_bytes: Option<u64>,
    /// Bytes read from block devices.
    pub block_read_bytes: Option<u64>,
    /// Bytes written to block devices.
    pub block_write_bytes: Option<u64>,
    /// Number of processes (threads included) in the container.
    pub pids: Option<u64>,
}

/// Docker's strings for one container, before the numbers are read.
#[derive(Default)]
struct Raw {
    container: String,
    id: String,
    name: String,
    cpu_perc: String,
    mem_usage: String,
    mem_perc: String,
    net_io: String,
    block_io: String,
    pids: String,
}

fn no_value(s: &str) -> bool {
    matches!(s.trim(), "" | "--")
}

fn percent(what: &str, s: &str) -> Result<Option<f64>, String> {
    if no_value(s) {
        return Ok(None);
    }
    let number = s.trim().strip_suffix('%').unwrap_or(s.trim());
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && !number.starts_with('+') => Ok(Some(v)),
        _ => Err(format!("{what} `{s}` is not a percentage")),
    }
}

fn size(what: &str, s: &str) -> Result<Option<u64>, String> {
    if no_value(s) {
        return Ok(None);
    }
    parse_docker_size(s)
        .map(Some)
        .ok_or_else(|| format!("{what} `{s}` is not a size"))
}

/// `a / b` → both sizes; a single value (Windows `MemUsage`) → (value, `None`).
fn pair(what: &str, s: &str) -> Result<(Option<u64>, Option<u64>), String> {
    if no_value(s) {
        return Ok((None, None));
    }
    match s.split_once('/') {
        Some((a, b)) => Ok((size(what, a.trim())?, size(what, b.trim())?)),
        None => Ok((size(what, s.trim())?, None)),
    }
}

impl Raw {
    fn into_stats(self) -> Result<ContainerStats, String> {
        let label = [&self.name, &self.container, &self.id]
            .into_iter()
            .find(|s| !s.is_empty())
            .cloned()
            .ok_or("no container ID, Name or Container")?;
        let ctx = |m: String| format!("container {label}: {m}");
        let (memory_used_bytes, memory_limit_bytes) =
            pair("MemUsage", &self.mem_usage).map_err(ctx)?;
        let (net_rx_bytes, net_tx_bytes) = pair("NetIO", &self.net_io).map_err(ctx)?;
        let (block_read_bytes, block_write_bytes) = pair("BlockIO", &self.block_io).map_err(ctx)?;
        let pids = if no_value(&self.pids) {
            None
        } else {
            Some(
                self.pids
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| ctx(format!("PIDs `{}` is not a number", self.pids)))?,
            )
        };
        Ok(ContainerStats {
            cpu_percent: percent("CPUPerc", &self.cpu_perc).map_err(ctx)?,
            memory_percent: percent("MemPerc", &self.mem_perc).map_err(ctx)?,
            memory_used_bytes,
            memory_limit_bytes,
            net_rx_bytes,
            net_tx_bytes,
            block_read_bytes,
            block_write_bytes,
            pids,
            container: if self.container.is_empty() {
                self.id.clone()
            } else {
                self.container
            },
            id: self.id,
            name: self.name,
            cpu_perc: self.cpu_perc,
            mem_usage: self.mem_usage,
            mem_perc: self.mem_perc,
            net_io: self.net_io,
            block_io: self.block_io,
            pids_text: self.pids,
        })
    }
}

fn field(obj: &Map<String, Value>, key: &str) -> String {
    match obj.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Parses `docker stats --no-stream --format '{{json .}}'` (or `--format json`). Blank lines
/// are skipped; no output means no (running) containers. Every other line must be a JSON
/// object with `CPUPerc` and an `ID`, `Name` or `Container`, its values in docker's forms
/// or `--`; anything else is an error naming the line.
pub fn parse_stats(text: &str) -> Result<Vec<ContainerStats>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = |m: String| ParseError::at(CMD, i + 1, m);
        let obj: Map<String, Value> =
            serde_json::from_str(line).map_err(|e| at(format!("not a JSON object: {e}")))?;
        if !obj.contains_key("CPUPerc") {
            return Err(at("no \"CPUPerc\": not docker stats output".into()));
        }
        let raw = Raw {
            container: field(&obj, "Container"),
            id: field(&obj, "ID"),
            name: field(&obj, "Name"),
            cpu_perc: field(&obj, "CPUPerc"),
            mem_usage: field(&obj, "MemUsage"),
            mem_perc: field(&obj, "MemPerc"),
            net_io: field(&obj, "NetIO"),
            block_io: field(&obj, "BlockIO"),
            pids: field(&obj, "PIDs"),
        };
        out.push(raw.into_stats().map_err(at)?);
    }
    Ok(out)
}

/// Parses the default `docker stats --no-stream` table (`CONTAINER ID   NAME   CPU %   MEM
/// USAGE / LIMIT   MEM %   NET I/O   BLOCK I/O   PIDS`; old versions' `CONTAINER` column and
/// Windows' `PRIV WORKING SET` too). Columns are found by their header names; `CPU %` and
/// one of `CONTAINER ID`, `CONTAINER`, `NAME` are required. A header without rows is no
/// containers; an empty output is an error (docker always prints the header).
pub fn parse_stats_table(text: &str) -> Result<Vec<ContainerStats>, ParseError> {
    let table = parse_table(text, CMD)?;
    let col = |names: &[&str]| names.iter().find_map(|n| table.column(n));
    let cpu = col(&["CPU %"]);
    let id = col(&["CONTAINER ID", "ID"]);
    let container = col(&["CONTAINER"]);
    let name = col(&["NAME"]);
    if cpu.is_none() || (id.is_none() && container.is_none() && name.is_none()) {
        return Err(ParseError::new(
            CMD,
            format!(
                "not a docker stats table (columns: {})",
                table.headers.join(", ")
            ),
        ));
    }
    let mem = col(&["MEM USAGE / LIMIT", "PRIV WORKING SET"]);
    let mem_perc = col(&["MEM %"]);
    let net = col(&["NET I/O"]);
    let block = col(&["BLOCK I/O"]);
    let pids = col(&["PIDS"]);
    let mut out = Vec::new();
    for row in &table.rows {
        let cell = |c: Option<usize>| c.map(|c| row.cell(c).to_string()).unwrap_or_default();
        let raw = Raw {
            container: cell(container),
            id: cell(id),
            name: cell(name),
            cpu_perc: cell(cpu),
            mem_usage: cell(mem),
            mem_perc: cell(mem_perc),
            net_io: cell(net),
            block_io: cell(block),
            pids: cell(pids),
        };
        out.push(
            raw.into_stats()
                .map_err(|m| ParseError::at(CMD, row.line, m))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{fixture, fixture_dir};

    #[test]
    fn json_docs_fixture() {
        let s = parse_stats(&fixture(
            "docker/docker-stats_no-stream_format-json_docs.jsonl",
        ))
        .expect("stats");
        assert_eq!(
            s,
            [ContainerStats {
                container: "nginx".into(),
                id: "ed37317fbf42".into(),
                name: "nginx".into(),
                cpu_perc: "0.03%".into(),
                mem_usage: "2.352MiB / 982.5MiB".into(),
                mem_perc: "0.24%".into(),
                net_io: "539kB / 606kB".into(),
                block_io: "0B / 13.3kB".into(),
                pids_text: "2".into(),
                cpu_percent: Some(0.03),
                memory_used_bytes: Some(2_466_251),
                memory_limit_bytes: Some(1_030_225_920),
                memory_percent: Some(0.24),
                net_rx_bytes: Some(539_000),
                net_tx_bytes: Some(606_000),
                block_read_bytes: Some(0),
                block_write_bytes: Some(13_300),
                pids: Some(2),
            }]
        );
        let json = serde_json::to_value(&s[0]).expect("serialise");
        assert_eq!(json["pids"], 2);
        assert_eq!(json["pids_text"], "2");
    }

    #[test]
    fn table_fixtures() {
        let s = parse_stats_table(&fixture("docker/docker-stats_table.txt")).expect("stats");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].id, "3dca544da1ce");
        assert_eq!(s[0].container, "3dca544da1ce");
        assert_eq!(s[0].name, "mjpg-streamer");
        assert_eq!(s[0].mem_usage, "1.75MiB / 31.26GiB");
        assert_eq!(s[0].cpu_percent, Some(0.11));
        assert_eq!(s[0].memory_used_bytes, Some(1_835_008));
        assert_eq!(s[0].memory_limit_bytes, Some(33_565_169_418));
        assert_eq!(s[0].net_rx_bytes, Some(7_120_000));
        assert_eq!(s[0].net_tx_bytes, Some(1_480_000_000));
        assert_eq!(s[0].pids, Some(4));
        assert_eq!(s[1].name, "portainer");
        assert_eq!(s[1].block_write_bytes, Some(25_400_000));
        assert_eq!(s[1].pids, Some(7));

        let s = parse_stats_table(&fixture("docker/docker-stats_table_docs.txt")).expect("docs");
        assert_eq!(s.len(), 4);
        assert_eq!(s[2].name, "test-1951.1.kay7x1lh1twk9c0oig50sd5tr");
        assert_eq!(s[2].memory_used_bytes, Some(196 * 1024));
        assert_eq!(s[0].net_rx_bytes, Some(916));
        assert_eq!(s[0].block_read_bytes, Some(147_000));
        assert_eq!(s[1].net_rx_bytes, Some(2_480));
        assert_eq!(s[3].pids, Some(2));
        assert_eq!(s[3].memory_percent, Some(0.08));
    }

    /// Every `docker stats` fixture, by its extension: JSON lines or a table.
    #[test]
    fn every_stats_fixture() {
        let mut files = 0;
        for f in fixture_dir("docker") {
            if !f.starts_with("docker-stats") {
                continue;
            }
            files += 1;
            let text = fixture(&format!("docker/{f}"));
            let s = if f.ends_with(".jsonl") {
                parse_stats(&text)
            } else {
                parse_stats_table(&text)
            }
            .unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(!s.is_empty(), "{f}");
            for c in &s {
                assert!(
                    c.cpu_percent.is_some() && c.memory_used_bytes.is_some(),
                    "{f}"
                );
                assert!(
                    c.memory_limit_bytes.is_some() && c.net_rx_bytes.is_some(),
                    "{f}"
                );
                assert!(c.block_write_bytes.is_some() && c.pids.is_some(), "{f}");
                assert!(!c.id.is_empty() && !c.name.is_empty(), "{f}");
            }
        }
        assert!(files >= 3);
    }

    #[test]
    fn unknown_values_are_none() {
        let line = r#"{"BlockIO":"--","CPUPerc":"--","Container":"abc","ID":"abc","MemPerc":"--","MemUsage":"-- / --","Name":"--","NetIO":"--","PIDs":"--"}"#;
        let s = parse_stats(line).expect("stats").remove(0);
        assert_eq!(s.cpu_percent, None);
        assert_eq!((s.memory_used_bytes, s.memory_limit_bytes), (None, None));
        assert_eq!((s.net_rx_bytes, s.net_tx_bytes), (None, None));
        assert_eq!((s.block_read_bytes, s.block_write_bytes), (None, None));
        assert_eq!(s.pids, None);
        assert_eq!(s.pids_text, "--");
        // Stopped container listed with -a: zeros, not unknowns.
        let line = r#"{"BlockIO":"0B / 0B","CPUPerc":"0.00%","Container":"x","ID":"x","MemPerc":"0.00%","MemUsage":"0B / 0B","Name":"x","NetIO":"0B / 0B","PIDs":"0"}"#;
        let s = parse_stats(line).expect("stats").remove(0);
        assert_eq!(s.cpu_percent, Some(0.0));
        assert_eq!(s.memory_limit_bytes, Some(0));
        assert_eq!(s.pids, Some(0));
        // Windows: private working set only, no limit; several CPUs above 100 %.
        let line = r#"{"BlockIO":"1.2MB / 3.4MB","CPUPerc":"250.5%","Container":"w","ID":"w","MemPerc":"","MemUsage":"12.5MiB","Name":"w","NetIO":"1kB / 2kB","PIDs":"0"}"#;
        let s = parse_stats(line).expect("stats").remove(0);
        assert_eq!(s.cpu_percent, Some(250.5));
        assert_eq!(s.memory_used_bytes, Some(13_107_200));
        assert_eq!(s.memory_limit_bytes, None);
        assert_eq!(s.memory_percent, None);
    }

    #[test]
    fn errors_name_command_and_line() {
        let err = |t: &str| parse_stats(t).expect_err(t).to_string();
        let ok = r#"{"CPUPerc":"1%","ID":"a","Name":"a"}"#;
        assert_eq!(
            err(&format!("{ok}\n{{\"CPUPerc\":\"x\",\"Name\":\"web\"}}")),
            "docker stats: line 2: container web: CPUPerc `x` is not a percentage"
        );
        assert_eq!(
            err(r#"{"CPUPerc":"1%","Name":"web","MemUsage":"1 potato / 2GiB"}"#),
            "docker stats: line 1: container web: MemUsage `1 potato` is not a size"
        );
        assert_eq!(
            err(r#"{"CPUPerc":"1%","Name":"web","PIDs":"many"}"#),
            "docker stats: line 1: container web: PIDs `many` is not a number"
        );
        assert_eq!(
            err(r#"{"CPUPerc":"-1%","Name":"web"}"#),
            "docker stats: line 1: container web: CPUPerc `-1%` is not a percentage"
        );
        assert_eq!(
            err(r#"{"CPUPerc":"1%"}"#),
            "docker stats: line 1: no container ID, Name or Container"
        );
        assert_eq!(
            err(r#"{"ID":"a"}"#),
            "docker stats: line 1: no \"CPUPerc\": not docker stats output"
        );
        assert!(err("CONTAINER ID   NAME").starts_with("docker stats: line 1: not a JSON object"));
        assert!(err(&fixture("docker/docker-ps_format-json_docs.jsonl")).contains("CPUPerc"));
        for bad in ["NaN%", "inf%", "+1%", "1%%", "%"] {
            let line = format!(r#"{{"CPUPerc":"{bad}","Name":"w"}}"#);
            assert!(parse_stats(&line).is_err(), "{bad}");
        }
        assert_eq!(parse_stats(""), Ok(vec![]));
        assert_eq!(parse_stats("\r\n"), Ok(vec![]));
    }

    #[test]
    fn table_errors() {
        let err = |t: &str| parse_stats_table(t).expect_err(t).to_string();
        assert_eq!(err(""), "docker stats: empty output");
        assert_eq!(
            err(&fixture("docker/docker-network-ls.txt")),
            "docker stats: not a docker stats table (columns: NETWORK ID, NAME, DRIVER, SCOPE)"
        );
        assert_eq!(
            err("NAME   CPU %\nweb    lots"),
            "docker stats: line 2: container web: CPUPerc `lots` is not a percentage"
        );
        assert!(
            err(&fixture(
                "docker/docker-stats_no-stream_format-json_docs.jsonl"
            ))
            .contains("not a table header")
        );
        let header_only = "CONTAINER ID   NAME   CPU %   MEM USAGE / LIMIT   MEM %   NET I/O   BLOCK I/O   PIDS\n";
        assert_eq!(parse_stats_table(header_only), Ok(vec![]));
        // Old layout: a CONTAINER column (name or id as asked), no NAME.
        let old = "CONTAINER           CPU %               MEM USAGE / LIMIT     MEM %               NET I/O             BLOCK I/O           PIDS\nredis1              0.07%               796 KB / 64 MB        1.21%               788 B / 648 B       3.568 MB / 512 KB   2\n";
        let s = parse_stats_table(old).expect("old table");
        assert_eq!(s[0].container, "redis1");
        assert_eq!(s[0].memory_used_bytes, Some(796_000));
        assert_eq!(s[0].block_read_bytes, Some(3_568_000));
    }
}
