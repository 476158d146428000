//! Plugin-scoped JSON documents (`plugin_documents` table), behind the `storage` import.
//!
//! Every function takes the plugin name and every statement filters on it, so a plugin can
//! only ever read or change its own documents. The host passes the calling plugin's name; it
//! never comes from the guest.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::Value;

use crate::{StoreError, json_column, now_rfc3339, sql_limit};

/// Longest accepted plugin, collection or document id, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// A stored document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    /// Owning plugin.
    pub plugin: String,
    /// Collection within the plugin.
    pub collection: String,
    /// Document id within the collection.
    pub id: String,
    /// The JSON body.
    pub body: Value,
    /// First write (RFC 3339 UTC).
    pub created_at: String,
    /// Latest write (RFC 3339 UTC).
    pub updated_at: String,
}

const COLUMNS: &str = "plugin, collection, id, body, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Document> {
    Ok(Document {
        plugin: r.get(0)?,
        collection: r.get(1)?,
        id: r.get(2)?,
        body: json_column(r, 3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

fn check_name(value: &str, what: &str) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(StoreError::Invalid(format!("{what} must not be empty")));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(StoreError::Invalid(format!(
            "{what} must be at most {MAX_NAME_LEN} bytes"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(())
}

fn check_scope(plugin: &str, collection: &str) -> Result<(), StoreError> {
    check_name(plugin, "plugin")?;
    check_name(collection, "collection")
}

/// Creates or replaces a document. Replacing keeps `created_at` and bumps `updated_at`.
pub fn put(
    conn: &Connection,
    plugin: &str,
    collection: &str,
    id: &str,
    body: &Value,
) -> Result<Document, StoreError> {
    check_scope(plugin, collection)?;
    check_name(id, "id")?;
    let text = serde_json::to_string(body)?;
    let sql = format!(
        "INSERT INTO plugin_documents ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?5) \
         ON CONFLICT (plugin, collection, id) \
           DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at \
         RETURNING {COLUMNS}"
    );
    Ok(conn.prepare_cached(&sql)?.query_row(
        params![plugin, collection, id, text, now_rfc3339()],
        from_row,
    )?)
}

/// The document `id` of `plugin`'s `collection`, if any.
pub fn get(
    conn: &Connection,
    plugin: &str,
    collection: &str,
    id: &str,
) -> Result<Option<Document>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM plugin_documents WHERE plugin = ?1 AND collection = ?2 AND id = ?3"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![plugin, collection, id], from_row)
        .optional()?)
}

/// Deletes the document; returns whether it existed.
pub fn delete(
    conn: &Connection,
    plugin: &str,
    collection: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached(
            "DELETE FROM plugin_documents WHERE plugin = ?1 AND collection = ?2 AND id = ?3",
        )?
        .execute(params![plugin, collection, id])?;
    Ok(n > 0)
}

/// One page of `plugin`'s `collection`, ordered by id (`limit` `None` = all).
pub fn list(
    conn: &Connection,
    plugin: &str,
    collection: &str,
    limit: Option<u32>,
    offset: u32,
) -> Result<Vec<Document>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM plugin_documents WHERE plugin = ?1 AND collection = ?2 \
         ORDER BY id LIMIT ?3 OFFSET ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(
            params![plugin, collection, sql_limit(limit), offset],
            from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Number of documents in `plugin`'s `collection`.
pub fn count(conn: &Connection, plugin: &str, collection: &str) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM plugin_documents WHERE plugin = ?1 AND collection = ?2",
        )?
        .query_row(params![plugin, collection], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}
