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
use crate::parse::proc_stat::{cpu_usage, parse_proc_stat};
use crate::parse::uptime::parse_uptime;
use crate::sections::Sections;

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
    Ok(json!({
        "collection_method": "ssh_proc",
        "status": "success",
        "system_metrics": {
            "cpu": cpu,
            "cpu_cores": cores,
            "memory": {
                "total": mem.total, "available": mem.available, "used": mem.used,
                "free": mem.free, "percent": mem.percent, "buffers": mem.buffers,
                "cached": mem.cached, "active": mem.active, "inactive": mem.inactive,
                "swap_total": mem.swap_total, "swap_free": mem.swap_free,
                "swap_used": mem.swap_used, "swap_percent": mem.swap_percent,
            },
            "load": {"min1": load.min1, "min5": load.min5, "min15": load.min15, "cpucore": cores},
            "uptime_seconds": uptime.seconds,
            "process_count": load.total_tasks,
        },
        "network_stats": net.iter().map(|n| json!({
            "interface_name": n.interface,
            "rx_bytes": n.rx_bytes, "rx_packets": n.rx_packets,
            "rx_errors": n.rx_errs, "rx_dropped": n.rx_drop,
            "tx_bytes": n.tx_bytes, "tx_packets": n.tx_packets,
            "tx_errors": n.tx_errs, "tx_dropped": n.tx_drop,
        })).collect::<Vec<_>>(),
        "filesystem_usage": df.filesystems.iter().map(filesystem_json).collect::<Vec<_>>(),
    }))
}

/// One `df` row in the Python original's `filesystem_usage` shape (bytes).
pub fn filesystem_json(f: &DfEntry) -> Value {
    json!({
        "device_name": f.filesystem, "mount_point": f.mount_point, "fs_type": f.fs_type,
        "size": f.size_bytes, "used": f.used_bytes, "free": f.available_bytes,
        "percent": f.use_percent,
    })
}

/// `GET /{hostname}/metrics`: live (collector, `live=true` forces a new run) or, with
/// `history=N`, the N newest persisted samples.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let device = require_device(req.path("hostname")?)?;
    if let Some(n) = req.query_opt_as::<u32>("history")? {
        let series = storage::snapshots::<Value>(DATA_TYPE, Some(&device.hostname), n)?;
        return Ok(Json(json!({
            "device_hostname": device.hostname,
            "history": series.iter().map(|s| json!({"collected_at": s.collected_at, "data": s.data})).collect::<Vec<_>>(),
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
    Ok(collected
        .answer(DATA_TYPE, live)
        .field("device_hostname", &device.hostname)
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
