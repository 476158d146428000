//! Snapshots: list, create, clone, destroy, diff, and usage (by dataset, largest, oldest by
//! their parsed creation time, cleanup recommendations).

use std::collections::BTreeMap;

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names;
use crate::parse::{diff as zfs_diff, zfs_list};
use crate::run::{self, CHANGE_TIMEOUT, READ_TIMEOUT};
use crate::tools::{self, Tools};

/// The columns asked of `zfs list -t snapshot`.
pub const SNAPSHOT_COLUMNS: &[&str] = &["name", "used", "referenced", "creation"];

/// A dataset with more snapshots than this gets a cleanup recommendation.
const MANY_SNAPSHOTS: usize = 50;
/// Snapshots older than this many days are counted as old.
const OLD_DAYS: i64 = 90;

/// Which snapshots.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotsQuery {
    /// Only this dataset's (and its children's); absent = all.
    #[schemars(
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_:][A-Za-z0-9_.:-]*)*$"),
        length(max = 255)
    )]
    pub dataset_name: Option<String>,
}

/// A snapshot to take.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The dataset.
    #[schemars(
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_:][A-Za-z0-9_.:-]*)*$"),
        length(max = 255)
    )]
    pub dataset_name: String,
    /// The snapshot's name (after `@`).
    #[schemars(regex(pattern = r"^[A-Za-z0-9_:][A-Za-z0-9_.:-]{0,254}$"))]
    pub snapshot_name: String,
    /// Snapshot every child dataset too.
    #[serde(default)]
    pub recursive: bool,
}

/// A clone to make.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneRequest {
    /// The new dataset.
    #[schemars(
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_:][A-Za-z0-9_.:-]*)*$"),
        length(max = 255)
    )]
    pub clone_name: String,
}

/// What to destroy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DestroyQuery {
    /// Destroy the same-named snapshots of every child dataset too.
    #[serde(default)]
    pub recursive: bool,
}

/// The snapshot to compare with.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// A later snapshot of the same dataset (full name or the part after `@`), or the
    /// dataset itself for its current state.
    #[schemars(
        regex(
            pattern = r"^([A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_:][A-Za-z0-9_.:-]*)*(@[A-Za-z0-9_:][A-Za-z0-9_.:-]*)?|[A-Za-z0-9_:][A-Za-z0-9_.:-]*)$"
        ),
        length(min = 1, max = 255)
    )]
    pub snapshot2: String,
}

/// The answer of `GET /{hostname}/snapshots`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SnapshotList {
    /// The device.
    pub hostname: String,
    /// The dataset asked for; `null` for all.
    pub dataset_name: Option<String>,
    /// How many snapshots there are.
    pub total_snapshots: usize,
    /// The snapshots.
    pub snapshots: Vec<zfs_list::Snapshot>,
}

/// The answer of `POST /{hostname}/snapshots`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SnapshotCreated {
    /// The dataset.
    pub dataset_name: String,
    /// The snapshot's short name (after `@`).
    pub snapshot_name: String,
    /// `dataset@snapshot`.
    pub full_name: String,
    /// Whether every child dataset was snapshotted too.
    pub recursive: bool,
    /// `created`.
    pub status: String,
}

/// The answer of `POST /{hostname}/snapshots/{snapshot}/clone`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SnapshotCloned {
    /// The snapshot cloned.
    pub source_snapshot: String,
    /// The new dataset.
    pub clone_name: String,
    /// `cloned`.
    pub status: String,
}

/// The answer of `DELETE /{hostname}/snapshots/{snapshot}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SnapshotDestroyed {
    /// The snapshot destroyed.
    pub snapshot: String,
    /// Whether the same-named snapshots of every child dataset went too.
    pub recursive: bool,
    /// `destroyed`.
    pub status: String,
}

/// The answer of `GET /{hostname}/snapshots/{snapshot}/diff`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SnapshotDiff {
    /// The older snapshot.
    pub snapshot1: String,
    /// The later snapshot, or the dataset for its current state.
    pub snapshot2: String,
    /// How many paths changed.
    pub total_changes: usize,
    /// The changes, as `zfs diff` lists them.
    pub changes: Vec<zfs_diff::DiffEntry>,
}

/// The snapshot usage analysis of a device (`GET /{hostname}/snapshots/usage`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct SnapshotUsage {
    /// How many snapshots there are.
    pub total_snapshots: usize,
    /// The bytes used only by snapshots, summed.
    pub total_used_bytes: u64,
    /// The snapshots' full names by dataset.
    pub snapshots_by_dataset: BTreeMap<String, Vec<String>>,
    /// The ten snapshots using the most space, largest first.
    pub largest_snapshots: Vec<zfs_list::Snapshot>,
    /// The ten oldest snapshots (of those with a creation time), oldest first.
    pub oldest_snapshots: Vec<zfs_list::Snapshot>,
    /// How many snapshots are older than 90 days.
    pub old_snapshots: usize,
    /// What to clean up, in words.
    pub cleanup_recommendations: Vec<String>,
    /// The device (set by the handler; absent from [`usage`]'s own result).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// `zfs list -H [-p] -t snapshot -o COLUMNS [-r DATASET]`, parsed.
pub fn list_snapshots(
    host: &str,
    tools: Tools,
    dataset: Option<&str>,
) -> Result<Vec<zfs_list::Snapshot>, Error> {
    let columns = SNAPSHOT_COLUMNS.join(",");
    let mut argv = vec!["zfs", "list", "-H"];
    if tools.parsable() {
        argv.push("-p");
    }
    argv.extend(["-t", "snapshot", "-o", &columns]);
    if let Some(d) = dataset {
        argv.extend(["-r", d]);
    }
    let out = run::exec(host, &argv, READ_TIMEOUT)?;
    zfs_list::parse_snapshot_list(&out.stdout_str(), SNAPSHOT_COLUMNS).map_err(run::unparsable)
}

/// `GET /{hostname}/snapshots`.
pub fn list(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let q: SnapshotsQuery = req.query()?;
    if let Some(d) = &q.dataset_name {
        names::dataset(d)?;
    }
    let tools = tools::of(host)?;
    let snapshots = list_snapshots(host, tools, q.dataset_name.as_deref())?;
    Ok(Json(SnapshotList {
        hostname: host.to_owned(),
        dataset_name: q.dataset_name,
        total_snapshots: snapshots.len(),
        snapshots,
    })
    .into())
}

/// `POST /{hostname}/snapshots`.
pub fn create(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let body: CreateRequest = req.body()?;
    names::dataset(&body.dataset_name)?;
    let full = format!("{}@{}", body.dataset_name, body.snapshot_name);
    names::snapshot(&full)?;
    let mut argv = vec!["zfs", "snapshot"];
    if body.recursive {
        argv.push("-r");
    }
    argv.push(&full);
    run::exec(host, &argv, CHANGE_TIMEOUT)?;
    Ok(Json(SnapshotCreated {
        dataset_name: body.dataset_name,
        snapshot_name: body.snapshot_name,
        full_name: full,
        recursive: body.recursive,
        status: "created".to_owned(),
    })
    .with_status(201))
}

/// `POST /{hostname}/snapshots/{snapshot}/clone`.
pub fn clone(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let snapshot = names::path(req, "snapshot", names::snapshot)?;
    let body: CloneRequest = req.body()?;
    names::dataset(&body.clone_name)?;
    run::exec(
        host,
        &["zfs", "clone", snapshot, &body.clone_name],
        CHANGE_TIMEOUT,
    )?;
    Ok(Json(SnapshotCloned {
        source_snapshot: snapshot.to_owned(),
        clone_name: body.clone_name,
        status: "cloned".to_owned(),
    })
    .with_status(201))
}

/// `DELETE /{hostname}/snapshots/{snapshot}`.
pub fn destroy(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let snapshot = names::path(req, "snapshot", names::snapshot)?;
    let q: DestroyQuery = req.query()?;
    let mut argv = vec!["zfs", "destroy"];
    if q.recursive {
        argv.push("-r");
    }
    argv.push(snapshot);
    run::exec(host, &argv, CHANGE_TIMEOUT)?;
    Ok(Json(SnapshotDestroyed {
        snapshot: snapshot.to_owned(),
        recursive: q.recursive,
        status: "destroyed".to_owned(),
    })
    .into())
}

/// `GET /{hostname}/snapshots/{snapshot}/diff`.
pub fn diff(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let snapshot = names::path(req, "snapshot", names::snapshot)?;
    let q: DiffQuery = req.query()?;
    let dataset = snapshot.split('@').next().unwrap_or(snapshot);
    let other = if q.snapshot2.contains('@') || q.snapshot2.contains('/') || q.snapshot2 == dataset
    {
        q.snapshot2.clone()
    } else {
        format!("{dataset}@{}", q.snapshot2)
    };
    if other.contains('@') {
        names::snapshot(&other)?;
    } else {
        names::dataset(&other)?;
    }
    let tools = tools::of(host)?;
    if !tools.modern() {
        return Err(Error::unavailable(format!(
            "`{host}` has {} ZFS tools without `zfs diff`",
            tools.label()
        )));
    }
    let out = run::exec(
        host,
        &["zfs", "diff", "-FH", snapshot, &other],
        Duration::from_secs(120),
    )?;
    let changes = zfs_diff::parse_diff(&out.stdout_str()).map_err(run::unparsable)?;
    Ok(Json(SnapshotDiff {
        snapshot1: snapshot.to_owned(),
        snapshot2: other,
        total_changes: changes.len(),
        changes,
    })
    .into())
}

/// Seconds since the epoch of an RFC 3339 time (`None` when unparsable).
fn epoch_of(rfc3339: &str) -> Option<i64> {
    let (date, time) = rfc3339.split_once('T')?;
    let mut d = date.split('-');
    let (y, m, day) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let mut t = time.trim_end_matches('Z').split(':');
    let (h, min): (i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    let s: f64 = t.next().unwrap_or("0").parse().ok()?;
    let days = infrastructor_sdk::text::days_from_civil(y, m, day)?;
    Some(days * 86_400 + h * 3600 + min * 60 + s as i64)
}

/// The usage analysis of `snapshots` at `now` (seconds since the epoch).
pub fn usage(snapshots: &[zfs_list::Snapshot], now: i64) -> SnapshotUsage {
    let mut by_dataset: BTreeMap<&str, Vec<&zfs_list::Snapshot>> = BTreeMap::new();
    for s in snapshots {
        by_dataset
            .entry(s.name.split('@').next().unwrap_or(&s.name))
            .or_default()
            .push(s);
    }
    let mut largest: Vec<&zfs_list::Snapshot> = snapshots.iter().collect();
    largest.sort_by_key(|s| std::cmp::Reverse(s.used.unwrap_or(0)));
    let mut oldest: Vec<(&zfs_list::Snapshot, i64)> = snapshots
        .iter()
        .filter_map(|s| s.creation.as_deref().and_then(epoch_of).map(|t| (s, t)))
        .collect();
    oldest.sort_by_key(|(_, t)| *t);
    let old_count = oldest
        .iter()
        .filter(|(_, t)| now - t > OLD_DAYS * 86_400)
        .count();
    let mut recommendations = Vec::new();
    for (dataset, snaps) in &by_dataset {
        if snaps.len() > MANY_SNAPSHOTS {
            recommendations.push(format!(
                "dataset {dataset} has {} snapshots: consider a retention policy",
                snaps.len()
            ));
        }
    }
    if old_count > 0 {
        recommendations.push(format!(
            "{old_count} snapshots are older than {OLD_DAYS} days: consider destroying them"
        ));
    }
    SnapshotUsage {
        total_snapshots: snapshots.len(),
        total_used_bytes: snapshots.iter().filter_map(|s| s.used).sum::<u64>(),
        snapshots_by_dataset: by_dataset
            .iter()
            .map(|(d, s)| (d.to_string(), s.iter().map(|x| x.name.clone()).collect()))
            .collect(),
        largest_snapshots: largest.into_iter().take(10).cloned().collect(),
        oldest_snapshots: oldest.iter().take(10).map(|(s, _)| (*s).clone()).collect(),
        old_snapshots: old_count,
        cleanup_recommendations: recommendations,
        hostname: None,
    }
}

/// `GET /{hostname}/snapshots/usage`.
pub fn usage_handler(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let tools = tools::of(host)?;
    let snapshots = list_snapshots(host, tools, None)?;
    let now = i64::try_from(infrastructor_sdk::clock::unix_now().as_secs()).unwrap_or(0);
    let mut answer = usage(&snapshots, now);
    answer.hostname = Some(host.to_owned());
    Ok(Json(answer).into())
}
