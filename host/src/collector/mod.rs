//! The unified collector: remote steps run over SSH, handed to a parser (the plugin's own, in
//! a separate instance, supplied by the caller as a callback), cached by the full key, shared
//! by concurrent identical requests (single-flight), persisted as snapshots, and audited:
//! a row for every remote run and every failure, cache hits counted in memory and written
//! as aggregates ([`hits`]).
//!
//! The collector knows nothing of plugins or their API: its caller (the plugin runtime) has
//! checked the steps against the plugin's grants and resolved scripts into commands.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use infrastructor_ssh::RemoteCommand;
use infrastructor_store::{Store, audit, snapshots};
use serde_json::value::RawValue;
use tokio::sync::OnceCell;

use crate::fault::{Fault, FaultKind};
use crate::metrics::CollectResult;
use crate::remote::Remote;

pub mod hits;

/// A collection's answer.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Parsed JSON text.
    pub data: Arc<str>,
    /// The full cache key.
    pub cache_key: String,
    /// RFC 3339 collection time.
    pub collected_at: String,
    /// Remote steps + parse, in ms.
    pub duration_ms: u64,
    /// Served without a remote run of its own (cache or a shared in-flight run).
    pub cache_hit: bool,
    /// The cached result this answer is, when it was served without a run of its own: what
    /// a stored plugin answer built from it is checked against ([`Collector::replay`]).
    pub read: Option<CachedRead>,
}

/// One collection served from the cache (or joined in flight), remembered with a stored
/// plugin answer built from it. The answer may be replayed while the collector still holds
/// this very result (not a newer one) within the max age the plugin asked for: then the
/// plugin, asking again, would be served the same bytes.
#[derive(Debug, Clone)]
pub struct CachedRead {
    key: String,
    data: Arc<str>,
    max_age: Duration,
    plugin: String,
    data_type: String,
    target: String,
    requester: Option<String>,
}

impl CachedRead {
    /// Memory it holds beyond the shared result: for a cache's budget.
    pub fn size(&self) -> usize {
        self.key.len()
            + self.plugin.len()
            + self.data_type.len()
            + self.target.len()
            + self.requester.as_ref().map_or(0, String::len)
            + std::mem::size_of::<Self>()
    }
}

/// Why a collection failed. Cloned to every request sharing the run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CollectError {
    /// A step could not run (connection, timeout, output cap, invalid target).
    #[error("{0}")]
    Remote(Fault),
    /// The parser failed, with the kind it chose.
    #[error("{0}")]
    Parser(Fault),
    /// The parser answered something that is not JSON.
    #[error("parser `{parser}` returned invalid JSON: {message}")]
    InvalidOutput {
        /// The parser.
        parser: String,
        /// serde_json's message.
        message: String,
    },
}

impl From<CollectError> for Fault {
    fn from(e: CollectError) -> Fault {
        match e {
            CollectError::Remote(f) | CollectError::Parser(f) => f,
            other @ CollectError::InvalidOutput { .. } => {
                Fault::new(FaultKind::Internal, other.to_string())
            }
        }
    }
}

/// One remote step, ready to run.
#[derive(Debug, Clone)]
pub struct Step {
    /// The name its output reaches the parser under.
    pub name: String,
    /// What to run.
    pub command: RemoteCommand,
    /// Timeout in ms (0 = the default).
    pub timeout_ms: u32,
}

/// One step's output, as handed to the parser.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// The step's name.
    pub name: String,
    /// Remote exit status (-1 when killed by a signal).
    pub exit_code: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

#[derive(Clone)]
struct Fresh {
    data: Arc<str>,
    collected_at: String,
    at: Instant,
    duration_ms: u64,
}

type Flight = Arc<OnceCell<Result<Fresh, CollectError>>>;

/// Cache and in-flight table.
pub struct Collector {
    remote: Arc<Remote>,
    store: Store,
    cache: Mutex<HashMap<String, Fresh>>,
    inflight: Mutex<HashMap<String, Flight>>,
    capacity: usize,
    hits: hits::HitTally,
    metrics: Arc<crate::metrics::Metrics>,
}

/// What to collect.
pub struct Request {
    /// The plugin the data belongs to (part of the key; the snapshots' owner).
    pub plugin: String,
    /// Data type.
    pub data_type: String,
    /// Device hostname or raw host.
    pub target: String,
    /// Output-changing parameters.
    pub params: Vec<(String, String)>,
    /// Remote steps, run concurrently.
    pub steps: Vec<Step>,
    /// The parser's name, for messages.
    pub parser: String,
    /// Max age of a cached result.
    pub max_age: Duration,
    /// Bypass the cache.
    pub force_refresh: bool,
    /// Who asked (the audit row's requester).
    pub requester: Option<String>,
    /// What the caller may do with an unregistered host.
    pub hosts: crate::remote::HostAccess,
}

fn encode(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for b in part.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `plugin:data_type:target?k=v&…` with every part percent-encoded and the parameters
/// sorted, so equal requests have equal keys and different ones never collide.
pub fn cache_key(
    plugin: &str,
    data_type: &str,
    target: &str,
    params: &[(String, String)],
) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let query: Vec<String> = sorted
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let mut key = format!(
        "{}:{}:{}",
        encode(plugin),
        encode(data_type),
        encode(&target.to_ascii_lowercase())
    );
    if !query.is_empty() {
        key.push('?');
        key.push_str(&query.join("&"));
    }
    key
}

impl Collector {
    /// An empty collector running steps through `remote`, persisting to `store`, keeping at
    /// most `capacity` cached results, counting hits, misses and shared runs in `metrics`.
    pub fn new(
        remote: Arc<Remote>,
        store: Store,
        capacity: usize,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Collector {
        Collector {
            remote,
            store,
            cache: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            hits: hits::HitTally::default(),
            metrics,
        }
    }

    fn cached(&self, key: &str, max_age: Duration) -> Option<Fresh> {
        let cache = self.cache.lock().ok()?;
        cache.get(key).filter(|f| f.at.elapsed() < max_age).cloned()
    }

    fn remember(&self, key: &str, fresh: &Fresh) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= self.capacity
                && !cache.contains_key(key)
                && let Some(oldest) = cache
                    .iter()
                    .min_by_key(|(_, f)| f.at)
                    .map(|(k, _)| k.clone())
            {
                cache.remove(&oldest);
            }
            cache.insert(key.to_string(), fresh.clone());
        }
    }

    /// Collects, or serves from the cache. `parse` turns the step outputs into JSON text; it
    /// runs only for a real collection, never for a cache hit or a shared run.
    pub async fn collect<P, F>(&self, request: Request, parse: P) -> Result<Outcome, CollectError>
    where
        P: FnOnce(Vec<StepOutput>) -> F,
        F: Future<Output = Result<String, Fault>>,
    {
        let started = Instant::now();
        let started_at = crate::time::now_rfc3339();
        let key = cache_key(
            &request.plugin,
            &request.data_type,
            &request.target,
            &request.params,
        );
        let mut hit = None;
        if !request.force_refresh {
            hit = self.cached(&key, request.max_age);
        }
        let (result, cache_hit) = match hit {
            Some(fresh) => {
                self.metrics.collection(
                    &request.plugin,
                    &request.data_type,
                    CollectResult::Hit,
                    Duration::ZERO,
                );
                (Ok(fresh), true)
            }
            None => {
                let flight = {
                    let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
                    inflight.entry(key.clone()).or_default().clone()
                };
                let mut ran = false;
                let result = flight
                    .get_or_init(|| {
                        ran = true;
                        self.run(&request, &key, parse, &started_at, started)
                    })
                    .await
                    .clone();
                if ran {
                    if let Ok(mut inflight) = self.inflight.lock()
                        && inflight.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight))
                    {
                        inflight.remove(&key);
                    }
                    if let Ok(fresh) = &result {
                        self.remember(&key, fresh);
                    }
                }
                self.metrics.collection(
                    &request.plugin,
                    &request.data_type,
                    if ran {
                        CollectResult::Miss
                    } else {
                        CollectResult::Shared
                    },
                    started.elapsed(),
                );
                (result, !ran)
            }
        };
        match &result {
            Ok(fresh) if cache_hit => self.count_hit(&request, &started_at, fresh.data.len()),
            // The run wrote its audit row with its snapshot.
            _ if !cache_hit => {}
            _ => {
                let entry = audit_entry(&request, &key, started_at, started, cache_hit, &result);
                if let Err(e) = self.store.call(move |c| audit::insert(c, &entry)).await {
                    tracing::warn!(error = %e, "cannot write collection audit row");
                }
            }
        }
        let fresh = result?;
        let read = cache_hit.then(|| CachedRead {
            key: key.clone(),
            data: fresh.data.clone(),
            max_age: request.max_age,
            plugin: request.plugin,
            data_type: request.data_type,
            target: request.target,
            requester: request.requester,
        });
        Ok(Outcome {
            data: fresh.data,
            cache_key: key,
            collected_at: fresh.collected_at,
            duration_ms: fresh.duration_ms,
            cache_hit,
            read,
        })
    }

    /// Whether every read still stands: the cache holds the very same result under its key,
    /// younger than the read's max age. When they all do, each is counted as a cache hit
    /// (the same tally a plugin's own cached collect adds to) and the answer built from them
    /// may be replayed; otherwise nothing is counted.
    pub fn replay(&self, reads: &[CachedRead]) -> bool {
        {
            let Ok(cache) = self.cache.lock() else {
                return false;
            };
            let stands = |r: &CachedRead| {
                cache
                    .get(&r.key)
                    .is_some_and(|f| Arc::ptr_eq(&f.data, &r.data) && f.at.elapsed() < r.max_age)
            };
            if !reads.iter().all(stands) {
                return false;
            }
        }
        let at = crate::time::now_rfc3339();
        for r in reads {
            self.metrics
                .collection(&r.plugin, &r.data_type, CollectResult::Hit, Duration::ZERO);
            self.count(hits::Hit {
                plugin: &r.plugin,
                data_type: &r.data_type,
                target: &r.target,
                requester: r.requester.as_deref(),
                at: &at,
                bytes: r.data.len() as u64,
            });
        }
        true
    }

    /// Counts a cache hit (or a join of a run already in flight) in memory; a full tally is
    /// written in the background.
    fn count_hit(&self, request: &Request, at: &str, bytes: usize) {
        self.count(hits::Hit {
            plugin: &request.plugin,
            data_type: &request.data_type,
            target: &request.target,
            requester: request.requester.as_deref(),
            at,
            bytes: bytes as u64,
        });
    }

    /// Counts one hit; a full tally is written in the background.
    fn count(&self, hit: hits::Hit<'_>) {
        if let Some(counts) = self.hits.count(hit) {
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(e) = hits::write(&store, counts).await {
                    tracing::warn!(error = %e, "cannot write cache hit counts");
                }
            });
        }
    }

    /// Writes the hits counted so far (periodically, and at shutdown); returns the rows.
    pub async fn flush_hits(&self) -> usize {
        match hits::write(&self.store, self.hits.take()).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot write cache hit counts");
                0
            }
        }
    }

    /// One real collection ([`Collector::run_steps`]), recorded: its snapshot (when it
    /// produced data) and its audit row are written in one transaction, before anyone
    /// waiting on the flight sees the result.
    async fn run<P, F>(
        &self,
        request: &Request,
        key: &str,
        parse: P,
        started_at: &str,
        started: Instant,
    ) -> Result<Fresh, CollectError>
    where
        P: FnOnce(Vec<StepOutput>) -> F,
        F: Future<Output = Result<String, Fault>>,
    {
        let (result, snapshot) = match self.run_steps(request, parse).await {
            Ok((fresh, data)) => {
                let snapshot = snapshots::NewSnapshot {
                    plugin: request.plugin.clone(),
                    data_type: request.data_type.clone(),
                    target: request.target.to_ascii_lowercase(),
                    cache_key: key.to_string(),
                    collected_at: Some(fresh.collected_at.clone()),
                    duration_ms: fresh.duration_ms,
                    data,
                };
                (Ok(fresh), Some(snapshot))
            }
            Err(e) => (Err(e), None),
        };
        let entry = audit_entry(request, key, started_at.to_owned(), started, false, &result);
        let recorded = self
            .store
            .call(move |c| {
                let tx = c.transaction()?;
                if let Some(snapshot) = &snapshot {
                    snapshots::insert(&tx, snapshot)?;
                }
                audit::insert(&tx, &entry)?;
                tx.commit()?;
                Ok(())
            })
            .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "cannot write the collection's snapshot and audit row");
        }
        result
    }

    /// Runs the steps in parallel over the pooled connection and parses their outputs;
    /// answers the result and its JSON text for the snapshot.
    async fn run_steps<P, F>(
        &self,
        request: &Request,
        parse: P,
    ) -> Result<(Fresh, Box<RawValue>), CollectError>
    where
        P: FnOnce(Vec<StepOutput>) -> F,
        F: Future<Output = Result<String, Fault>>,
    {
        let started = Instant::now();
        let remote = |e| CollectError::Remote(Fault::from(e));
        let target = self
            .remote
            .resolve(&request.target, request.hosts)
            .await
            .map_err(remote)?;
        let runs = request.steps.iter().map(|step| {
            let target = target.clone();
            async move {
                let out = self
                    .remote
                    .pool
                    .exec(
                        &target,
                        &step.command,
                        None,
                        self.remote.timeout(step.timeout_ms),
                    )
                    .await
                    .map_err(|e| {
                        CollectError::Remote(Fault::from(crate::remote::RemoteError::Ssh(e)))
                    })?;
                Ok::<StepOutput, CollectError>(StepOutput {
                    name: step.name.clone(),
                    exit_code: out.exit_code,
                    stdout: out.stdout,
                    stderr: out.stderr,
                })
            }
        });
        let outputs = futures::future::join_all(runs)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        let data = parse(outputs).await.map_err(CollectError::Parser)?;
        // Checked once here, and kept as the parser wrote it: the cache serves this text and
        // the snapshot stores it.
        let text: Arc<str> = data.as_str().into();
        let json = RawValue::from_string(data).map_err(|e| CollectError::InvalidOutput {
            parser: request.parser.clone(),
            message: e.to_string(),
        })?;
        Ok((
            Fresh {
                data: text,
                collected_at: crate::time::now_rfc3339(),
                at: Instant::now(),
                duration_ms: started.elapsed().as_millis() as u64,
            },
            json,
        ))
    }
}

/// The audit row of a remote run, a shared run or a failure.
fn audit_entry(
    request: &Request,
    key: &str,
    started_at: String,
    started: Instant,
    cache_hit: bool,
    result: &Result<Fresh, CollectError>,
) -> audit::AuditEntry {
    audit::AuditEntry {
        plugin: request.plugin.clone(),
        data_type: request.data_type.clone(),
        target: request.target.clone(),
        cache_key: key.to_owned(),
        started_at: Some(started_at),
        duration_ms: started.elapsed().as_millis() as u64,
        cache_hit,
        force_refresh: request.force_refresh,
        status: if result.is_ok() {
            audit::AuditStatus::Ok
        } else {
            audit::AuditStatus::Error
        },
        error: result.as_ref().err().map(ToString::to_string),
        size_bytes: result.as_ref().map(|f| f.data.len() as u64).unwrap_or(0),
        requester: request.requester.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_include_every_parameter_in_a_stable_order() {
        let a = cache_key(
            "containers",
            "logs",
            "Web",
            &[
                ("container".into(), "a".into()),
                ("tail".into(), "10".into()),
            ],
        );
        let b = cache_key(
            "containers",
            "logs",
            "web",
            &[
                ("tail".into(), "10".into()),
                ("container".into(), "a".into()),
            ],
        );
        let c = cache_key(
            "containers",
            "logs",
            "web",
            &[
                ("container".into(), "b".into()),
                ("tail".into(), "10".into()),
            ],
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, "containers:logs:web?container=a&tail=10");
        let tricky = cache_key("p", "t", "h", &[("k".into(), "a&b=c".into())]);
        assert_eq!(tricky, "p:t:h?k=a%26b%3Dc");
    }
}
