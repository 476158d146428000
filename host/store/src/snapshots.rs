//! Collected-data history (`snapshots` table): one row per collector run that produced data.
//!
//! `device_id` is resolved from `target` (a registered hostname, case-insensitive) by the
//! insert statement itself; targets that are not registered devices ("raw hosts") keep NULL.
//! The link is made at insert time: deleting a device deletes its linked history, raw-host
//! rows are kept until retention removes them.

use chrono::{Duration as ChronoDuration, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::{StoreError, format_ts, json_column, normalize_ts, now_rfc3339, to_i64};

/// A snapshot to record.
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    /// Plugin that owns the collector.
    pub plugin: String,
    /// Kind of data (e.g. `containers`, `zfs-pools`).
    pub data_type: String,
    /// Hostname of a registered device, or a raw host.
    pub target: String,
    /// The collector's cache key (includes the request parameters).
    pub cache_key: String,
    /// Collection time (any RFC 3339 form, stored normalized); `None` = now.
    pub collected_at: Option<String>,
    /// How long collection took.
    pub duration_ms: u64,
    /// The parsed result, as JSON text (valid by construction: it is stored as it is).
    pub data: Box<RawValue>,
}

/// A stored snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Row id (increasing with insertion).
    pub id: i64,
    /// Plugin that owns the collector.
    pub plugin: String,
    /// Kind of data.
    pub data_type: String,
    /// Hostname or raw host.
    pub target: String,
    /// The registered device `target` named at insert time, if any.
    pub device_id: Option<String>,
    /// The collector's cache key.
    pub cache_key: String,
    /// Collection time (RFC 3339 UTC).
    pub collected_at: String,
    /// How long collection took.
    pub duration_ms: u64,
    /// The parsed result.
    pub data: Value,
    /// Size of the serialized `data` in bytes.
    pub size_bytes: u64,
}

const COLUMNS: &str = "id, plugin, data_type, target, device_id, cache_key, collected_at, \
     duration_ms, data, size_bytes";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Snapshot> {
    Ok(Snapshot {
        id: r.get(0)?,
        plugin: r.get(1)?,
        data_type: r.get(2)?,
        target: r.get(3)?,
        device_id: r.get(4)?,
        cache_key: r.get(5)?,
        collected_at: r.get(6)?,
        duration_ms: unsigned(r, 7)?,
        data: json_column(r, 8)?,
        size_bytes: unsigned(r, 9)?,
    })
}

/// Reads a non-negative INTEGER column (enforced by CHECK constraints) as `u64`.
pub(crate) fn unsigned(r: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = r.get(idx)?;
    u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v))
}

/// Records a snapshot and returns its id. `device_id` is looked up from `target` in the same
/// statement; `size_bytes` is the length of the serialized data.
pub fn insert(conn: &Connection, s: &NewSnapshot) -> Result<i64, StoreError> {
    let collected_at = match &s.collected_at {
        Some(t) => normalize_ts(t, "collected_at")?,
        None => now_rfc3339(),
    };
    let data = s.data.get();
    let id = conn
        .prepare_cached(
            "INSERT INTO snapshots (plugin, data_type, target, device_id, cache_key, \
                                    collected_at, duration_ms, data, size_bytes) \
             VALUES (?1, ?2, ?3, (SELECT id FROM devices WHERE hostname = lower(trim(?3))), \
                     ?4, ?5, ?6, ?7, ?8) \
             RETURNING id",
        )?
        .query_row(
            params![
                s.plugin,
                s.data_type,
                s.target,
                s.cache_key,
                collected_at,
                to_i64(s.duration_ms),
                data,
                to_i64(data.len() as u64),
            ],
            |r| r.get(0),
        )?;
    Ok(id)
}

/// The newest `limit` snapshots of `(plugin, data_type)`, of one target or of all, newest first.
pub fn list(
    conn: &Connection,
    plugin: &str,
    data_type: &str,
    target: Option<&str>,
    limit: u32,
) -> Result<Vec<Snapshot>, StoreError> {
    let rows = match target {
        Some(target) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM snapshots \
                 WHERE plugin = ?1 AND data_type = ?2 AND target = ?3 \
                 ORDER BY collected_at DESC, id DESC LIMIT ?4"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            stmt.query_map(params![plugin, data_type, target, limit], from_row)?
                .collect::<Result<Vec<_>, _>>()?
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM snapshots WHERE plugin = ?1 AND data_type = ?2 \
                 ORDER BY collected_at DESC, id DESC LIMIT ?3"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            stmt.query_map(params![plugin, data_type, limit], from_row)?
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    Ok(rows)
}

/// The newest snapshot of every target of `(plugin, data_type)`, one row per target, ordered by
/// target. Ties on `collected_at` go to the later insert.
pub fn latest_per_target(
    conn: &Connection,
    plugin: &str,
    data_type: &str,
) -> Result<Vec<Snapshot>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM ( \
           SELECT *, row_number() OVER ( \
             PARTITION BY target ORDER BY collected_at DESC, id DESC) AS rn \
           FROM snapshots WHERE plugin = ?1 AND data_type = ?2) \
         WHERE rn = 1 ORDER BY target"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![plugin, data_type], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The newest snapshot of one cache key, if any (e.g. to warm the collector's cache).
pub fn latest(
    conn: &Connection,
    plugin: &str,
    data_type: &str,
    target: &str,
    cache_key: &str,
) -> Result<Option<Snapshot>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM snapshots \
         WHERE plugin = ?1 AND data_type = ?2 AND target = ?3 AND cache_key = ?4 \
         ORDER BY collected_at DESC, id DESC LIMIT 1"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![plugin, data_type, target, cache_key], from_row)
        .optional()?)
}

/// Number of snapshots of `(plugin, data_type)`, optionally of one target.
pub fn count(
    conn: &Connection,
    plugin: &str,
    data_type: &str,
    target: Option<&str>,
) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM snapshots \
             WHERE plugin = ?1 AND data_type = ?2 AND (?3 IS NULL OR target = ?3)",
        )?
        .query_row(params![plugin, data_type, target], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Applies retention in two set statements and returns the number of rows deleted:
/// rows collected more than `max_age_secs` ago (0 disables the age rule), then all but the
/// newest `keep_per_key` rows of each `(plugin, data_type, target, cache_key)` (0 disables the
/// count rule).
pub fn prune(conn: &Connection, max_age_secs: u64, keep_per_key: u32) -> Result<usize, StoreError> {
    let mut deleted = 0;
    if max_age_secs > 0 {
        deleted += conn
            .prepare_cached("DELETE FROM snapshots WHERE collected_at < ?1")?
            .execute([cutoff(max_age_secs)])?;
    }
    if keep_per_key > 0 {
        deleted += conn
            .prepare_cached(
                "DELETE FROM snapshots WHERE id IN ( \
                   SELECT id FROM ( \
                     SELECT id, row_number() OVER ( \
                       PARTITION BY plugin, data_type, target, cache_key \
                       ORDER BY collected_at DESC, id DESC) AS rn \
                     FROM snapshots) \
                   WHERE rn > ?1)",
            )?
            .execute([keep_per_key])?;
    }
    Ok(deleted)
}

/// The stored-form timestamp `secs` seconds ago (saturating at the earliest representable time).
pub(crate) fn cutoff(secs: u64) -> String {
    let age = ChronoDuration::try_seconds(to_i64(secs)).unwrap_or(ChronoDuration::MAX);
    let t = Utc::now()
        .checked_sub_signed(age)
        .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
    format_ts(t)
}
