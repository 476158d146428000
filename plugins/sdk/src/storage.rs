//! Plugin-scoped JSON documents and the plugin's own snapshot history (the `storage` import,
//! needs the `storage` capability).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;
use crate::host::storage as wit;

/// A stored document with its body deserialised as `T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Document<T = Value> {
    /// The collection it belongs to.
    pub collection: String,
    /// Its id within the collection.
    pub id: String,
    /// The body.
    pub body: T,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

/// A collected snapshot of this plugin's data, with its data deserialised as `T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot<T = Value> {
    /// The kind of data.
    pub data_type: String,
    /// The device or host it was collected from.
    pub target: String,
    /// The full cache key.
    pub cache_key: String,
    /// RFC 3339 collection time.
    pub collected_at: String,
    /// The parsed data.
    pub data: T,
}

fn document<T: DeserializeOwned>(d: wit::Document) -> Result<Document<T>, Error> {
    let body = serde_json::from_str(&d.body).map_err(|e| {
        Error::internal(format!(
            "stored document {}/{} does not have the expected shape: {e}",
            d.collection, d.id
        ))
    })?;
    Ok(Document {
        collection: d.collection,
        id: d.id,
        body,
        created_at: d.created_at,
        updated_at: d.updated_at,
    })
}

fn snapshot<T: DeserializeOwned>(s: wit::Snapshot) -> Result<Snapshot<T>, Error> {
    let data = serde_json::from_str(&s.data).map_err(|e| {
        Error::internal(format!(
            "snapshot {} of {} does not have the expected shape: {e}",
            s.data_type, s.target
        ))
    })?;
    Ok(Snapshot {
        data_type: s.data_type,
        target: s.target,
        cache_key: s.cache_key,
        collected_at: s.collected_at,
        data,
    })
}

/// Creates or replaces the document `collection`/`id` with `body` serialised as JSON.
pub fn put_json<T: Serialize + ?Sized>(
    collection: &str,
    id: &str,
    body: &T,
) -> Result<Document, Error> {
    let json = serde_json::to_string(body)
        .map_err(|e| Error::internal(format!("document is not representable as JSON: {e}")))?;
    document(wit::put(collection, id, &json)?)
}

/// Reads a document; `None` when absent.
pub fn get_json<T: DeserializeOwned>(
    collection: &str,
    id: &str,
) -> Result<Option<Document<T>>, Error> {
    wit::get(collection, id)?.map(document).transpose()
}

/// Deletes a document; `false` when it did not exist.
pub fn delete(collection: &str, id: &str) -> Result<bool, Error> {
    Ok(wit::delete(collection, id)?)
}

/// Documents of a collection ordered by id; `limit` at most 1000.
pub fn list<T: DeserializeOwned>(
    collection: &str,
    limit: u32,
    offset: u32,
) -> Result<Vec<Document<T>>, Error> {
    wit::list(collection, limit, offset)?
        .into_iter()
        .map(document)
        .collect()
}

/// A page of documents and how many match the query in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T = Value> {
    /// The documents of the page.
    pub items: Vec<Document<T>>,
    /// How many documents match the query.
    pub total: u64,
}

/// A filtered, ordered query over one collection, run by the database (only the page comes
/// back to the plugin):
///
/// ```ignore
/// let page = storage::Query::new("configs")
///     .eq("device", "box")
///     .eq("ssl_enabled", true)
///     .order_by("service_name", false)
///     .page(50, 0)
///     .fetch::<Record>()?;
/// let by_kind = storage::Query::new("configs").eq("device", "box").count_by("kind")?;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    collection: String,
    filter: Vec<(String, Value)>,
    order_by: Option<String>,
    descending: bool,
    limit: u32,
    offset: u32,
}

impl Query {
    /// All documents of `collection`, ordered by id, the first 100.
    pub fn new(collection: &str) -> Query {
        Query {
            collection: collection.to_owned(),
            filter: Vec::new(),
            order_by: None,
            descending: false,
            limit: 100,
            offset: 0,
        }
    }

    /// Only documents whose `field` (a dotted path, `a.b`) equals `value`, a JSON scalar
    /// (`None`/null also matches an absent field). At most 8 conditions (bad-request).
    pub fn eq(mut self, field: &str, value: impl Serialize) -> Query {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.filter.push((field.to_owned(), value));
        self
    }

    /// Orders by `field` (then by id), largest first when `descending`.
    pub fn order_by(mut self, field: &str, descending: bool) -> Query {
        self.order_by = Some(field.to_owned());
        self.descending = descending;
        self
    }

    /// The page: `limit` documents (at most 1000) after skipping `offset`.
    pub fn page(mut self, limit: u32, offset: u32) -> Query {
        self.limit = limit;
        self.offset = offset;
        self
    }

    fn wit_filter(&self) -> Vec<wit::FieldMatch> {
        self.filter
            .iter()
            .map(|(field, value)| wit::FieldMatch {
                field: field.clone(),
                value: value.to_string(),
            })
            .collect()
    }

    /// Runs the query: the page and the number matching in all.
    pub fn fetch<T: DeserializeOwned>(&self) -> Result<Page<T>, Error> {
        let page = wit::query(&wit::DocumentQuery {
            collection: self.collection.clone(),
            filter: self.wit_filter(),
            order_by: self.order_by.clone(),
            descending: self.descending,
            limit: self.limit,
            offset: self.offset,
        })?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(document)
                .collect::<Result<_, _>>()?,
            total: page.total,
        })
    }

    /// How many documents match (the page is ignored).
    pub fn count(&self) -> Result<u64, Error> {
        let groups = wit::count(&self.collection, &self.wit_filter(), None)?;
        Ok(groups.first().map_or(0, |g| g.count))
    }

    /// How many matching documents have each value of `field`, most frequent first (at most
    /// 1000 groups; `Value::Null` counts the documents without the field).
    pub fn count_by(&self, field: &str) -> Result<Vec<(Value, u64)>, Error> {
        wit::count(&self.collection, &self.wit_filter(), Some(field))?
            .into_iter()
            .map(|g| {
                serde_json::from_str(&g.value)
                    .map(|v| (v, g.count))
                    .map_err(|e| Error::internal(format!("a grouped count is not JSON: {e}")))
            })
            .collect()
    }
}

/// Creates or replaces `puts` (id, body) and deletes `deletes` in `collection`, in one
/// transaction: every change or none. At most 1000 of each (bad-request otherwise). Returns
/// how many documents were deleted.
pub fn apply<T: Serialize>(
    collection: &str,
    puts: &[(String, T)],
    deletes: &[String],
) -> Result<u32, Error> {
    let writes = puts
        .iter()
        .map(|(id, body)| {
            serde_json::to_string(body)
                .map(|body| wit::DocumentWrite {
                    id: id.clone(),
                    body,
                })
                .map_err(|e| Error::internal(format!("document is not representable as JSON: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(wit::apply(collection, &writes, deletes)?)
}

/// A value remembered in a collection with the time it was computed.
#[derive(serde::Serialize, serde::Deserialize)]
struct Remembered<T> {
    value: T,
    stored_at_secs: u64,
}

/// Seconds since the Unix epoch (0 when the clock is before it).
/// Natively (unit tests) the installed mock host's clock when there is one.
pub fn unix_now_secs() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        crate::clock::unix_now().as_secs()
    }
    #[cfg(not(target_arch = "wasm32"))]
    crate::host::now_secs()
}

/// The value remembered as `collection`/`key` while it is younger than `ttl(&value)`
/// seconds; otherwise `compute()`'s, which is remembered (when `Ok`) and returned. For
/// per-device facts that are costly to find and rarely change (which tools a device has,
/// where a service runs). A storage failure only costs a computation: it is logged, never
/// returned.
pub fn remembered<T: Serialize + DeserializeOwned>(
    collection: &str,
    key: &str,
    ttl: impl Fn(&T) -> u64,
    compute: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let now = unix_now_secs();
    if let Ok(Some(doc)) = get_json::<Remembered<T>>(collection, key)
        && now.saturating_sub(doc.body.stored_at_secs) < ttl(&doc.body.value)
    {
        return Ok(doc.body.value);
    }
    let value = compute()?;
    let record = Remembered {
        value,
        stored_at_secs: now,
    };
    if let Err(e) = put_json(collection, key, &record) {
        crate::log::warn(
            "cannot remember a value",
            &[("collection", collection), ("error", &e.to_string())],
        );
    }
    Ok(record.value)
}

/// The newest snapshots of `data_type` (optionally for one target), newest first.
pub fn snapshots<T: DeserializeOwned>(
    data_type: &str,
    target: Option<&str>,
    limit: u32,
) -> Result<Vec<Snapshot<T>>, Error> {
    wit::snapshots(data_type, target, limit)?
        .into_iter()
        .map(snapshot)
        .collect()
}

/// The newest snapshot per target of `data_type`.
pub fn latest_snapshots<T: DeserializeOwned>(data_type: &str) -> Result<Vec<Snapshot<T>>, Error> {
    wit::latest_snapshots(data_type)?
        .into_iter()
        .map(snapshot)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conversions() {
        let d = document::<Value>(wit::Document {
            collection: "c".into(),
            id: "1".into(),
            body: r#"{"a":1}"#.into(),
            created_at: "t0".into(),
            updated_at: "t1".into(),
        })
        .expect("valid");
        assert_eq!(d.body, json!({"a": 1}));
        let bad = document::<u8>(wit::Document {
            collection: "c".into(),
            id: "1".into(),
            body: "{}".into(),
            created_at: String::new(),
            updated_at: String::new(),
        });
        assert_eq!(bad.expect_err("shape").kind(), "internal");
        let s = snapshot::<Vec<u8>>(wit::Snapshot {
            data_type: "t".into(),
            target: "h".into(),
            cache_key: "k".into(),
            collected_at: "now".into(),
            data: "[1]".into(),
        })
        .expect("valid");
        assert_eq!(s.data, [1]);
    }
}
