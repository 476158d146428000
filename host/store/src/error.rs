//! The crate's error type.

use rusqlite::ErrorCode;

/// Everything the storage layer can fail with.
///
/// `Display` texts are safe to show to an operator or (for `NotFound`, `Conflict`, `Invalid`) to
/// an API client: they never contain SQL text or file paths other than the database's file name.
/// The underlying driver error stays reachable through [`std::error::Error::source`] for logs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed record does not exist (e.g. `device 'web1' not found`).
    #[error("{0}")]
    NotFound(String),
    /// The write would violate a uniqueness rule (e.g. a duplicate hostname).
    #[error("{0}")]
    Conflict(String),
    /// The input was rejected before reaching the database (missing or malformed field).
    #[error("{0}")]
    Invalid(String),
    /// A migration could not be applied or no longer matches what was applied.
    #[error("migration {file}: {message}")]
    Migration {
        /// The migration's file name, e.g. `0001_init.sql`.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// The database could not be opened or its directory created.
    #[error("cannot open database {file}: {message}")]
    Open {
        /// The database's file name (no directories).
        file: String,
        /// What went wrong.
        message: String,
    },
    /// An SQLite error. The message is the SQLite result-code description only.
    #[error("database error: {}", describe_sqlite(.0))]
    Sqlite(#[from] rusqlite::Error),
    /// No pooled connection became free in time.
    #[error("database busy: timed out waiting for a connection")]
    Pool(#[from] r2d2::Error),
    /// The blocking database task panicked or was cancelled.
    #[error("database task failed: {0}")]
    Join(String),
    /// A JSON column could not be encoded or decoded.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl StoreError {
    /// Whether this is a `SQLITE_BUSY`/`SQLITE_LOCKED` failure (the busy timeout expired) or a
    /// pool timeout: transient, worth a retry or a 503.
    pub fn is_busy(&self) -> bool {
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
            }
            Self::Pool(_) => true,
            _ => false,
        }
    }
}

/// A description of a driver error without SQL text, column names or paths.
pub(crate) fn describe_sqlite(e: &rusqlite::Error) -> &'static str {
    use rusqlite::Error as E;
    match e {
        E::SqliteFailure(f, _) => rusqlite::ffi::code_to_str(f.extended_code),
        E::QueryReturnedNoRows => "no rows returned",
        E::QueryReturnedMoreThanOneRow => "more than one row returned",
        E::FromSqlConversionFailure(..)
        | E::IntegralValueOutOfRange(..)
        | E::Utf8Error(..)
        | E::InvalidColumnType(..) => "unexpected value stored in the database",
        E::ToSqlConversionFailure(_) | E::NulError(_) => "value cannot be stored",
        _ => "internal query error",
    }
}

/// Whether `e` is a UNIQUE or PRIMARY KEY constraint violation.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}
