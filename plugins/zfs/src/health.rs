//! Health (every pool's state and errors from one `zpool status`), ARC statistics, and
//! events (`zpool events -v` where it exists, else the kernel journal, else dmesg; the answer
//! says which).

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;

use crate::parse::{arcstats, zpool_status};
use crate::run::{self, READ_TIMEOUT};
use crate::tools;

/// Prints `#source NAME` and then the events: `zpool events -v` when it works, else ZFS
/// lines of the kernel journal of the last 24 h, else of dmesg (at most 2000 lines).
pub const EVENTS: &str = "if out=$(zpool events -v 2>/dev/null) && [ -n \"$out\" ]; then \
echo '#source zpool-events'; printf '%s\\n' \"$out\" | tail -n 2000; \
elif command -v journalctl >/dev/null 2>&1 && j=$(journalctl -k --since=-24h --no-pager -o short-iso 2>/dev/null); then \
echo '#source journal'; printf '%s\\n' \"$j\" | grep -i -E 'zfs|zpool|spl' | tail -n 2000; \
else echo '#source dmesg'; dmesg 2>/dev/null | grep -i -E 'zfs|zpool|spl' | tail -n 2000; fi; exit 0";

/// Reads the ARC statistics; exit 4 when the kernel has none (zfs-fuse).
pub const ARCSTATS: &str =
    "[ -r /proc/spl/kstat/zfs/arcstats ] || exit 4; cat /proc/spl/kstat/zfs/arcstats";

/// Whether a pool reports data errors or a vdev with read, write or checksum errors (a pool
/// whose I/O is suspended can still say ONLINE).
pub fn has_errors(p: &zpool_status::PoolStatus) -> bool {
    p.error_count.is_some_and(|n| n > 0)
        || !p.error_files.is_empty()
        || p.errors
            .as_deref()
            .is_some_and(|e| !e.trim().is_empty() && !e.contains("No known data errors"))
        || p.vdevs().iter().any(|v| {
            [v.read, v.write, v.cksum]
                .iter()
                .any(|c| c.is_some_and(|n| n > 0))
        })
}

/// A pool that is not `ONLINE`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UnhealthyPool {
    /// The pool.
    pub name: String,
    /// Its state (`DEGRADED`, `FAULTED`…).
    pub state: String,
    /// Its `status:` message.
    pub status: Option<String>,
    /// Its `action:` message.
    pub action: Option<String>,
}

/// Whether every pool is well: `healthy`, or `degraded` when a pool is not `ONLINE` or
/// reports errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OverallHealth {
    /// Every pool is `ONLINE` without errors.
    Healthy,
    /// A pool is not `ONLINE`, or reports errors.
    Degraded,
}

/// The health of a device's pools (`GET /{hostname}/health`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Health {
    /// Every pool well, or not.
    pub overall_health: OverallHealth,
    /// The `ONLINE` pools.
    pub healthy_pools: Vec<String>,
    /// The pools that are not `ONLINE`.
    pub pools_with_errors: Vec<UnhealthyPool>,
    /// The pools reporting data errors or vdevs with read, write or checksum errors.
    pub pools_with_data_errors: Vec<String>,
    /// Every pool's structured `zpool status`.
    pub pools: Vec<zpool_status::PoolStatus>,
    /// The device (absent from the report's `health_check`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// The answer of `GET /{hostname}/arc-stats`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ArcStatsView {
    /// The device.
    pub hostname: String,
    /// The ARC statistics.
    pub arc_stats: arcstats::ArcStats,
}

/// The answer of `GET /{hostname}/events`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EventList {
    /// The device.
    pub hostname: String,
    /// Where the events come from: `zpool-events`, `journal` or `dmesg`.
    pub source: String,
    /// How many events there are.
    pub total_events: usize,
    /// The events, newest last.
    pub events: Vec<Event>,
}

/// The health of every pool of one `zpool status`.
pub fn health_of(pools: &[zpool_status::PoolStatus]) -> Health {
    let healthy: Vec<String> = pools
        .iter()
        .filter(|p| p.state == "ONLINE")
        .map(|p| p.name.clone())
        .collect();
    let unhealthy: Vec<UnhealthyPool> = pools
        .iter()
        .filter(|p| p.state != "ONLINE")
        .map(|p| UnhealthyPool {
            name: p.name.clone(),
            state: p.state.clone(),
            status: p.status.clone(),
            action: p.action.clone(),
        })
        .collect();
    let with_errors: Vec<String> = pools
        .iter()
        .filter(|p| has_errors(p))
        .map(|p| p.name.clone())
        .collect();
    Health {
        overall_health: if unhealthy.is_empty() && with_errors.is_empty() {
            OverallHealth::Healthy
        } else {
            OverallHealth::Degraded
        },
        healthy_pools: healthy,
        pools_with_errors: unhealthy,
        pools_with_data_errors: with_errors,
        pools: pools.to_vec(),
        hostname: None,
    }
}

/// `GET /{hostname}/health`.
pub fn health(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let out = run::exec(host, &["zpool", "status", "-v"], READ_TIMEOUT)?;
    let pools = zpool_status::parse_zpool_status(&out.stdout_str()).map_err(run::unparsable)?;
    let mut answer = health_of(&pools);
    answer.hostname = Some(host.to_owned());
    Ok(Json(answer).into())
}

/// `GET /{hostname}/arc-stats`.
pub fn arc(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let out = ssh::run_script(host, "arcstats", &[], None, READ_TIMEOUT)?;
    if out.exit_code == 4 {
        let tools = tools::of(host)?;
        return Err(Error::not_found(format!(
            "`{host}` has no ARC statistics (/proc/spl/kstat/zfs/arcstats; its ZFS is {})",
            tools.label()
        )));
    }
    let stats = arcstats::parse_arcstats(&out.check("reading arcstats")?.stdout_str())
        .map_err(run::unparsable)?;
    Ok(Json(ArcStatsView {
        hostname: host.to_owned(),
        arc_stats: stats,
    })
    .into())
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Event {
    /// When (as the source prints it).
    pub time: String,
    /// `sysevent.fs.zfs.scrub_finish`, or the log line for journal and dmesg.
    pub class: String,
    /// The event's `name = value` fields (`zpool events -v`).
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Parses the events script's output: its source and the events (newest last).
pub fn parse_events(text: &str) -> (String, Vec<Event>) {
    let mut lines = text.lines();
    let source = lines
        .next()
        .and_then(|l| l.strip_prefix("#source "))
        .unwrap_or("unknown")
        .to_owned();
    let mut events: Vec<Event> = Vec::new();
    for line in lines {
        if line.trim().is_empty() || line.starts_with("TIME") {
            continue;
        }
        if source == "zpool-events" {
            if line.starts_with([' ', '\t']) {
                if let (Some(e), Some((k, v))) = (events.last_mut(), line.trim().split_once(" = "))
                {
                    e.fields
                        .insert(k.trim().to_owned(), json!(v.trim().trim_matches('"')));
                }
                continue;
            }
            // `Dec  2 2026 07:44:01.123456789 sysevent.fs.zfs.history_event`
            let words: Vec<&str> = line.split_whitespace().collect();
            if let Some((class, time)) = words.split_last() {
                events.push(Event {
                    time: time.join(" "),
                    class: (*class).to_owned(),
                    fields: serde_json::Map::new(),
                });
            }
        } else {
            // dmesg: `[    1.234567] text`; journal: `2026-12-02T07:44:01+0000 host kernel: text`.
            let (time, rest) = match line.strip_prefix('[').and_then(|l| l.split_once(']')) {
                Some((t, rest)) => (t.trim(), rest),
                None => line.split_once(' ').unwrap_or(("", line)),
            };
            events.push(Event {
                time: time.to_owned(),
                class: rest.trim().to_owned(),
                fields: serde_json::Map::new(),
            });
        }
    }
    (source, events)
}

/// `GET /{hostname}/events`.
pub fn events(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let out = ssh::run_script(host, "events", &[], None, READ_TIMEOUT)?;
    let (source, events) = parse_events(&out.check("reading events")?.stdout_str());
    Ok(Json(EventList {
        hostname: host.to_owned(),
        total_events: events.len(),
        source,
        events,
    })
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_from_each_source() {
        let (source, events) = parse_events(
            "#source zpool-events\nTIME                           CLASS\n\
Dec  2 2026 07:44:01.123456789 sysevent.fs.zfs.scrub_start\n        version = 0x0\n        pool = \"tank\"\n\n\
Dec  2 2026 07:45:01.000000000 sysevent.fs.zfs.scrub_finish\n        pool = \"tank\"\n",
        );
        assert_eq!(source, "zpool-events");
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].class, "sysevent.fs.zfs.scrub_start");
        assert_eq!(events[0].time, "Dec 2 2026 07:44:01.123456789");
        assert_eq!(events[0].fields["pool"], "tank");
        let (source, events) = parse_events("#source dmesg\n[    1.0] ZFS: Loaded module\n");
        assert_eq!(source, "dmesg");
        assert_eq!(events[0].class, "ZFS: Loaded module");
        assert_eq!(events[0].time, "1.0");
        assert_eq!(parse_events("").1.len(), 0);
    }
}
