//! Jobs (`jobs` and `job_events` tables): long-running plugin routes and queued internal
//! routes, their state, latest progress, outcome, and an ordered event log (state changes,
//! progress snapshots, log lines) that a client connecting late replays.
//!
//! State moves only forward: `queued` → `running` → one of the final states. The functions
//! that move it say whether they did, so a late writer (a job finishing after it was
//! cancelled, or after the server marked it interrupted) never overwrites a final state.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params, params_from_iter};
use serde::Serialize;

use crate::snapshots::cutoff;
use crate::{StoreError, now_rfc3339, to_i64};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for a free slot.
    Queued,
    /// Its handler is running.
    Running,
    /// The handler answered a success.
    Succeeded,
    /// The handler answered an error, trapped, or a remote side failed.
    Failed,
    /// A client cancelled it.
    Cancelled,
    /// The server stopped while it was queued or running.
    Interrupted,
}

impl JobState {
    /// Every state, in life order.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
        JobState::Interrupted,
    ];

    /// The stored (and API) name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Interrupted => "interrupted",
        }
    }

    /// The state called `name`.
    pub fn parse(name: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// True for the states a job never leaves.
    pub fn is_final(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }
}

/// The latest progress a job reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Units done.
    pub done: u64,
    /// Units in all, when known.
    pub total: Option<u64>,
    /// What is counted (`bytes`, `steps`).
    pub unit: String,
    /// A short human message.
    pub message: String,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Its id (a UUID).
    pub id: String,
    /// The plugin whose route it runs.
    pub plugin: String,
    /// The route's operation id.
    pub operation_id: String,
    /// The device it works on (its `hostname` path parameter), when it has one.
    pub device: Option<String>,
    /// Where it is.
    pub state: JobState,
    /// The scope of the route that started it (needed to cancel it).
    pub scope: String,
    /// The API key that started it, when auth is on.
    pub principal: Option<String>,
    /// The request that started it.
    pub request_id: String,
    /// The latest progress, when it reported any.
    pub progress: Option<Progress>,
    /// The HTTP status of the handler's answer, once finished with one.
    pub result_status: Option<u16>,
    /// The handler's answer body (JSON text, or a JSON string for other bodies).
    pub result: Option<String>,
    /// The error kind (`not_found`, `unavailable`…) when it failed.
    pub error_kind: Option<String>,
    /// The error message when it failed, was cancelled or interrupted.
    pub error_message: Option<String>,
    /// When it was created (RFC 3339 UTC).
    pub created_at: String,
    /// When its handler started.
    pub started_at: Option<String>,
    /// When it reached a final state.
    pub finished_at: Option<String>,
}

/// What a new job is.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Its id.
    pub id: String,
    /// The plugin.
    pub plugin: String,
    /// The route's operation id.
    pub operation_id: String,
    /// The device it works on.
    pub device: Option<String>,
    /// `read`, `write` or `admin`.
    pub scope: String,
    /// Who started it.
    pub principal: Option<String>,
    /// The request that started it.
    pub request_id: String,
}

/// How a job ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// A final state.
    pub state: JobState,
    /// The handler's status, when it answered.
    pub result_status: Option<u16>,
    /// The answer body.
    pub result: Option<String>,
    /// The error kind.
    pub error_kind: Option<String>,
    /// The error message.
    pub error_message: Option<String>,
}

/// One event of a job's log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobEvent {
    /// Position in the job's log, from 0.
    pub seq: u64,
    /// `state`, `progress` or `log`.
    pub kind: String,
    /// The event as JSON text.
    pub data: String,
    /// When it happened.
    pub at: String,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only this plugin's.
    pub plugin: Option<String>,
    /// Only in this state.
    pub state: Option<JobState>,
    /// Only for this device.
    pub device: Option<String>,
    /// Only those started by this API key.
    pub principal: Option<String>,
    /// At most this many.
    pub limit: u32,
    /// After skipping this many.
    pub offset: u32,
}

const COLUMNS: &str = "id, plugin, operation_id, device, state, scope, principal, request_id, \
    progress_done, progress_total, progress_unit, progress_message, result_status, result, \
    error_kind, error_message, created_at, started_at, finished_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Job> {
    let state: String = r.get(4)?;
    let state = JobState::parse(&state).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            4,
            rusqlite::types::Type::Text,
            format!("unknown job state `{state}`").into(),
        )
    })?;
    let done: Option<i64> = r.get(8)?;
    let total: Option<i64> = r.get(9)?;
    let status: Option<i64> = r.get(12)?;
    Ok(Job {
        id: r.get(0)?,
        plugin: r.get(1)?,
        operation_id: r.get(2)?,
        device: r.get(3)?,
        state,
        scope: r.get(5)?,
        principal: r.get(6)?,
        request_id: r.get(7)?,
        progress: match done {
            Some(done) => Some(Progress {
                done: u64::try_from(done).unwrap_or(0),
                total: total.and_then(|t| u64::try_from(t).ok()),
                unit: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                message: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
            }),
            None => None,
        },
        result_status: status.and_then(|s| u16::try_from(s).ok()),
        result: r.get(13)?,
        error_kind: r.get(14)?,
        error_message: r.get(15)?,
        created_at: r.get(16)?,
        started_at: r.get(17)?,
        finished_at: r.get(18)?,
    })
}

/// Records a new `queued` job.
pub fn insert(conn: &Connection, job: &NewJob) -> Result<Job, StoreError> {
    let now = now_rfc3339();
    conn.prepare_cached(
        "INSERT INTO jobs (id, plugin, operation_id, device, state, scope, principal, \
         request_id, created_at) VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        job.id,
        job.plugin,
        job.operation_id,
        job.device,
        job.scope,
        job.principal,
        job.request_id,
        now
    ])?;
    get(conn, &job.id)?.ok_or_else(|| StoreError::NotFound(format!("job {} vanished", job.id)))
}

/// The job `id`.
pub fn get(conn: &Connection, id: &str) -> Result<Option<Job>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

/// Moves a queued job to `running`; false when it was no longer queued (cancelled).
pub fn start(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE jobs SET state = 'running', started_at = ?2 WHERE id = ?1 AND state = 'queued'",
        )?
        .execute(params![id, now_rfc3339()])?;
    Ok(n == 1)
}

/// Stores the latest progress of an unfinished job.
pub fn set_progress(conn: &Connection, id: &str, p: &Progress) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE jobs SET progress_done = ?2, progress_total = ?3, progress_unit = ?4, \
         progress_message = ?5 WHERE id = ?1 AND state IN ('queued', 'running')",
    )?
    .execute(params![
        id,
        to_i64(p.done),
        p.total.map(to_i64),
        p.unit,
        p.message
    ])?;
    Ok(())
}

/// Moves an unfinished job to its final state; false when it already had one.
pub fn finish(conn: &Connection, id: &str, outcome: &Outcome) -> Result<bool, StoreError> {
    if !outcome.state.is_final() {
        return Err(StoreError::Invalid(format!(
            "`{}` is not a final job state",
            outcome.state.as_str()
        )));
    }
    let n = conn
        .prepare_cached(
            "UPDATE jobs SET state = ?2, result_status = ?3, result = ?4, error_kind = ?5, \
             error_message = ?6, finished_at = ?7 \
             WHERE id = ?1 AND state IN ('queued', 'running')",
        )?
        .execute(params![
            id,
            outcome.state.as_str(),
            outcome.result_status,
            outcome.result,
            outcome.error_kind,
            outcome.error_message,
            now_rfc3339()
        ])?;
    Ok(n == 1)
}

/// Appends an event at `seq` (the caller numbers a job's events from 0).
pub fn add_event(
    conn: &Connection,
    id: &str,
    seq: u64,
    kind: &str,
    data: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO job_events (job_id, seq, kind, data, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, to_i64(seq), kind, data, now_rfc3339()])?;
    Ok(())
}

/// The events of job `id` from `from_seq` on, in order, at most `limit`.
pub fn events(
    conn: &Connection,
    id: &str,
    from_seq: u64,
    limit: u32,
) -> Result<Vec<JobEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, kind, data, at FROM job_events WHERE job_id = ?1 AND seq >= ?2 \
         ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![id, to_i64(from_seq), i64::from(limit)], |r| {
            let seq: i64 = r.get(0)?;
            Ok(JobEvent {
                seq: u64::try_from(seq).unwrap_or(0),
                kind: r.get(1)?,
                data: r.get(2)?,
                at: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn where_clause(f: &JobFilter) -> (String, Vec<SqlValue>) {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    for (column, value) in [
        ("plugin = ?", f.plugin.clone()),
        ("state = ?", f.state.map(|s| s.as_str().to_owned())),
        ("device = ?", f.device.clone()),
        ("principal = ?", f.principal.clone()),
    ] {
        if let Some(v) = value {
            clauses.push(column);
            args.push(SqlValue::Text(v));
        }
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (sql, args)
}

/// Matching jobs, newest first, one page of them, and how many match in all.
pub fn list(conn: &Connection, filter: &JobFilter) -> Result<(Vec<Job>, u64), StoreError> {
    let (where_sql, mut args) = where_clause(filter);
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM jobs{where_sql}"))?
        .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
    args.push(SqlValue::Integer(i64::from(filter.limit)));
    args.push(SqlValue::Integer(i64::from(filter.offset)));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM jobs{where_sql} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
    ))?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

/// Marks every `queued` or `running` job `interrupted` (at start-up: the server that ran
/// them is gone), with a final `state` event each. Returns how many.
pub fn interrupt_unfinished(conn: &mut Connection, message: &str) -> Result<usize, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_rfc3339();
    let data = serde_json::json!({"state": "interrupted", "message": message}).to_string();
    tx.execute(
        "INSERT INTO job_events (job_id, seq, kind, data, at) \
         SELECT id, COALESCE((SELECT max(seq) + 1 FROM job_events e WHERE e.job_id = jobs.id), 0), \
                'state', ?1, ?2 \
         FROM jobs WHERE state IN ('queued', 'running')",
        params![data, now],
    )?;
    let n = tx.execute(
        "UPDATE jobs SET state = 'interrupted', error_kind = 'unavailable', error_message = ?1, \
         finished_at = ?2 WHERE state IN ('queued', 'running')",
        params![message, now],
    )?;
    tx.commit()?;
    Ok(n)
}

/// Deletes finished jobs (and their events) that finished more than `max_age_secs` ago, and
/// beyond the newest `keep` finished ones. Returns how many.
pub fn prune(conn: &Connection, max_age_secs: u64, keep: u32) -> Result<usize, StoreError> {
    let finished = "state NOT IN ('queued', 'running')";
    let mut n = conn
        .prepare_cached(&format!(
            "DELETE FROM jobs WHERE {finished} AND finished_at < ?1"
        ))?
        .execute([cutoff(max_age_secs)])?;
    n += conn
        .prepare_cached(&format!(
            "DELETE FROM jobs WHERE {finished} AND id NOT IN \
             (SELECT id FROM jobs WHERE {finished} ORDER BY finished_at DESC, id DESC LIMIT ?1)"
        ))?
        .execute([i64::from(keep)])?;
    Ok(n)
}

/// How many jobs are kept in each state (every state listed, zero included).
pub fn count_by_state(conn: &Connection) -> Result<Vec<(JobState, u64)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT state, count(*) FROM jobs GROUP BY state")?;
    let found = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(JobState::ALL
        .into_iter()
        .map(|state| {
            let n = found
                .iter()
                .find(|(name, _)| name == state.as_str())
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
            (state, n)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("db")).expect("open");
        (dir, store)
    }

    fn new(id: &str, device: Option<&str>) -> NewJob {
        NewJob {
            id: id.into(),
            plugin: "zfs".into(),
            operation_id: "send".into(),
            device: device.map(Into::into),
            scope: "write".into(),
            principal: Some("ops".into()),
            request_id: "r1".into(),
        }
    }

    fn done(state: JobState) -> Outcome {
        Outcome {
            state,
            result_status: Some(200),
            result: Some("{\"ok\":true}".into()),
            error_kind: None,
            error_message: None,
        }
    }

    #[test]
    fn a_job_moves_forward_only() {
        let (_d, store) = store();
        store
            .with_conn(|c| {
                let j = insert(c, &new("a", Some("nas")))?;
                assert_eq!((j.state, j.progress.clone()), (JobState::Queued, None));
                assert!(start(c, "a")?);
                assert!(!start(c, "a")?, "already running");
                set_progress(
                    c,
                    "a",
                    &Progress {
                        done: 5,
                        total: Some(10),
                        unit: "bytes".into(),
                        message: "half".into(),
                    },
                )?;
                assert!(finish(c, "a", &done(JobState::Succeeded))?);
                assert!(!finish(c, "a", &done(JobState::Cancelled))?, "final stays");
                set_progress(c, "a", &Progress::default())?;
                let j = get(c, "a")?.expect("job");
                assert_eq!(j.state, JobState::Succeeded);
                assert_eq!(j.progress.map(|p| (p.done, p.total)), Some((5, Some(10))));
                assert_eq!(j.result_status, Some(200));
                assert!(j.started_at.is_some() && j.finished_at.is_some());
                assert!(finish(c, "a", &done(JobState::Running)).is_err());
                Ok(())
            })
            .expect("store");
    }

    #[test]
    fn unfinished_jobs_are_interrupted_with_a_last_event() {
        let (_d, store) = store();
        store
            .with_conn(|c| {
                insert(c, &new("q", None))?;
                insert(c, &new("r", None))?;
                insert(c, &new("s", None))?;
                start(c, "r")?;
                add_event(c, "r", 0, "state", "{\"state\":\"running\"}")?;
                finish(c, "s", &done(JobState::Succeeded))?;
                assert_eq!(interrupt_unfinished(c, "server stopped")?, 2);
                for id in ["q", "r"] {
                    let j = get(c, id)?.expect("job");
                    assert_eq!(j.state, JobState::Interrupted);
                    assert_eq!(j.error_message.as_deref(), Some("server stopped"));
                }
                assert_eq!(get(c, "s")?.expect("job").state, JobState::Succeeded);
                let ev = events(c, "r", 0, 10)?;
                assert_eq!(ev.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1]);
                assert!(ev[1].data.contains("interrupted"));
                assert_eq!(events(c, "q", 0, 10)?.len(), 1);
                Ok(())
            })
            .expect("store");
    }

    #[test]
    fn list_filters_pages_and_prune_keeps_unfinished() {
        let (_d, store) = store();
        store
            .with_conn(|c| {
                for i in 0..5 {
                    insert(
                        c,
                        &new(&format!("j{i}"), Some(if i % 2 == 0 { "a" } else { "b" })),
                    )?;
                }
                finish(c, "j0", &done(JobState::Failed))?;
                finish(c, "j1", &done(JobState::Succeeded))?;
                add_event(c, "j0", 0, "log", "{}")?;
                let f = JobFilter {
                    device: Some("a".into()),
                    limit: 2,
                    ..Default::default()
                };
                let (page, total) = list(c, &f)?;
                assert_eq!((page.len(), total), (2, 3));
                let f = JobFilter {
                    state: Some(JobState::Failed),
                    limit: 10,
                    ..Default::default()
                };
                assert_eq!(list(c, &f)?.0[0].id, "j0");
                // Keep one finished job: the older finished one goes, with its events.
                assert_eq!(prune(c, 86_400, 1)?, 1);
                let (all, total) = list(
                    c,
                    &JobFilter {
                        limit: 10,
                        ..Default::default()
                    },
                )?;
                assert_eq!((all.len(), total), (4, 4));
                let left: Vec<&str> = all.iter().map(|j| j.id.as_str()).collect();
                assert!(left.contains(&"j2") && left.contains(&"j3") && left.contains(&"j4"));
                Ok(())
            })
            .expect("store");
    }
}
