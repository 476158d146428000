//! The report (pools, status, datasets, snapshots and ARC from one batched remote run) and
//! the optimisation advice computed from the same data.

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;

use crate::datasets::DATASET_COLUMNS;
use crate::health::{Health, OverallHealth, health_of};
use crate::parse::{arcstats, zfs_list, zpool_list, zpool_status};
use crate::pools::list_columns;
use crate::run::{self, READ_TIMEOUT};
use crate::snapshots::{SNAPSHOT_COLUMNS, SnapshotUsage, usage};
use crate::tools::{self, Tools};

/// Everything the report needs in one run: `$1` `-p` or empty, `$2` the pool columns, `$3`
/// the dataset columns, `$4` the snapshot columns. Each section starts with `#name`.
pub const REPORT: &str = "p=$1; echo '#pools'; zpool list -H $p -o \"$2\"; \
echo '#status'; zpool status -v; \
echo '#datasets'; zfs list -H $p -t filesystem,volume -o \"$3\"; \
echo '#snapshots'; zfs list -H $p -t snapshot -o \"$4\"; \
echo '#arc'; cat /proc/spl/kstat/zfs/arcstats 2>/dev/null; exit 0";

/// The report's data, parsed.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Pools.
    pub pools: Vec<zpool_list::PoolSummary>,
    /// Every pool's status.
    pub status: Vec<zpool_status::PoolStatus>,
    /// Datasets.
    pub datasets: Vec<zfs_list::Dataset>,
    /// Snapshots.
    pub snapshots: Vec<zfs_list::Snapshot>,
    /// ARC statistics, where the kernel has them.
    pub arc: Option<arcstats::ArcStats>,
}

fn section<'a>(text: &'a str, name: &str) -> &'a str {
    let marker = format!("#{name}\n");
    let Some(start) = text.find(&marker).map(|i| i + marker.len()) else {
        return "";
    };
    let rest = &text[start..];
    let end = [
        "\n#pools\n",
        "\n#status\n",
        "\n#datasets\n",
        "\n#snapshots\n",
        "\n#arc\n",
    ]
    .iter()
    .filter_map(|m| rest.find(m).map(|i| i + 1))
    .min()
    .unwrap_or(rest.len());
    &rest[..end]
}

/// Runs the batched script on `host` and parses every section.
pub fn collect(host: &str, tools: Tools) -> Result<Report, Error> {
    let pool_columns = list_columns(tools);
    let flag = if tools.parsable() { "-p" } else { "" };
    let out = run::script(
        host,
        "report",
        &[
            flag,
            &pool_columns.join(","),
            &DATASET_COLUMNS.join(","),
            &SNAPSHOT_COLUMNS.join(","),
        ],
        READ_TIMEOUT,
    )?;
    let text = out.stdout_str();
    let arc_text = section(&text, "arc");
    Ok(Report {
        pools: zpool_list::parse_zpool_list(section(&text, "pools"), pool_columns)
            .map_err(run::unparsable)?,
        status: zpool_status::parse_zpool_status(section(&text, "status"))
            .map_err(run::unparsable)?,
        datasets: zfs_list::parse_zfs_list(section(&text, "datasets"), DATASET_COLUMNS)
            .map_err(run::unparsable)?,
        snapshots: zfs_list::parse_snapshot_list(section(&text, "snapshots"), SNAPSHOT_COLUMNS)
            .map_err(run::unparsable)?,
        arc: if arc_text.trim().is_empty() {
            None
        } else {
            Some(arcstats::parse_arcstats(arc_text).map_err(run::unparsable)?)
        },
    })
}

fn now_secs() -> i64 {
    i64::try_from(infrastructor_sdk::clock::unix_now().as_secs()).unwrap_or(0)
}

/// The counts of a report.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReportSummary {
    /// How many pools there are.
    pub total_pools: usize,
    /// How many filesystems and volumes there are.
    pub total_datasets: usize,
    /// How many snapshots there are.
    pub total_snapshots: usize,
    /// Every pool well, or not.
    pub overall_health: OverallHealth,
}

/// The answer of `GET /{hostname}/report`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReportView {
    /// The device.
    pub hostname: String,
    /// Which ZFS tools the device has (`openzfs-2.2`, or `legacy`).
    pub tools: String,
    /// The counts.
    pub summary: ReportSummary,
    /// The pools, as `zpool list` shows them.
    pub pools: Vec<zpool_list::PoolSummary>,
    /// The filesystems and volumes.
    pub datasets: Vec<zfs_list::Dataset>,
    /// The snapshots.
    pub snapshots: Vec<zfs_list::Snapshot>,
    /// The pools' health.
    pub health_check: Health,
    /// The ARC statistics; `null` where the kernel has none.
    pub arc_statistics: Option<arcstats::ArcStats>,
    /// The snapshot usage analysis.
    pub snapshot_usage: SnapshotUsage,
}

/// The answer of `GET /{hostname}/optimize`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OptimizeView {
    /// The device.
    pub hostname: String,
    /// The ARC statistics; `null` where the kernel has none.
    pub current_arc_stats: Option<arcstats::ArcStats>,
    /// The pools, as `zpool list` shows them.
    pub pool_status: Vec<zpool_list::PoolSummary>,
    /// The advice.
    pub recommendations: Vec<Recommendation>,
    /// How many pieces of advice there are.
    pub total_recommendations: usize,
}

/// `GET /{hostname}/report`.
pub fn report(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let tools = tools::of(host)?;
    let r = collect(host, tools)?;
    let health = health_of(&r.status);
    let snapshot_usage = usage(&r.snapshots, now_secs());
    Ok(Json(ReportView {
        hostname: host.to_owned(),
        tools: tools.label(),
        summary: ReportSummary {
            total_pools: r.pools.len(),
            total_datasets: r.datasets.len(),
            total_snapshots: r.snapshots.len(),
            overall_health: health.overall_health,
        },
        pools: r.pools,
        datasets: r.datasets,
        snapshots: r.snapshots,
        health_check: health,
        arc_statistics: r.arc,
        snapshot_usage,
    })
    .into())
}

/// One piece of advice.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Recommendation {
    /// `performance`, `capacity`, `fragmentation`, `compression`, `atime`, `dedup`,
    /// `snapshots`.
    pub kind: &'static str,
    /// `high`, `medium` or `low`.
    pub priority: &'static str,
    /// What is wrong, and where.
    pub issue: String,
    /// What to do.
    pub recommendation: String,
}

/// Datasets bigger than this with compression off get a recommendation.
const LARGE_DATASET_BYTES: u64 = 1 << 30;

/// The advice the report's data gives.
pub fn recommendations(r: &Report, now: i64) -> Vec<Recommendation> {
    let mut out = Vec::new();
    if let Some(ratio) = r.arc.as_ref().and_then(|a| a.hit_ratio_percent)
        && ratio < 80.0
    {
        out.push(Recommendation {
            kind: "performance",
            priority: "high",
            issue: format!("ARC hit ratio is {ratio:.2} %"),
            recommendation: "add memory or raise zfs_arc_max; check the working set".into(),
        });
    }
    for p in &r.pools {
        if let Some(cap) = p.capacity_percent
            && cap > 80
        {
            out.push(Recommendation {
                kind: "capacity",
                priority: if cap > 90 { "high" } else { "medium" },
                issue: format!("pool {} is {cap} % full", p.name),
                recommendation: "free space or add vdevs: performance drops past 80 %".into(),
            });
        }
        if let Some(frag) = p.fragmentation_percent
            && frag > 50
        {
            out.push(Recommendation {
                kind: "fragmentation",
                priority: if frag > 70 { "high" } else { "medium" },
                issue: format!("pool {} free space is {frag} % fragmented", p.name),
                recommendation: "keep more free space; rewrite (send/receive) hot datasets".into(),
            });
        }
        if let Some(ratio) = p.dedup_ratio
            && ratio < 1.2
            && r.datasets.iter().any(|d| {
                d.name.split('/').next() == Some(p.name.as_str())
                    && d.dedup.as_deref().is_some_and(|v| v != "off")
            })
        {
            out.push(Recommendation {
                kind: "dedup",
                priority: "medium",
                issue: format!("pool {} dedups at only {ratio:.2}x", p.name),
                recommendation: "turn dedup off: its table costs memory for little saving".into(),
            });
        }
    }
    for d in &r.datasets {
        if d.compression.as_deref() == Some("off") && d.used.unwrap_or(0) > LARGE_DATASET_BYTES {
            out.push(Recommendation {
                kind: "compression",
                priority: "medium",
                issue: format!(
                    "dataset {} ({} bytes) is not compressed",
                    d.name,
                    d.used.unwrap_or(0)
                ),
                recommendation: "zfs set compression=lz4 (applies to new writes)".into(),
            });
        }
        if d.properties.get("atime").map(String::as_str) == Some("on")
            && d.kind.as_deref() != Some("volume")
        {
            out.push(Recommendation {
                kind: "atime",
                priority: "low",
                issue: format!("dataset {} updates access times", d.name),
                recommendation: "zfs set atime=off (or relatime=on) to save writes".into(),
            });
        }
    }
    let u = usage(&r.snapshots, now);
    let old = u.old_snapshots;
    if old > 0 {
        out.push(Recommendation {
            kind: "snapshots",
            priority: "low",
            issue: format!("{old} snapshots are older than 90 days"),
            recommendation: "destroy what no retention policy needs".into(),
        });
    }
    out
}

/// `GET /{hostname}/optimize`.
pub fn optimize(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let tools = tools::of(host)?;
    let r = collect(host, tools)?;
    let recs = recommendations(&r, now_secs());
    Ok(Json(OptimizeView {
        hostname: host.to_owned(),
        current_arc_stats: r.arc,
        pool_status: r.pools,
        total_recommendations: recs.len(),
        recommendations: recs,
    })
    .into())
}
