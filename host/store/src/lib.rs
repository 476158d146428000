//! Infrastructor's storage layer: one SQLite database in WAL mode behind an r2d2 pool, the
//! schema migrations embedded from the workspace `migrations/` directory, and typed
//! repositories — [`devices`], [`snapshots`], [`audit`], [`documents`], [`jobs`] — so that no SQL lives
//! outside this crate.
//!
//! Async callers go through [`Store::call`], which runs the closure on tokio's blocking pool
//! (never on an executor thread); synchronous callers use [`Store::with_conn`]. Repository
//! functions take a `&rusqlite::Connection` (or `&mut` where they need a transaction) so they
//! compose inside one closure, and one transaction when the caller opens one.
//!
//! ```no_run
//! # async fn demo() -> Result<(), infrastructor_store::StoreError> {
//! use infrastructor_store::{Store, devices};
//! let store = Store::open(std::path::Path::new("/var/lib/infrastructor/infrastructor.db"))?;
//! let (list, total) = store
//!     .call(|conn| devices::list(conn, &devices::DeviceFilter::default()))
//!     .await?;
//! # let _ = (list, total); Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod audit;
pub mod devices;
pub mod documents;
mod error;
pub mod jobs;
pub mod migrations;
pub mod operations;
pub mod snapshots;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

pub use error::StoreError;
pub use migrations::AppliedMigration;
/// The driver, re-exported so callers name the same `Connection` type the closures receive.
pub use rusqlite;

/// Connections in the pool when [`Store::open`] is used.
pub const DEFAULT_POOL_SIZE: u32 = 8;

/// How long a statement waits for a competing writer before failing with `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The WAL file is truncated to at most this size after each checkpoint
/// (`journal_size_limit`), so one burst of writes does not leave a large file behind.
pub const JOURNAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// How long [`Store::call`] / [`Store::with_conn`] wait for a free pooled connection.
const POOL_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);

/// A handle to the database: a pool of SQLite connections. Cheap to clone (shared pool).
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<SqliteConnectionManager>,
    file_name: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("file", &self.file_name)
            .field("pool_size", &self.pool.max_size())
            .finish()
    }
}

impl Store {
    /// Opens (creating it and its parent directory when missing) the database at `path` with a
    /// pool of [`DEFAULT_POOL_SIZE`] connections, and applies pending migrations.
    ///
    /// Blocking: call it at start-up or from `spawn_blocking`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, DEFAULT_POOL_SIZE)
    }

    /// [`Store::open`] with an explicit pool size (at least 1).
    ///
    /// Every connection runs with `journal_mode=WAL`, `foreign_keys=ON`,
    /// `synchronous=NORMAL` and a [`BUSY_TIMEOUT`] busy timeout. Migrations run once, on a
    /// dedicated connection, before the pool is built.
    pub fn open_with(path: &Path, pool_size: u32) -> Result<Store, StoreError> {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "(unnamed)".to_owned());
        if pool_size == 0 {
            return Err(StoreError::Invalid("pool size must be at least 1".into()));
        }
        let open_error = |message: String| StoreError::Open {
            file: file_name.clone(),
            message,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| open_error(format!("cannot create its directory: {e}")))?;
        }

        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut first = Connection::open_with_flags(path, flags)
            .map_err(|e| open_error(error::describe_sqlite(&e).to_owned()))?;
        configure(&mut first)?;
        migrations::apply(&mut first, migrations::embedded())?;
        drop(first);

        let manager = SqliteConnectionManager::file(path)
            .with_flags(flags)
            .with_init(configure_conn);
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .connection_timeout(POOL_CHECKOUT_TIMEOUT)
            .build(manager)?;
        Ok(Store { pool, file_name })
    }

    /// The database's file name (no directories), for messages.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Runs `f` with a pooled connection on tokio's blocking thread pool and returns its result.
    ///
    /// Waiting for a free connection happens there too, so the async executor never blocks.
    /// A panic inside `f` comes back as [`StoreError::Join`]; an open transaction is rolled back
    /// when its `Transaction` is dropped. Must be called within a tokio runtime.
    ///
    /// A transaction that reads before it writes should be opened with
    /// `conn.transaction_with_behavior(TransactionBehavior::Immediate)`: it then waits for the
    /// write lock up front (busy timeout) instead of failing with `SQLITE_BUSY` on upgrade.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| {
            StoreError::Join(if e.is_panic() {
                "the database task panicked".to_owned()
            } else {
                "the database task was cancelled".to_owned()
            })
        })?
    }

    /// Runs a short read `f` (a lookup by key, taking microseconds) with a pooled connection
    /// on the current thread when one is free at once, sparing the hop to the blocking pool
    /// and back (a tenth of a millisecond on a busy machine); otherwise exactly like
    /// [`Store::call`]. Only for reads: in WAL mode a reader never waits for a writer, so `f`
    /// does not block the executor on a lock.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        match self.pool.try_get() {
            Some(mut conn) => f(&mut conn),
            None => self.call(f).await,
        }
    }

    /// Runs `f` with a pooled connection on the current thread. For synchronous callers only
    /// (start-up, CLI tools, code already on a blocking thread); async code uses [`Store::call`].
    pub fn with_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError>,
    {
        let mut conn = self.pool.get()?;
        f(&mut conn)
    }

    /// Copies the WAL back into the database and truncates it to zero bytes
    /// (`wal_checkpoint(TRUNCATE)`), on the blocking pool. Without it the WAL only ever grows
    /// while readers keep a snapshot open; the server calls this periodically.
    ///
    /// Returns whether the checkpoint completed (false when a reader or writer kept it from
    /// finishing: the next one catches up) and the WAL frames it moved.
    pub async fn checkpoint(&self) -> Result<(bool, i64), StoreError> {
        self.call(|conn| {
            let (busy, _log, moved): (i64, i64, i64) =
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
            Ok((busy == 0, moved))
        })
        .await
    }

    /// The migrations recorded in the database, by version. Blocking (see [`Store::with_conn`]).
    pub fn applied_migrations(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        self.with_conn(|conn| migrations::applied(conn))
    }
}

/// Per-connection settings; busy timeout first so the WAL switch itself waits for the lock.
fn configure(conn: &mut Connection) -> Result<(), StoreError> {
    configure_conn(conn)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Invalid(format!(
            "the database refused WAL journal mode (got {mode})"
        )));
    }
    Ok(())
}

/// Pool connection init: the database is already in WAL mode (persistent), set by `configure`.
fn configure_conn(conn: &mut Connection) -> Result<(), rusqlite::Error> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update_and_check(None, "journal_size_limit", JOURNAL_SIZE_LIMIT_BYTES, |_| {
        Ok(())
    })?;
    // Set per connection as well (cheap, a no-op when already WAL) so a database switched back
    // by an external tool still runs in WAL under this pool.
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
    Ok(())
}

/// The current time as RFC 3339 UTC with milliseconds and `Z`: `2024-05-01T12:00:00.000Z`.
pub fn now_rfc3339() -> String {
    format_ts(Utc::now())
}

/// Formats a UTC time the way every timestamp column stores it.
pub fn format_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses any RFC 3339 timestamp and returns it in the stored form (UTC, millis, `Z`), so that
/// text comparison of stored timestamps is time comparison. `what` names the field in the error.
pub fn normalize_ts(value: &str, what: &str) -> Result<String, StoreError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| format_ts(t.with_timezone(&Utc)))
        .map_err(|_| StoreError::Invalid(format!("{what}: not an RFC 3339 timestamp")))
}

/// `s` cut to at most `max` bytes at a character boundary (long texts stored in bounded
/// columns).
pub(crate) fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `u64`/`u32` → SQLite INTEGER, saturating (rusqlite stores only `i64`).
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// SQLite `LIMIT` value: `None` → `-1` (no limit).
pub(crate) fn sql_limit(limit: Option<u32>) -> i64 {
    limit.map_or(-1, i64::from)
}

/// Parses a JSON text column into a value, as a conversion error on failure.
pub(crate) fn json_column(
    row: &rusqlite::Row<'_>,
    idx: usize,
) -> Result<serde_json::Value, rusqlite::Error> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}
