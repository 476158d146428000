//! `storage`: plugin-scoped documents and the plugin's own snapshots (needs `storage`).

use infrastructor_manifest::Capability;
use infrastructor_store::{documents, snapshots};

use crate::fault::Fault;
use crate::plugins::bindings::v0_2::WitError;
use crate::plugins::bindings::v0_2::infrastructor::plugin::storage;
use crate::plugins::instance::InstanceState;

use super::to_wit_error;

fn to_wit_document(d: documents::Document) -> storage::Document {
    storage::Document {
        collection: d.collection,
        id: d.id,
        body: d.body.to_string(),
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

fn to_wit_snapshot(s: snapshots::Snapshot) -> storage::Snapshot {
    storage::Snapshot {
        data_type: s.data_type,
        target: s.target,
        cache_key: s.cache_key,
        collected_at: s.collected_at,
        data: s.data.to_string(),
    }
}

impl InstanceState {
    /// Checks `storage`, then runs `f` on a database connection with the plugin's name.
    async fn with_storage<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(
            &mut infrastructor_store::rusqlite::Connection,
            &str,
        ) -> Result<T, infrastructor_store::StoreError>
        + Send
        + 'static,
    ) -> Result<T, WitError> {
        self.granter()
            .require(&Capability::Storage)
            .map_err(to_wit_error)?;
        let plugin = self.plugin.name.clone();
        let store = self.services.store.clone();
        self.timed(store.call(move |c| f(c, &plugin)))
            .await
            .map_err(|e| to_wit_error(Fault::from(e)))
    }
}

/// A WIT condition as the store's: the value must be JSON (bad-request otherwise).
fn field_match(m: storage::FieldMatch) -> Result<documents::FieldMatch, WitError> {
    let value = serde_json::from_str(&m.value).map_err(|e| {
        to_wit_error(Fault::bad_request(format!(
            "the value for `{}` is not JSON: {e}",
            m.field
        )))
    })?;
    Ok(documents::FieldMatch {
        field: m.field,
        value,
    })
}

fn field_matches(filter: Vec<storage::FieldMatch>) -> Result<Vec<documents::FieldMatch>, WitError> {
    if filter.len() > documents::MAX_FILTERS {
        return Err(to_wit_error(Fault::bad_request(format!(
            "at most {} conditions per query",
            documents::MAX_FILTERS
        ))));
    }
    filter.into_iter().map(field_match).collect()
}

impl storage::Host for InstanceState {
    async fn put(
        &mut self,
        collection: String,
        id: String,
        body: String,
    ) -> Result<storage::Document, WitError> {
        let value: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
            to_wit_error(Fault::bad_request(format!(
                "document body is not JSON: {e}"
            )))
        })?;
        self.with_storage(move |c, plugin| documents::put(c, plugin, &collection, &id, &value))
            .await
            .map(to_wit_document)
    }

    async fn get(
        &mut self,
        collection: String,
        id: String,
    ) -> Result<Option<storage::Document>, WitError> {
        self.with_storage(move |c, plugin| documents::get(c, plugin, &collection, &id))
            .await
            .map(|d| d.map(to_wit_document))
    }

    async fn delete(&mut self, collection: String, id: String) -> Result<bool, WitError> {
        self.with_storage(move |c, plugin| documents::delete(c, plugin, &collection, &id))
            .await
    }

    async fn list(
        &mut self,
        collection: String,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<storage::Document>, WitError> {
        let limit = limit.min(1000);
        self.with_storage(move |c, plugin| {
            documents::list(c, plugin, &collection, Some(limit), offset)
        })
        .await
        .map(|v| v.into_iter().map(to_wit_document).collect())
    }

    async fn query(
        &mut self,
        query: storage::DocumentQuery,
    ) -> Result<storage::DocumentPage, WitError> {
        let q = documents::Query {
            filter: field_matches(query.filter)?,
            order_by: query.order_by,
            descending: query.descending,
            limit: Some(query.limit.min(1000)),
            offset: query.offset,
        };
        let collection = query.collection;
        let (items, total) = self
            .with_storage(move |c, plugin| documents::query(c, plugin, &collection, &q))
            .await?;
        Ok(storage::DocumentPage {
            items: items.into_iter().map(to_wit_document).collect(),
            total,
        })
    }

    async fn count(
        &mut self,
        collection: String,
        filter: Vec<storage::FieldMatch>,
        group_by: Option<String>,
    ) -> Result<Vec<storage::GroupCount>, WitError> {
        let filter = field_matches(filter)?;
        self.with_storage(move |c, plugin| {
            documents::count_grouped(c, plugin, &collection, &filter, group_by.as_deref())
        })
        .await
        .map(|groups| {
            groups
                .into_iter()
                .map(|(value, count)| storage::GroupCount { value, count })
                .collect()
        })
    }

    async fn apply(
        &mut self,
        collection: String,
        puts: Vec<storage::DocumentWrite>,
        deletes: Vec<String>,
    ) -> Result<u32, WitError> {
        if puts.len() > documents::MAX_BATCH || deletes.len() > documents::MAX_BATCH {
            return Err(to_wit_error(Fault::bad_request(format!(
                "at most {} writes and {} deletes per batch",
                documents::MAX_BATCH,
                documents::MAX_BATCH
            ))));
        }
        let puts = puts
            .into_iter()
            .map(|w| {
                serde_json::from_str(&w.body)
                    .map(|body| (w.id, body))
                    .map_err(|e| {
                        to_wit_error(Fault::bad_request(format!(
                            "document body is not JSON: {e}"
                        )))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.with_storage(move |c, plugin| {
            documents::apply(c, plugin, &collection, &puts, &deletes)
        })
        .await
    }

    async fn snapshots(
        &mut self,
        data_type: String,
        target: Option<String>,
        limit: u32,
    ) -> Result<Vec<storage::Snapshot>, WitError> {
        let limit = limit.min(1000);
        self.with_storage(move |c, plugin| {
            snapshots::list(c, plugin, &data_type, target.as_deref(), limit)
        })
        .await
        .map(|v| v.into_iter().map(to_wit_snapshot).collect())
    }

    async fn latest_snapshots(
        &mut self,
        data_type: String,
    ) -> Result<Vec<storage::Snapshot>, WitError> {
        self.with_storage(move |c, plugin| snapshots::latest_per_target(c, plugin, &data_type))
            .await
            .map(|v| v.into_iter().map(to_wit_snapshot).collect())
    }
}
