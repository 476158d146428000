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

/// Most conditions one query may combine.
pub const MAX_FILTERS: usize = 8;
/// Most documents one [`apply`] may write, and most it may delete.
pub const MAX_BATCH: usize = 1000;
/// Most groups [`count_grouped`] returns.
pub const MAX_GROUPS: u32 = 1000;

/// One query condition: the field at the dotted path `field` equals the JSON scalar `value`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMatch {
    /// A dotted path of names (`[A-Za-z_][A-Za-z0-9_]*`), e.g. `device` or `parsed.kind`.
    pub field: String,
    /// A JSON scalar: string, number, boolean or null (null also matches an absent field).
    pub value: Value,
}

/// A filtered, ordered page of one collection.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// Conditions, all of which must hold (at most [`MAX_FILTERS`]).
    pub filter: Vec<FieldMatch>,
    /// The field to order by, then by id; `None` orders by id.
    pub order_by: Option<String>,
    /// Largest first.
    pub descending: bool,
    /// Page size (`None` = all).
    pub limit: Option<u32>,
    /// Documents to skip.
    pub offset: u32,
}

/// The SQLite JSON path of a dotted field path (`a.b` → `$.a.b`), or invalid.
fn json_path(field: &str) -> Result<String, StoreError> {
    let valid_name = |n: &str| {
        let mut chars = n.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if field.len() > MAX_NAME_LEN || !field.split('.').all(valid_name) {
        return Err(StoreError::Invalid(format!(
            "field `{}` must be a dotted path of names ([A-Za-z_][A-Za-z0-9_]*)",
            field.chars().take(64).collect::<String>()
        )));
    }
    Ok(format!("$.{field}"))
}

/// The WHERE clause and its parameters for `plugin`'s `collection` and `filter`; the
/// parameters start at `?1`.
fn where_clause(
    plugin: &str,
    collection: &str,
    filter: &[FieldMatch],
) -> Result<(String, Vec<rusqlite::types::Value>), StoreError> {
    use rusqlite::types::Value as Sql;
    check_scope(plugin, collection)?;
    if filter.len() > MAX_FILTERS {
        return Err(StoreError::Invalid(format!(
            "at most {MAX_FILTERS} conditions per query"
        )));
    }
    let mut sql = String::from("plugin = ?1 AND collection = ?2");
    let mut args = vec![
        Sql::Text(plugin.to_owned()),
        Sql::Text(collection.to_owned()),
    ];
    for m in filter {
        let path = json_path(&m.field)?;
        if m.value.is_array() || m.value.is_object() {
            return Err(StoreError::Invalid(format!(
                "the value for `{}` must be a JSON scalar",
                m.field
            )));
        }
        let n = args.len();
        // json_extract gives SQL values (true → 1), so a JSON scalar compares by value;
        // `IS` makes null match an absent field too.
        sql.push_str(&format!(
            " AND json_extract(body, ?{}) IS json_extract(?{}, '$')",
            n + 1,
            n + 2
        ));
        args.push(Sql::Text(path));
        args.push(Sql::Text(m.value.to_string()));
    }
    Ok((sql, args))
}

/// The documents of `plugin`'s `collection` matching `query`, ordered and paged, and the
/// number matching in all.
pub fn query(
    conn: &Connection,
    plugin: &str,
    collection: &str,
    query: &Query,
) -> Result<(Vec<Document>, u64), StoreError> {
    use rusqlite::types::Value as Sql;
    let (clause, mut args) = where_clause(plugin, collection, &query.filter)?;
    let total: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM plugin_documents WHERE {clause}"
        ))?
        .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
    let direction = if query.descending { "DESC" } else { "ASC" };
    let order = match &query.order_by {
        Some(field) => {
            args.push(Sql::Text(json_path(field)?));
            format!(
                "json_extract(body, ?{}) {direction}, id {direction}",
                args.len()
            )
        }
        None => format!("id {direction}"),
    };
    args.push(Sql::Integer(sql_limit(query.limit)));
    args.push(Sql::Integer(i64::from(query.offset)));
    let sql = format!(
        "SELECT {COLUMNS} FROM plugin_documents WHERE {clause} ORDER BY {order} \
         LIMIT ?{} OFFSET ?{}",
        args.len() - 1,
        args.len()
    );
    let items = conn
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(args.iter()), from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}

/// Counts `plugin`'s documents of `collection` matching `filter`: one `(value as JSON,
/// count)` per distinct value of the `group_by` field (most frequent first, then by value;
/// at most [`MAX_GROUPS`]), or a single `("null", count)` without grouping.
pub fn count_grouped(
    conn: &Connection,
    plugin: &str,
    collection: &str,
    filter: &[FieldMatch],
    group_by: Option<&str>,
) -> Result<Vec<(String, u64)>, StoreError> {
    use rusqlite::types::Value as Sql;
    let (clause, mut args) = where_clause(plugin, collection, filter)?;
    let sql = match group_by {
        Some(field) => {
            args.push(Sql::Text(json_path(field)?));
            // `->` keeps the JSON type (true stays true, "1" stays a string).
            format!(
                "SELECT coalesce(body -> ?{}, 'null') AS v, count(*) AS n \
                 FROM plugin_documents WHERE {clause} GROUP BY v ORDER BY n DESC, v LIMIT {MAX_GROUPS}",
                args.len()
            )
        }
        None => format!("SELECT 'null', count(*) FROM plugin_documents WHERE {clause}"),
    };
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?
        .map(|r| r.map(|(v, n)| (v, u64::try_from(n).unwrap_or(0))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Creates or replaces `puts` and deletes `deletes` in `plugin`'s `collection`, in one
/// transaction: every change or none. At most [`MAX_BATCH`] of each. Returns how many
/// documents were deleted (absent ids are ignored).
pub fn apply(
    conn: &mut Connection,
    plugin: &str,
    collection: &str,
    puts: &[(String, Value)],
    deletes: &[String],
) -> Result<u32, StoreError> {
    check_scope(plugin, collection)?;
    if puts.len() > MAX_BATCH || deletes.len() > MAX_BATCH {
        return Err(StoreError::Invalid(format!(
            "at most {MAX_BATCH} writes and {MAX_BATCH} deletes per batch"
        )));
    }
    for (id, _) in puts {
        check_name(id, "id")?;
    }
    let tx = conn.transaction()?;
    for (id, body) in puts {
        put(&tx, plugin, collection, id, body)?;
    }
    let mut deleted = 0u32;
    for id in deletes {
        if delete(&tx, plugin, collection, id)? {
            deleted += 1;
        }
    }
    tx.commit()?;
    Ok(deleted)
}
