//! Cache hits counted in memory and written as aggregates: one `collection_hits` row per
//! plugin, data type, target and requester per flush, instead of an audit row per hit (a
//! flood of cached reads used to grow the database's WAL by ~140 MB/s).
//!
//! The tally holds at most [`MAX_KEYS`] distinct keys; one more starts a flush in the
//! background, so memory stays bounded whatever the request mix.

use std::collections::HashMap;
use std::sync::Mutex;

use infrastructor_store::{Store, StoreError, audit};

/// Most distinct (plugin, data type, target, requester) keys held before a flush.
pub const MAX_KEYS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    plugin: String,
    data_type: String,
    target: String,
    requester: Option<String>,
}

#[derive(Debug, Clone)]
struct Tally {
    first_at: String,
    last_at: String,
    hits: u64,
    bytes: u64,
}

/// The in-memory hit counts.
#[derive(Default)]
pub struct HitTally {
    counts: Mutex<HashMap<Key, Tally>>,
}

/// One hit to count.
pub struct Hit<'a> {
    /// Plugin.
    pub plugin: &'a str,
    /// Data type.
    pub data_type: &'a str,
    /// Target.
    pub target: &'a str,
    /// Who asked.
    pub requester: Option<&'a str>,
    /// When (RFC 3339).
    pub at: &'a str,
    /// Bytes served.
    pub bytes: u64,
}

impl HitTally {
    /// Counts one hit. Returns the counts to write now when the tally just reached
    /// [`MAX_KEYS`] (the caller writes them in the background), else `None`.
    pub fn count(&self, hit: Hit<'_>) -> Option<Vec<audit::HitCount>> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let key = Key {
            plugin: hit.plugin.to_owned(),
            data_type: hit.data_type.to_owned(),
            target: hit.target.to_owned(),
            requester: hit.requester.map(str::to_owned),
        };
        let tally = counts.entry(key).or_insert_with(|| Tally {
            first_at: hit.at.to_owned(),
            last_at: hit.at.to_owned(),
            hits: 0,
            bytes: 0,
        });
        tally.hits += 1;
        tally.bytes = tally.bytes.saturating_add(hit.bytes);
        hit.at.clone_into(&mut tally.last_at);
        if counts.len() >= MAX_KEYS {
            return Some(drain(&mut counts));
        }
        None
    }

    /// Takes every count out of the tally.
    pub fn take(&self) -> Vec<audit::HitCount> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        drain(&mut counts)
    }

    /// Hits counted and not yet written.
    pub fn pending(&self) -> u64 {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.values().map(|t| t.hits).sum()
    }
}

fn drain(counts: &mut HashMap<Key, Tally>) -> Vec<audit::HitCount> {
    counts
        .drain()
        .map(|(k, t)| audit::HitCount {
            plugin: k.plugin,
            data_type: k.data_type,
            target: k.target,
            requester: k.requester,
            first_at: t.first_at,
            last_at: t.last_at,
            hits: t.hits,
            bytes: t.bytes,
        })
        .collect()
}

/// Writes `counts` in one transaction; returns the rows written.
pub async fn write(store: &Store, counts: Vec<audit::HitCount>) -> Result<usize, StoreError> {
    if counts.is_empty() {
        return Ok(0);
    }
    store.call(move |c| audit::insert_hits(c, &counts)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit<'a>(target: &'a str, at: &'a str) -> Hit<'a> {
        Hit {
            plugin: "containers",
            data_type: "list",
            target,
            requester: Some("ops"),
            at,
            bytes: 10,
        }
    }

    #[test]
    fn hits_aggregate_per_key() {
        let tally = HitTally::default();
        for _ in 0..1000 {
            assert!(
                tally
                    .count(hit("web1", "2026-01-01T00:00:00.000Z"))
                    .is_none()
            );
        }
        assert!(
            tally
                .count(hit("web1", "2026-01-01T00:01:00.000Z"))
                .is_none()
        );
        assert!(
            tally
                .count(hit("web2", "2026-01-01T00:02:00.000Z"))
                .is_none()
        );
        assert_eq!(tally.pending(), 1002);
        let mut counts = tally.take();
        counts.sort_by(|a, b| a.target.cmp(&b.target));
        assert_eq!(counts.len(), 2);
        assert_eq!(counts[0].hits, 1001);
        assert_eq!(counts[0].bytes, 10_010);
        assert_eq!(counts[0].first_at, "2026-01-01T00:00:00.000Z");
        assert_eq!(counts[0].last_at, "2026-01-01T00:01:00.000Z");
        assert_eq!(counts[1].hits, 1);
        assert_eq!(tally.pending(), 0);
    }

    #[test]
    fn a_full_tally_hands_its_counts_over() {
        let tally = HitTally::default();
        let names: Vec<String> = (0..MAX_KEYS).map(|i| format!("h{i}")).collect();
        let mut handed = None;
        for (i, name) in names.iter().enumerate() {
            let out = tally.count(hit(name, "2026-01-01T00:00:00.000Z"));
            if i + 1 < MAX_KEYS {
                assert!(out.is_none());
            } else {
                handed = out;
            }
        }
        assert_eq!(handed.map(|c| c.len()), Some(MAX_KEYS));
        assert_eq!(tally.pending(), 0);
    }
}
