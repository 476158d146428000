//! `GET /api/devices/{hostname}/metrics`: CPU, memory, load, uptime, processes, network and
//! filesystems from `/proc` and `df`, in ONE remote round trip (a constant script sampling
//! `/proc/stat` twice for CPU %), through the collector (cached briefly, persisted as the
//! `system_metrics` series the poller also feeds).

use infrastructor_sdk::prelude::*;

use crate::device::require_device;
use crate::parse::ParseError;
use crate::parse::df::{DfEntry, parse_df};
use crate::parse::loadavg::parse_loadavg;
use crate::parse::meminfo::parse_meminfo;
use crate::parse::net_dev::parse_net_dev;
use crate::parse::proc_stat::{CpuUsage, cpu_usage, parse_proc_stat};
use crate::parse::uptime::parse_uptime;
use crate::sections::Sections;
use serde::Serialize;

/// The data type of metric snapshots.
pub const DATA_TYPE: &str = "system_metrics";

/// The script's name in the manifest.
pub const SCRIPT: &str = "metrics";

/// Gathers everything in one round trip; sections are separated by `@@infra:NAME@@` lines.
pub const SCRIPT_BODY: &str = r#"
echo '@@infra:stat1@@'; cat /proc/stat
echo '@@infra:meminfo@@'; cat /proc/meminfo
echo '@@infra:loadavg@@'; cat /proc/loadavg
echo '@@infra:uptime@@'; cat /proc/uptime
echo '@@infra:netdev@@'; cat /proc/net/dev
echo '@@infra:df@@'; df -P -B1 -x tmpfs -x devtmpfs -x squashfs -x overlay 2>/dev/null
echo '@@infra:stat2@@'; sleep 0.25; cat /proc/stat
"#;

/// Programs the script runs (checked against the grant).
pub const SCRIPT_PROGRAMS: &[&str] = &["cat", "df", "sleep"];

/// The step timeout of the periodic collector (routes take theirs from `timeout`).
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// The collector step.
pub fn step(timeout: Duration) -> Step {
    Step::script("metrics", SCRIPT, &[]).timeout(timeout)
}

/// Memory and swap, in bytes.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MemoryUsage {
    /// `MemTotal`.
    pub total: u64,
    /// `MemAvailable` (estimated on old kernels).
    pub available: u64,
    /// total − available.
    pub used: u64,
    /// `MemFree`.
    pub free: u64,
    /// used / total in percent.
    pub percent: f64,
    /// `Buffers`.
    pub buffers: u64,
    /// `Cached`.
    pub cached: u64,
    /// `Active`.
    pub active: u64,
    /// `Inactive`.
    pub inactive: u64,
    /// `SwapTotal`.
    pub swap_total: u64,
    /// `SwapFree`.
    pub swap_free: u64,
    /// swap_total − swap_free.
    pub swap_used: u64,
    /// swap_used / swap_total in percent.
    pub swap_percent: f64,
}

/// The load averages.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Load {
    /// Over 1 minute.
    pub min1: f64,
    /// Over 5 minutes.
    pub min5: f64,
    /// Over 15 minutes.
    pub min15: f64,
    /// CPU cores (to read the averages against).
    pub cpucore: usize,
}

/// CPU, memory, load, uptime and processes.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SystemMetrics {
    /// CPU use between two samples 0.25 s apart; `null` when no CPU time elapsed.
    pub cpu: Option<CpuUsage>,
    /// CPU cores.
    pub cpu_cores: usize,
    /// Memory and swap.
    pub memory: MemoryUsage,
    /// Load averages.
    pub load: Load,
    /// Seconds since boot.
    pub uptime_seconds: f64,
    /// Processes and threads (`/proc/loadavg`).
    pub process_count: u64,
}

/// One network interface's counters since boot.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NetworkStats {
    /// The interface.
    pub interface_name: String,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Packets dropped on send.
    pub tx_dropped: u64,
}

/// One mounted filesystem's usage, in bytes.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FilesystemUsage {
    /// The device (`/dev/sda1`).
    pub device_name: String,
    /// Where it is mounted.
    pub mount_point: String,
    /// Its type, when `df` printed it.
    pub fs_type: Option<String>,
    /// Size.
    pub size: u64,
    /// Used.
    pub used: u64,
    /// Available.
    pub free: u64,
    /// Use in percent, as `df` rounds it.
    pub percent: Option<u8>,
}

/// Parser `system_metrics`'s output: a device's metrics (the Python original's shape).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Metrics {
    /// `ssh_proc`.
    pub collection_method: String,
    /// `success`.
    pub status: String,
    /// CPU, memory, load, uptime and processes.
    pub system_metrics: SystemMetrics,
    /// Every network interface's counters.
    pub network_stats: Vec<NetworkStats>,
    /// Every mounted filesystem's usage.
    pub filesystem_usage: Vec<FilesystemUsage>,
}

/// A live collection of a device's metrics.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LiveMetrics {
    /// The metrics.
    #[serde(flatten)]
    #[schemars(with = "Metrics")]
    pub metrics: serde_json::Map<String, Value>,
    /// RFC 3339 time they were collected.
    pub timestamp: String,
    /// How they were collected.
    pub collection_metadata: CollectionMetadata,
    /// The device.
    pub device_hostname: String,
}

/// One persisted sample.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MetricsSample {
    /// RFC 3339 time it was collected.
    pub collected_at: String,
    /// The metrics.
    #[schemars(with = "Metrics")]
    pub data: Value,
}

/// The newest persisted samples of a device (`history=N`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct MetricsHistory {
    /// The device.
    pub device_hostname: String,
    /// The samples, newest first.
    pub history: Vec<MetricsSample>,
}

/// The answer of `GET /{hostname}/metrics`: live metrics, or with `history` the samples.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum MetricsAnswer {
    /// Without `history`.
    Live(LiveMetrics),
    /// With `history=N`.
    History(MetricsHistory),
}

fn upstream(e: ParseError) -> Error {
    Error::upstream(e.to_string())
}

/// Parser `system_metrics`: the script's output → the metrics shape of the Python original.
pub fn parse(outputs: &[StepOutput], _args: &Value) -> Result<Value, Error> {
    let out = StepOutput::find(outputs, "metrics")?;
    out.check()?;
    let text = out.stdout_str();
    let s = Sections::parse(&text);
    let section = |name: &str| s.require(SCRIPT, name);
    let before = parse_proc_stat(section("stat1")?).map_err(upstream)?;
    let after = parse_proc_stat(section("stat2")?).map_err(upstream)?;
    let cores = after.cpus.len().max(1);
    let cpu = cpu_usage(&before.total, &after.total);
    let mem = parse_meminfo(section("meminfo")?).map_err(upstream)?;
    let load = parse_loadavg(section("loadavg")?).map_err(upstream)?;
    let uptime = parse_uptime(section("uptime")?).map_err(upstream)?;
    let net = parse_net_dev(section("netdev")?).map_err(upstream)?;
    let df = parse_df(section("df")?).map_err(upstream)?;
    let metrics = Metrics {
        collection_method: "ssh_proc".to_owned(),
        status: "success".to_owned(),
        system_metrics: SystemMetrics {
            cpu,
            cpu_cores: cores,
            memory: MemoryUsage {
                total: mem.total,
                available: mem.available,
                used: mem.used,
                free: mem.free,
                percent: mem.percent,
                buffers: mem.buffers,
                cached: mem.cached,
                active: mem.active,
                inactive: mem.inactive,
                swap_total: mem.swap_total,
                swap_free: mem.swap_free,
                swap_used: mem.swap_used,
                swap_percent: mem.swap_percent,
            },
            load: Load {
                min1: load.min1,
                min5: load.min5,
                min15: load.min15,
                cpucore: cores,
            },
            uptime_seconds: uptime.seconds,
            process_count: load.total_tasks,
        },
        network_stats: net
            .iter()
            .map(|n| NetworkStats {
                interface_name: n.interface.clone(),
                rx_bytes: n.rx_bytes,
                rx_packets: n.rx_packets,
                rx_errors: n.rx_errs,
                rx_dropped: n.rx_drop,
                tx_bytes: n.tx_bytes,
                tx_packets: n.tx_packets,
                tx_errors: n.tx_errs,
                tx_dropped: n.tx_drop,
            })
            .collect(),
        filesystem_usage: df.filesystems.iter().map(filesystem_usage).collect(),
    };
    serde_json::to_value(metrics).map_err(|e| Error::internal(e.to_string()))
}

/// One `df` row in the Python original's `filesystem_usage` shape (bytes).
pub fn filesystem_usage(f: &DfEntry) -> FilesystemUsage {
    FilesystemUsage {
        device_name: f.filesystem.clone(),
        mount_point: f.mount_point.clone(),
        fs_type: f.fs_type.clone(),
        size: f.size_bytes,
        used: f.used_bytes,
        free: f.available_bytes,
        percent: f.use_percent,
    }
}

/// `GET /{hostname}/metrics`: live (collector, `live=true` forces a new run) or, with
/// `history=N`, the N newest persisted samples.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let device = require_device(req.path("hostname")?)?;
    if let Some(n) = req.query_opt_as::<u32>("history")? {
        let series = storage::snapshots::<Value>(DATA_TYPE, Some(&device.hostname), n)?;
        return Ok(Json(MetricsAnswer::History(MetricsHistory {
            device_hostname: device.hostname,
            history: series
                .into_iter()
                .map(|s| MetricsSample {
                    collected_at: s.collected_at,
                    data: s.data,
                })
                .collect(),
        }))
        .into());
    }
    let live = req.query_bool("live")?;
    let collected = collector::collect(
        CollectRequest::new(DATA_TYPE, &device.hostname, DATA_TYPE)
            .step(step(req.timeout(STEP_TIMEOUT)?))
            .max_age(Duration::from_secs(5))
            .force_refresh(live),
    )?;
    let collection_metadata = collected.metadata(DATA_TYPE, live);
    let metrics = match collected.data {
        Value::Object(map) => map,
        other => {
            return Err(Error::internal(format!(
                "the metrics parser answered a non-object: {other}"
            )));
        }
    };
    Ok(Json(MetricsAnswer::Live(LiveMetrics {
        metrics,
        timestamp: collected.collected_at,
        collection_metadata,
        device_hostname: device.hostname,
    }))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        crate::parse::fixture(&format!("system/{name}"))
    }

    /// The same `/proc/stat` a little later: 100 more user and 300 more idle ticks per CPU.
    fn advanced(stat: &str) -> String {
        stat.lines()
            .map(|l| {
                let mut w: Vec<String> = l.split_whitespace().map(str::to_string).collect();
                if w.first().is_some_and(|k| k.starts_with("cpu")) {
                    for (i, add) in [(1, 100u64), (4, 300)] {
                        let v: u64 = w[i].parse().expect("counter");
                        w[i] = (v + add).to_string();
                    }
                }
                w.join(" ") + "\n"
            })
            .collect()
    }

    #[test]
    fn parses_a_script_run_built_from_fixtures() {
        let net = "Inter-| Receive | Transmit\n face |bytes packets|bytes\n  eth0: 100 2 0 0 0 0 0 0 50 1 0 0 0 0 0 0\n";
        let df = "Filesystem 1B-blocks Used Available Capacity Mounted on\n/dev/sda2 1000 300 700 30% /\n";
        let stdout = format!(
            "@@infra:stat1@@\n{}@@infra:meminfo@@\n{}@@infra:loadavg@@\n{}@@infra:uptime@@\n{}@@infra:netdev@@\n{net}@@infra:df@@\n{df}@@infra:stat2@@\n{}",
            fixture("proc/jc_stat"),
            fixture("proc/jc_meminfo"),
            fixture("proc/jc_loadavg"),
            fixture("proc/jc_uptime"),
            advanced(&fixture("proc/jc_stat")),
        );
        let v = parse(&[StepOutput::new("metrics", 0, stdout)], &Value::Null).expect("parse");
        let m = &v["system_metrics"];
        assert!(m["memory"]["total"].as_u64().expect("total") > 0);
        assert_eq!(m["cpu"]["idle"], 75.0, "300 of 400 ticks idle: {m}");
        assert_eq!(m["cpu"]["user"], 25.0);
        assert_eq!(m["cpu_cores"], 2);
        assert_eq!(v["filesystem_usage"][0]["mount_point"], "/");
        assert_eq!(v["network_stats"][0]["interface_name"], "eth0");
        let missing = parse(
            &[StepOutput::new("metrics", 0, "@@infra:stat1@@\n")],
            &Value::Null,
        );
        assert!(
            missing.is_err(),
            "a missing section is an error, not an empty success"
        );
    }
}
