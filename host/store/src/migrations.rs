//! Schema migrations: numbered SQL files from the workspace `migrations/` directory, embedded
//! at compile time and applied in order, each inside its own transaction.
//!
//! Every applied migration is recorded in `schema_migrations` with a SHA-256 checksum of its
//! text. Applying again is a no-op; a recorded migration whose embedded text changed, or one
//! this build does not know (a newer build migrated the file), is a [`StoreError::Migration`]
//! naming the file. A migration must not contain its own `BEGIN`/`COMMIT`.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{StoreError, now_rfc3339};

/// One migration: a numbered SQL script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The number from the file name (`0001_init.sql` → 1); applied in ascending order.
    pub version: u32,
    /// The file name, e.g. `0001_init.sql`.
    pub name: &'static str,
    /// The SQL text, run with `execute_batch`.
    pub sql: &'static str,
}

impl Migration {
    /// Hex SHA-256 of the SQL text.
    pub fn checksum(&self) -> String {
        let digest = Sha256::digest(self.sql.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The migrations embedded in this build, in version order.
pub fn embedded() -> &'static [Migration] {
    EMBEDDED
}

/// A row of `schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedMigration {
    /// Migration number.
    pub version: u32,
    /// File name it was applied from.
    pub name: String,
    /// Hex SHA-256 of the SQL text that was applied.
    pub checksum: String,
    /// When it was applied (RFC 3339 UTC).
    pub applied_at: String,
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL
)";

/// The migrations recorded in `schema_migrations`, by version (empty on a fresh database).
pub fn applied(conn: &Connection) -> Result<Vec<AppliedMigration>, StoreError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema
                        WHERE type = 'table' AND name = 'schema_migrations')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare(
        "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(AppliedMigration {
            version: r.get(0)?,
            name: r.get(1)?,
            checksum: r.get(2)?,
            applied_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Applies every migration of `migrations` not yet recorded, in version order, each in its own
/// `BEGIN IMMEDIATE` transaction, and returns the versions applied now (empty when up to date).
///
/// Fails, naming the file, when a recorded migration's checksum differs from `migrations`, when
/// the database records a version absent from `migrations`, when `migrations` has duplicate
/// versions, or when a script fails (its transaction is rolled back; earlier ones stay).
pub fn apply(conn: &mut Connection, migrations: &[Migration]) -> Result<Vec<u32>, StoreError> {
    let mut sorted: Vec<&Migration> = migrations.iter().collect();
    sorted.sort_by_key(|m| m.version);
    if let Some(w) = sorted.windows(2).find(|w| w[0].version == w[1].version) {
        return Err(migration_error(
            w[1].name,
            format!("version {} is also used by {}", w[1].version, w[0].name),
        ));
    }

    conn.execute_batch(CREATE_TABLE)?;
    for recorded in applied(conn)? {
        if !sorted.iter().any(|m| m.version == recorded.version) {
            return Err(StoreError::Migration {
                file: recorded.name,
                message: format!(
                    "version {} is recorded in the database but unknown to this build \
                     (was the database migrated by a newer version?)",
                    recorded.version
                ),
            });
        }
    }

    let mut done = Vec::new();
    for m in sorted {
        let checksum = m.checksum();
        // IMMEDIATE takes the write lock first, so a concurrent opener waits (busy timeout)
        // and then sees this migration as recorded instead of applying it twice.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let recorded: Option<String> = tx
            .query_row(
                "SELECT checksum FROM schema_migrations WHERE version = ?1",
                [m.version],
                |r| r.get(0),
            )
            .optional()?;
        match recorded {
            Some(old) if old == checksum => continue,
            Some(old) => {
                return Err(migration_error(
                    m.name,
                    format!(
                        "checksum mismatch: the file changed after it was applied \
                         (recorded {}…, embedded {}…); add a new migration instead of \
                         editing an applied one",
                        &old[..old.len().min(12)],
                        &checksum[..12]
                    ),
                ));
            }
            None => {}
        }
        tx.execute_batch(m.sql).map_err(|e| {
            migration_error(m.name, format!("failed to apply: {}", sqlite_message(&e)))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![m.version, m.name, checksum, now_rfc3339()],
        )?;
        tx.commit()?;
        done.push(m.version);
    }
    Ok(done)
}

fn migration_error(file: &str, message: String) -> StoreError {
    StoreError::Migration {
        file: file.to_owned(),
        message,
    }
}

/// SQLite's own message for a failing script (e.g. `near "CREAT": syntax error`), which names
/// the offending token but never a path; it is shown to the operator at start-up only.
fn sqlite_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(f, Some(msg)) => format!("{msg} ({})", f.extended_code),
        rusqlite::Error::SqliteFailure(f, None) => {
            rusqlite::ffi::code_to_str(f.extended_code).to_owned()
        }
        other => crate::error::describe_sqlite(other).to_owned(),
    }
}
