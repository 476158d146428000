//! Operation audit (`operation_audit` table): one row per call of a route that changes
//! something — who called which operation on which path, the status it got and how long it
//! took. Rows outlive the device they touched (no cascade), and go with retention
//! ([`prune`]).

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use crate::snapshots::{cutoff, unsigned};
use crate::{StoreError, now_rfc3339, sql_limit, to_i64, truncate_utf8};

/// Longest stored path, in bytes (paths are bounded by the router; this keeps a row small).
const MAX_PATH_LEN: usize = 1024;

/// An operation to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationEntry {
    /// The plugin that served it, or `host` for the server's own routes.
    pub plugin: String,
    /// The operation id (`devices.create` is plugin `devices`, id `create`).
    pub operation_id: String,
    /// HTTP method.
    pub method: String,
    /// The request path.
    pub path: String,
    /// API key name (none in dev mode).
    pub principal: Option<String>,
    /// The status answered.
    pub status: u16,
    /// How long it took.
    pub duration_ms: u64,
    /// The request id.
    pub request_id: String,
    /// The job it started, for long-running routes.
    pub job_id: Option<String>,
}

/// A stored operation row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperationRow {
    /// Row id (increasing with insertion).
    pub id: i64,
    /// When it was recorded (RFC 3339 UTC).
    pub at: String,
    /// See [`OperationEntry`].
    pub plugin: String,
    /// See [`OperationEntry`].
    pub operation_id: String,
    /// See [`OperationEntry`].
    pub method: String,
    /// See [`OperationEntry`].
    pub path: String,
    /// See [`OperationEntry`].
    pub principal: Option<String>,
    /// See [`OperationEntry`].
    pub status: u16,
    /// See [`OperationEntry`].
    pub duration_ms: u64,
    /// See [`OperationEntry`].
    pub request_id: String,
    /// See [`OperationEntry`].
    pub job_id: Option<String>,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<OperationRow> {
    Ok(OperationRow {
        id: r.get(0)?,
        at: r.get(1)?,
        plugin: r.get(2)?,
        operation_id: r.get(3)?,
        method: r.get(4)?,
        path: r.get(5)?,
        principal: r.get(6)?,
        status: u16::try_from(unsigned(r, 7)?).unwrap_or(0),
        duration_ms: unsigned(r, 8)?,
        request_id: r.get(9)?,
        job_id: r.get(10)?,
    })
}

/// Records an operation (stamped now) and returns its row id.
pub fn insert(conn: &Connection, e: &OperationEntry) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO operation_audit (at, plugin, operation_id, method, path, principal, \
                 status, duration_ms, request_id, job_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        )?
        .query_row(
            params![
                now_rfc3339(),
                e.plugin,
                e.operation_id,
                e.method,
                truncate_utf8(&e.path, MAX_PATH_LEN),
                e.principal,
                e.status,
                to_i64(e.duration_ms),
                e.request_id,
                e.job_id,
            ],
            |r| r.get(0),
        )?)
}

/// The newest operations first, at most `limit` (`None` = all).
pub fn list(conn: &Connection, limit: Option<u32>) -> Result<Vec<OperationRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, plugin, operation_id, method, path, principal, status, duration_ms, \
             request_id, job_id \
         FROM operation_audit ORDER BY at DESC, id DESC LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([sql_limit(limit)], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Deletes operations recorded more than `max_age_secs` ago (0 deletes nothing); returns
/// how many.
pub fn prune(conn: &Connection, max_age_secs: u64) -> Result<usize, StoreError> {
    if max_age_secs == 0 {
        return Ok(0);
    }
    Ok(conn
        .prepare_cached("DELETE FROM operation_audit WHERE at < ?1")?
        .execute([cutoff(max_age_secs)])?)
}
