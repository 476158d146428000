//! Stored answers of `cacheable` routes, replayed without running the plugin.
//!
//! A route that declares `cacheable` says its answer depends only on the request and the
//! collections its handler reads. The host holds it to that:
//! - while a cacheable call runs, its instance keeps an [`AnswerTrace`]: every collection
//!   served from the collector's cache is recorded, and anything else the call reads (an
//!   `ssh`, `storage`, `registry` or `jobs` import, a real clock, a granted directory, a
//!   collection that had to run) marks it impure;
//! - only a pure call's complete `2xx` answer is stored, under a key made of the plugin's
//!   load, the operation, the caller's key name, the path and every validated query
//!   parameter (defaults included), so a request that differs in any of them never shares
//!   an answer;
//! - a stored answer is replayed only while the collector still holds every one of those
//!   very results within the max age the handler asked for ([`Collector::replay`]); then the
//!   handler, run again, would be served the same bytes and answer the same. Otherwise the
//!   entry is dropped and the handler runs.
//!
//! Scope checks, quotas and parameter validation run before the lookup, on every request.
//! The cache is bounded in bytes and entries; the oldest entries go first.
//!
//! [`Collector::replay`]: crate::collector::Collector::replay

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::answer_flight::Flights;
use crate::collector::CachedRead;

/// Most entries held, whatever their size.
pub const MAX_ENTRIES: usize = 4096;

/// What one cacheable call read, recorded by its instance.
#[derive(Debug, Default)]
pub struct AnswerTrace {
    reads: Vec<CachedRead>,
    impure: Cell<bool>,
}

impl AnswerTrace {
    /// Records a collection served from the cache.
    pub fn read(&mut self, read: CachedRead) {
        self.reads.push(read);
    }

    /// Marks the call as having read something the cache cannot check (an import other than
    /// the collector, a collection that ran, a clock).
    pub fn taint(&self) {
        self.impure.set(true);
    }

    /// The reads of a pure call; `None` when anything tainted it.
    pub fn into_reads(self) -> Option<Vec<CachedRead>> {
        (!self.impure.get()).then_some(self.reads)
    }
}

/// A stored answer: what the handler answered, and what it was built from.
#[derive(Debug)]
pub struct StoredAnswer {
    /// HTTP status (2xx).
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// The handler's further headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: bytes::Bytes,
    reads: Vec<CachedRead>,
    seq: u64,
}

impl StoredAnswer {
    /// The collections the answer was built from.
    pub fn reads(&self) -> &[CachedRead] {
        &self.reads
    }

    fn size(&self, key: &str) -> usize {
        key.len()
            + self.body.len()
            + self.content_type.len()
            + self
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>()
            + self.reads.iter().map(CachedRead::size).sum::<usize>()
            + std::mem::size_of::<Self>()
    }
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, Arc<StoredAnswer>>,
    bytes: usize,
    seq: u64,
}

/// The stored answers, bounded by bytes and by [`MAX_ENTRIES`].
pub struct AnswerCache {
    entries: Mutex<Entries>,
    max_bytes: usize,
    flights: Flights,
}

/// The key of one request to a cacheable route: the plugin's load (a reloaded plugin never
/// sees its predecessor's answers), operation, caller, path and validated query, each part
/// length-prefixed so no two different requests can build the same key.
pub fn key(
    load_id: u64,
    operation_id: &str,
    principal: Option<&str>,
    path: &str,
    query: &[(String, String)],
) -> String {
    fn part(key: &mut String, s: &str) {
        key.push_str(&s.len().to_string());
        key.push(':');
        key.push_str(s);
    }
    let mut key = String::with_capacity(64 + path.len());
    part(&mut key, &load_id.to_string());
    part(&mut key, operation_id);
    match principal {
        Some(p) => part(&mut key, p),
        None => key.push('-'),
    }
    part(&mut key, path);
    for (name, value) in query {
        part(&mut key, name);
        part(&mut key, value);
    }
    key
}

impl AnswerCache {
    /// A cache holding at most `max_bytes` (0 = never store anything).
    pub fn new(max_bytes: usize) -> AnswerCache {
        AnswerCache {
            entries: Mutex::new(Entries::default()),
            max_bytes,
            flights: Flights::default(),
        }
    }

    /// The keys being computed now: a request that finds no answer joins here, so only
    /// one instance computes each missing answer ([`super::answer_flight`]).
    pub fn flights(&self) -> &Flights {
        &self.flights
    }

    /// Whether answers are stored at all.
    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
    }

    /// The stored answer under `key`, if any (still to be checked with
    /// [`Collector::replay`](crate::collector::Collector::replay)).
    pub fn get(&self, key: &str) -> Option<Arc<StoredAnswer>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.map.get(key).cloned()
    }

    /// Drops `stale` (a replay found its reads gone), unless a newer answer replaced it.
    pub fn forget(&self, key: &str, stale: &Arc<StoredAnswer>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.map.get(key).is_some_and(|e| Arc::ptr_eq(e, stale)) {
            remove(&mut entries, key);
        }
    }

    /// Stores a pure call's answer. Nothing is stored for a call without reads (nothing
    /// would ever invalidate it), a status other than 2xx, or an answer larger than an
    /// eighth of the budget. Older entries are dropped to make room.
    pub fn store(
        &self,
        key: String,
        status: u16,
        content_type: String,
        headers: Vec<(String, String)>,
        body: bytes::Bytes,
        reads: Vec<CachedRead>,
    ) -> bool {
        if !self.enabled() || reads.is_empty() || !(200..300).contains(&status) {
            return false;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.seq += 1;
        let answer = StoredAnswer {
            status,
            content_type,
            headers,
            body,
            reads,
            seq: entries.seq,
        };
        let size = answer.size(&key);
        if size > self.max_bytes / 8 {
            return false;
        }
        remove(&mut entries, &key);
        while entries.bytes + size > self.max_bytes || entries.map.len() >= MAX_ENTRIES {
            let Some(oldest) = entries
                .map
                .iter()
                .min_by_key(|(_, a)| a.seq)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            remove(&mut entries, &oldest);
        }
        entries.bytes += size;
        entries.map.insert(key, Arc::new(answer));
        true
    }

    /// (entries, bytes) held now.
    pub fn usage(&self) -> (usize, usize) {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        (entries.map.len(), entries.bytes)
    }
}

fn remove(entries: &mut Entries, key: &str) {
    if let Some(old) = entries.map.remove(key) {
        entries.bytes = entries.bytes.saturating_sub(old.size(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_whenever_any_part_differs() {
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        let base = key(1, "list", Some("ops"), "/h1", &q(&[("all", "true")]));
        let variants = [
            key(2, "list", Some("ops"), "/h1", &q(&[("all", "true")])),
            key(1, "lists", Some("ops"), "/h1", &q(&[("all", "true")])),
            key(1, "list", None, "/h1", &q(&[("all", "true")])),
            key(1, "list", Some("ops2"), "/h1", &q(&[("all", "true")])),
            key(1, "list", Some("ops"), "/h2", &q(&[("all", "true")])),
            key(1, "list", Some("ops"), "/h1", &q(&[("all", "false")])),
            key(1, "list", Some("ops"), "/h1", &q(&[])),
            // A separator inside a value cannot fake another parameter.
            key(1, "list", Some("ops"), "/h1", &q(&[("all", "true4:x")])),
            key(1, "list", Some("ops"), "/h1", &q(&[("al", "ltrue")])),
        ];
        for v in &variants {
            assert_ne!(&base, v);
        }
        assert_eq!(
            base,
            key(1, "list", Some("ops"), "/h1", &q(&[("all", "true")]))
        );
    }

    #[test]
    fn a_pure_trace_gives_its_reads_and_a_tainted_one_none() {
        let t = AnswerTrace::default();
        assert!(t.into_reads().is_some_and(|r| r.is_empty()));
        let t = AnswerTrace::default();
        t.taint();
        assert!(t.into_reads().is_none());
    }
}
