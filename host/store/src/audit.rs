//! Collection audit: one `collection_audit` row per remote run and per failure, with who
//! asked; cache hits are counted by the caller and written as aggregates
//! (`collection_hits`: one row per plugin, data type, target and requester per flush window,
//! [`insert_hits`]), so a flood of cached reads writes a few rows a minute, not one each.
//! `device_id` is resolved from `target` like [`crate::snapshots::insert`], so a device's
//! audit rows go with it on delete.

use std::fmt;

use rusqlite::types::{
    FromSql, FromSqlError, FromSqlResult, ToSqlOutput, Value as SqlValue, ValueRef,
};
use rusqlite::{Connection, Row, ToSql, params, params_from_iter};
use serde::{Deserialize, Serialize};

use crate::snapshots::{cutoff, unsigned};
use crate::{StoreError, normalize_ts, now_rfc3339, sql_limit, to_i64, truncate_utf8};

/// Longest stored `error` text, in bytes; longer messages are cut at a character boundary.
pub const MAX_ERROR_LEN: usize = 4096;

/// Outcome of a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditStatus {
    /// Data was returned (fresh or from cache).
    Ok,
    /// The collection failed.
    Error,
}

impl AuditStatus {
    /// The stored name: `ok` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditStatus::Ok => "ok",
            AuditStatus::Error => "error",
        }
    }
}

impl fmt::Display for AuditStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for AuditStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for AuditStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value.as_str()? {
            "ok" => Ok(AuditStatus::Ok),
            "error" => Ok(AuditStatus::Error),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

/// An audit record to write.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Plugin that owns the collector.
    pub plugin: String,
    /// Kind of data.
    pub data_type: String,
    /// Hostname or raw host.
    pub target: String,
    /// The collector's cache key.
    pub cache_key: String,
    /// When the request started (any RFC 3339 form, stored normalized); `None` = now.
    pub started_at: Option<String>,
    /// How long the request took.
    pub duration_ms: u64,
    /// Served from the cache.
    pub cache_hit: bool,
    /// The caller asked to bypass the cache.
    pub force_refresh: bool,
    /// Outcome.
    pub status: AuditStatus,
    /// Error message for `status == Error` (user-facing text, truncated to [`MAX_ERROR_LEN`]).
    pub error: Option<String>,
    /// Size of the result in bytes (0 on error).
    pub size_bytes: u64,
    /// API key name, or `poller` for background collection.
    pub requester: Option<String>,
}

/// A stored audit row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRow {
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
    /// When the request started (RFC 3339 UTC).
    pub started_at: String,
    /// How long the request took.
    pub duration_ms: u64,
    /// Served from the cache.
    pub cache_hit: bool,
    /// The caller asked to bypass the cache.
    pub force_refresh: bool,
    /// Outcome.
    pub status: AuditStatus,
    /// Error message, when failed.
    pub error: Option<String>,
    /// Size of the result in bytes.
    pub size_bytes: u64,
    /// API key name or `poller`.
    pub requester: Option<String>,
}

/// Filters for [`list`] and [`count`]; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    /// Exact plugin name.
    pub plugin: Option<String>,
    /// Exact data type.
    pub data_type: Option<String>,
    /// Exact target.
    pub target: Option<String>,
    /// Maximum rows returned by [`list`] (`None` = all); ignored by [`count`].
    pub limit: Option<u32>,
}

const COLUMNS: &str = "id, plugin, data_type, target, device_id, cache_key, started_at, \
     duration_ms, cache_hit, force_refresh, status, error, size_bytes, requester";

fn from_row(r: &Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        id: r.get(0)?,
        plugin: r.get(1)?,
        data_type: r.get(2)?,
        target: r.get(3)?,
        device_id: r.get(4)?,
        cache_key: r.get(5)?,
        started_at: r.get(6)?,
        duration_ms: unsigned(r, 7)?,
        cache_hit: r.get(8)?,
        force_refresh: r.get(9)?,
        status: r.get(10)?,
        error: r.get(11)?,
        size_bytes: unsigned(r, 12)?,
        requester: r.get(13)?,
    })
}

/// Writes an audit row and returns its id.
pub fn insert(conn: &Connection, e: &AuditEntry) -> Result<i64, StoreError> {
    let started_at = match &e.started_at {
        Some(t) => normalize_ts(t, "started_at")?,
        None => now_rfc3339(),
    };
    let id = conn
        .prepare_cached(
            "INSERT INTO collection_audit (plugin, data_type, target, device_id, cache_key, \
                 started_at, duration_ms, cache_hit, force_refresh, status, error, size_bytes, \
                 requester) \
             VALUES (?1, ?2, ?3, (SELECT id FROM devices WHERE hostname = lower(trim(?3))), \
                     ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
             RETURNING id",
        )?
        .query_row(
            params![
                e.plugin,
                e.data_type,
                e.target,
                e.cache_key,
                started_at,
                to_i64(e.duration_ms),
                e.cache_hit,
                e.force_refresh,
                e.status,
                e.error.as_deref().map(|m| truncate_utf8(m, MAX_ERROR_LEN)),
                to_i64(e.size_bytes),
                e.requester,
            ],
            |r| r.get(0),
        )?;
    Ok(id)
}

fn where_clause(f: &AuditFilter) -> (String, Vec<SqlValue>) {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    for (column, value) in [
        ("plugin = ?", &f.plugin),
        ("data_type = ?", &f.data_type),
        ("target = ?", &f.target),
    ] {
        if let Some(v) = value {
            clauses.push(column);
            args.push(SqlValue::Text(v.clone()));
        }
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (sql, args)
}

/// Matching audit rows, newest first, at most `filter.limit`.
pub fn list(conn: &Connection, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
    let (where_sql, mut args) = where_clause(filter);
    args.push(SqlValue::Integer(sql_limit(filter.limit)));
    let sql = format!(
        "SELECT {COLUMNS} FROM collection_audit{where_sql} \
         ORDER BY started_at DESC, id DESC LIMIT ?"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Number of matching audit rows (`filter.limit` is ignored).
pub fn count(conn: &Connection, filter: &AuditFilter) -> Result<u64, StoreError> {
    let (where_sql, args) = where_clause(filter);
    let n: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM collection_audit{where_sql}"))?
        .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Deletes audit rows and hit counts older than `max_age_secs` (0 deletes nothing);
/// returns how many rows went.
pub fn prune(conn: &Connection, max_age_secs: u64) -> Result<usize, StoreError> {
    if max_age_secs == 0 {
        return Ok(0);
    }
    let before = cutoff(max_age_secs);
    let rows = conn
        .prepare_cached("DELETE FROM collection_audit WHERE started_at < ?1")?
        .execute([&before])?;
    let hits = conn
        .prepare_cached("DELETE FROM collection_hits WHERE last_at < ?1")?
        .execute([&before])?;
    Ok(rows + hits)
}

/// Cache hits counted in memory for one plugin, data type, target and requester, written by
/// [`insert_hits`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HitCount {
    /// Plugin that owns the collector.
    pub plugin: String,
    /// Kind of data.
    pub data_type: String,
    /// Hostname or raw host.
    pub target: String,
    /// API key name, or `poller`.
    pub requester: Option<String>,
    /// The first hit counted (RFC 3339).
    pub first_at: String,
    /// The last hit counted (RFC 3339).
    pub last_at: String,
    /// Hits served from the cache (or by joining a collection already running).
    pub hits: u64,
    /// Bytes served by those hits.
    pub bytes: u64,
}

/// Writes hit counts in one transaction; returns how many rows were written. Counts with
/// zero hits are skipped.
pub fn insert_hits(conn: &mut Connection, counts: &[HitCount]) -> Result<usize, StoreError> {
    let tx = conn.transaction()?;
    let mut written = 0;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO collection_hits (plugin, data_type, target, device_id, requester, \
                 first_at, last_at, hits, bytes) \
             VALUES (?1, ?2, ?3, (SELECT id FROM devices WHERE hostname = lower(trim(?3))), \
                     ?4, ?5, ?6, ?7, ?8)",
        )?;
        for c in counts.iter().filter(|c| c.hits > 0) {
            stmt.execute(params![
                c.plugin,
                c.data_type,
                c.target,
                c.requester,
                normalize_ts(&c.first_at, "first_at")?,
                normalize_ts(&c.last_at, "last_at")?,
                to_i64(c.hits),
                to_i64(c.bytes),
            ])?;
            written += 1;
        }
    }
    tx.commit()?;
    Ok(written)
}

/// Cache hits recorded for the filter's plugin, data type and target (`limit` ignored):
/// the sum of the written counts.
pub fn hit_total(conn: &Connection, filter: &AuditFilter) -> Result<u64, StoreError> {
    let (where_sql, args) = where_clause(filter);
    let n: i64 = conn
        .prepare_cached(&format!(
            "SELECT coalesce(sum(hits), 0) FROM collection_hits{where_sql}"
        ))?
        .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}
