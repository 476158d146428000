//! `GET /api/devices/{hostname}/metrics`: CPU, memory, load, uptime, processes, network and
//! filesystems from `/proc` and `df`, in ONE remote round trip (a constant script sampling
//! `/proc/stat` twice for CPU %), through the collector (cached briefly, persisted as the
//! `system_metrics` series the poller also feeds).

use infrastructor_sdk::prelude::*;

use crate::facts::{self, ParseError};
use crate::registry_routes::require_device;

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

/// The collector step.
pub fn step() -> Step {
    Step::script("metrics", SCRIPT, &[]).timeout(Duration::from_secs(30))
}

fn parse_error(e: ParseError) -> Error {
    Error::upstream(e.to_string())
}

/// Parser `system_metrics`: the script's output → the reference's metrics shape.
pub fn parse(outputs: &[StepOutput], _args: &Value) -> Result<Value, Error> {
    let out = StepOutput::find(outputs, "metrics")?;
    out.check()?;
    let text = out.stdout_str();
    let s = facts::sections(&text);
    let section = |name: &str| {
        s.get(name)
            .ok_or_else(|| Error::upstream(format!("metrics script: section `{name}` missing")))
    };
    let (a, cores) = facts::parse_proc_stat(section("stat1")?).map_err(parse_error)?;
    let (b, _) = facts::parse_proc_stat(section("stat2")?).map_err(parse_error)?;
    let cpu = facts::cpu_percent(&a, &b);
    let mem = facts::parse_meminfo(section("meminfo")?).map_err(parse_error)?;
    let get = |k: &str| mem.get(k).copied().unwrap_or(0);
    let total = get("MemTotal");
    let available = mem
        .get("MemAvailable")
        .copied()
        .unwrap_or(get("MemFree") + get("Buffers") + get("Cached"));
    let used = total.saturating_sub(available);
    let (l1, l5, l15, _, tasks) = facts::parse_loadavg(section("loadavg")?).map_err(parse_error)?;
    let uptime = facts::parse_uptime(section("uptime")?).map_err(parse_error)?;
    let net = facts::parse_net_dev(section("netdev")?).map_err(parse_error)?;
    let fs = facts::parse_df(section("df")?).map_err(parse_error)?;
    let pct = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            (part as f64 * 10_000.0 / whole as f64).round() / 100.0
        }
    };
    Ok(json!({
        "collection_method": "ssh_proc",
        "status": "success",
        "system_metrics": {
            "cpu": cpu,
            "cpu_cores": cores,
            "memory": {
                "total": total, "available": available, "used": used, "free": get("MemFree"),
                "percent": pct(used, total), "buffers": get("Buffers"), "cached": get("Cached"),
                "active": get("Active"), "inactive": get("Inactive"),
                "swap_total": get("SwapTotal"), "swap_free": get("SwapFree"),
            },
            "load": {"min1": l1, "min5": l5, "min15": l15, "cpucore": cores},
            "uptime_seconds": uptime,
            "process_count": tasks,
        },
        "network_stats": net,
        "filesystem_usage": fs.iter().map(|f| json!({
            "device_name": f.device_name, "mount_point": f.mount_point, "fs_type": f.fs_type,
            "size": f.size, "used": f.used, "free": f.free, "percent": f.percent,
        })).collect::<Vec<_>>(),
    }))
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
            .step(step())
            .max_age(Duration::from_secs(5))
            .force_refresh(live),
    )?;
    let mut body = collected.data.clone();
    body["device_hostname"] = json!(device.hostname);
    body["timestamp"] = json!(collected.collected_at);
    body["collection_metadata"] = json!({
        "data_type": DATA_TYPE,
        "device": device.hostname,
        "cache_key": collected.cache_key,
        "collected_at": collected.collected_at,
        "collection_duration_ms": collected.duration.as_millis() as u64,
        "cache_hit": collected.cache_hit,
        "force_refresh": live,
    });
    Ok(Json(body).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../../../shared/fixtures/system/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
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
            fixture("proc/jc_stat2"),
        );
        let v = parse(&[StepOutput::new("metrics", 0, stdout)], &Value::Null).expect("parse");
        let m = &v["system_metrics"];
        assert!(m["memory"]["total"].as_u64().expect("total") > 0);
        assert!(m["cpu"]["idle"].as_f64().is_some());
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
