//! The unified collector: remote steps run over SSH, parsed by the plugin's own parser in a
//! separate instance, cached by the full key, shared by concurrent identical requests
//! (single-flight), persisted as snapshots, and audited (hits included).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use infrastructor_ssh::RemoteCommand;
use infrastructor_store::{audit, snapshots};
use tokio::sync::OnceCell;

use crate::plugins::bindings::WitError;
use crate::plugins::bindings::api::StepOutput;
use crate::plugins::bindings::infrastructor::plugin::collector as wit;
use crate::plugins::capability::Grants;
use crate::plugins::manifest::Manifest;
use crate::plugins::{CallContext, LoadedPlugin, PluginError};
use crate::remote::ssh_error;
use crate::services::HostServices;

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
}

#[derive(Clone)]
struct Fresh {
    data: Arc<str>,
    collected_at: String,
    at: Instant,
    duration_ms: u64,
}

type Flight = Arc<OnceCell<Result<Fresh, WitError>>>;

/// Cache and in-flight table.
pub struct Collector {
    cache: Mutex<HashMap<String, Fresh>>,
    inflight: Mutex<HashMap<String, Flight>>,
    capacity: usize,
}

/// What to collect, as the plugin asked (checked against its grants by the caller).
pub struct Request {
    /// Data type.
    pub data_type: String,
    /// Device hostname or raw host.
    pub target: String,
    /// Output-changing parameters.
    pub params: Vec<(String, String)>,
    /// Remote steps.
    pub steps: Vec<wit::Step>,
    /// Parser name.
    pub parser: String,
    /// Parser arguments (JSON).
    pub parser_args: String,
    /// Max age of a cached result.
    pub max_age: Duration,
    /// Bypass the cache.
    pub force_refresh: bool,
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

/// Checks that every step is within the plugin's grants.
pub fn check_steps(
    grants: &Grants,
    manifest: Option<&Manifest>,
    steps: &[wit::Step],
) -> Result<(), String> {
    for step in steps {
        match &step.command {
            wit::Command::Argv(argv) => {
                if argv.is_empty() {
                    return Err(format!("step `{}` has an empty argv", step.name));
                }
                if !grants.allows_exec(argv) {
                    return Err(format!("exec:{}", argv.join(" ")));
                }
            }
            wit::Command::Script((name, _)) => {
                let script = manifest
                    .and_then(|m| m.script(name))
                    .ok_or_else(|| format!("script:{name} (not declared)"))?;
                if let Some(p) = script.programs.iter().find(|p| !grants.allows_program(p)) {
                    return Err(format!("exec:{p}"));
                }
            }
        }
    }
    Ok(())
}

fn plugin_error(e: PluginError) -> WitError {
    match e {
        PluginError::Api(w) => w,
        PluginError::Deadline { .. } => WitError::Timeout(e.to_string()),
        other => WitError::Internal(other.to_string()),
    }
}

fn error_text(e: &WitError) -> String {
    match e {
        WitError::NotFound(m)
        | WitError::BadRequest(m)
        | WitError::Conflict(m)
        | WitError::Unavailable(m)
        | WitError::Timeout(m)
        | WitError::Forbidden(m)
        | WitError::Internal(m)
        | WitError::Upstream(m) => m.clone(),
    }
}

impl Collector {
    /// An empty collector keeping at most `capacity` cached results.
    pub fn new(capacity: usize) -> Collector {
        Collector {
            cache: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
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

    /// Collects for `plugin` (grants already checked), or serves from the cache.
    pub async fn collect(
        &self,
        services: &Arc<HostServices>,
        plugin: &Arc<LoadedPlugin>,
        request: Request,
        call: &CallContext,
    ) -> Result<Outcome, WitError> {
        let started = Instant::now();
        let started_at = crate::time::now_rfc3339();
        let name = plugin.manifest.name.clone();
        let key = cache_key(&name, &request.data_type, &request.target, &request.params);
        let mut hit = None;
        if !request.force_refresh {
            hit = self.cached(&key, request.max_age);
        }
        let (result, cache_hit) = match hit {
            Some(fresh) => (Ok(fresh), true),
            None => {
                let flight = {
                    let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
                    inflight.entry(key.clone()).or_default().clone()
                };
                let mut ran = false;
                let result = flight
                    .get_or_init(|| {
                        ran = true;
                        self.run(services, plugin, &request, &key, call)
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
                (result, !ran)
            }
        };
        let entry = audit::AuditEntry {
            plugin: name,
            data_type: request.data_type.clone(),
            target: request.target.clone(),
            cache_key: key.clone(),
            started_at: Some(started_at),
            duration_ms: started.elapsed().as_millis() as u64,
            cache_hit,
            force_refresh: request.force_refresh,
            status: if result.is_ok() {
                audit::AuditStatus::Ok
            } else {
                audit::AuditStatus::Error
            },
            error: result.as_ref().err().map(error_text),
            size_bytes: result.as_ref().map(|f| f.data.len() as u64).unwrap_or(0),
            requester: call.principal.clone(),
        };
        if let Err(e) = services.store.call(move |c| audit::insert(c, &entry)).await {
            tracing::warn!(error = %e, "cannot write collection audit row");
        }
        let fresh = result?;
        Ok(Outcome {
            data: fresh.data,
            cache_key: key,
            collected_at: fresh.collected_at,
            duration_ms: fresh.duration_ms,
            cache_hit,
        })
    }

    /// One real collection: steps in parallel over the pooled connection, parse, persist.
    async fn run(
        &self,
        services: &Arc<HostServices>,
        plugin: &Arc<LoadedPlugin>,
        request: &Request,
        key: &str,
        call: &CallContext,
    ) -> Result<Fresh, WitError> {
        let started = Instant::now();
        let target = services.remote.resolve(&request.target).await?;
        let mut commands = Vec::with_capacity(request.steps.len());
        for step in &request.steps {
            let command = match &step.command {
                wit::Command::Argv(argv) => RemoteCommand::Argv(argv.clone()),
                wit::Command::Script((name, args)) => {
                    let script = plugin
                        .manifest
                        .script(name)
                        .ok_or_else(|| WitError::BadRequest(format!("no script named `{name}`")))?;
                    RemoteCommand::Script {
                        body: script.body.clone(),
                        args: args.clone(),
                    }
                }
            };
            commands.push((
                step.name.clone(),
                command,
                services.remote.timeout(step.timeout_ms),
            ));
        }
        let pool = services.remote.pool.clone();
        let runs = commands.into_iter().map(|(name, command, timeout)| {
            let pool = pool.clone();
            let target = target.clone();
            async move {
                let out = pool
                    .exec(&target, &command, None, timeout)
                    .await
                    .map_err(ssh_error)?;
                Ok::<StepOutput, WitError>(StepOutput {
                    name,
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
        let data = plugin
            .parse(
                request.parser.clone(),
                outputs,
                request.parser_args.clone(),
                call.clone(),
            )
            .await
            .map_err(plugin_error)?;
        let value: serde_json::Value = serde_json::from_str(&data).map_err(|e| {
            WitError::Internal(format!(
                "parser `{}` returned invalid JSON: {e}",
                request.parser
            ))
        })?;
        let duration_ms = started.elapsed().as_millis() as u64;
        let collected_at = crate::time::now_rfc3339();
        let snapshot = snapshots::NewSnapshot {
            plugin: plugin.manifest.name.clone(),
            data_type: request.data_type.clone(),
            target: request.target.to_ascii_lowercase(),
            cache_key: key.to_string(),
            collected_at: Some(collected_at.clone()),
            duration_ms,
            data: value,
        };
        if let Err(e) = services
            .store
            .call(move |c| snapshots::insert(c, &snapshot))
            .await
        {
            tracing::warn!(error = %e, "cannot persist snapshot");
        }
        Ok(Fresh {
            data: data.into(),
            collected_at,
            at: Instant::now(),
            duration_ms,
        })
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
