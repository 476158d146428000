//! Plugin-scoped JSON documents and the plugin's own snapshot history (the `storage` import,
//! needs the `storage` capability).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;
use crate::bindings::infrastructor::plugin::storage as wit;

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
