//! The host's own view of a plugin manifest: the shared model
//! ([`infrastructor_manifest::Manifest`]), checked with the same rules the SDK applies, then
//! compiled for serving (parameter patterns as regexes, schemas as JSON, quotas as limiter
//! specs, scopes resolved). Used by routing, validation, rate limiting, OpenAPI and
//! `GET /api/plugins`.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};

use infrastructor_manifest as model;
use serde::Serialize;

pub use model::{Capability, ParamKind, ParamLocation, PeriodicCollector as CollectorSpec};
pub use model::{Method as RouteMethod, Script as ScriptSpec};

use super::bindings::ApiVersion;
use crate::config::Scope;

/// Why a manifest cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// It breaks the manifest rules.
    #[error("invalid manifest: {0}")]
    Invalid(#[from] model::Problems),
    /// A route's schema is JSON but not a JSON Schema the host can compile.
    #[error("route `{route}`: the {what} schema is invalid: {message}")]
    Schema {
        /// Operation id.
        route: String,
        /// `request body` or `response`.
        what: &'static str,
        /// The compiler's message.
        message: String,
    },
}

/// A checked plugin manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// Unique plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// One-line description.
    pub description: String,
    /// Default mount under `/api`.
    pub mount: String,
    /// The plugin API version it was built against.
    pub api_version: ApiVersion,
    /// Routes relative to the mount.
    pub routes: Vec<RouteSpec>,
    /// Constant scripts for `ssh.run-script` and collector steps.
    #[serde(skip)]
    pub scripts: Vec<ScriptSpec>,
    /// Parser names.
    pub parsers: Vec<String>,
    /// Periodic collectors.
    pub collectors: Vec<CollectorSpec>,
    /// Declared capabilities.
    pub capabilities: Vec<Capability>,
}

/// One route, compiled for serving.
#[derive(Debug, Clone, Serialize)]
pub struct RouteSpec {
    /// Method.
    pub method: RouteMethod,
    /// Path template relative to the mount (`/{hostname}/status`).
    pub path: String,
    /// Operation id, unique within the plugin.
    pub operation_id: String,
    /// One-line summary.
    pub summary: String,
    /// Longer description.
    pub description: String,
    /// Declared parameters.
    pub params: Vec<ParamSpec>,
    /// JSON Schema of the body (shared: routes are cloned into every binding).
    pub request_body: Option<Arc<serde_json::Value>>,
    /// JSON Schema of the success response (shared, as the body's).
    pub response: Option<Arc<serde_json::Value>>,
    /// Status of a success response.
    pub success_status: u16,
    /// Per-route quota.
    pub rate_limit: Option<model::Quota>,
    /// Whether the route changes state.
    pub mutates: bool,
    /// Scope a key needs.
    pub scope: Scope,
    /// Not mounted: runs only as a background job.
    pub internal: bool,
    /// Runs as a job: answers 202 with the job.
    pub long_running: bool,
    /// The body streams to a remote command, never buffered.
    pub stream_body: bool,
    /// Error statuses the handler declares it answers (the host adds its own).
    pub errors: Vec<model::ErrorStatus>,
    /// May answer Server-Sent Events instead of JSON.
    pub event_stream: bool,
    /// The host may replay a stored answer while the collections it read are unchanged.
    pub cacheable: bool,
}

/// One declared parameter with its pattern compiled.
#[derive(Debug, Clone, Serialize)]
pub struct ParamSpec {
    /// The declaration.
    #[serde(flatten)]
    pub param: model::Param,
    /// The pattern, anchored and compiled.
    #[serde(skip)]
    pub regex: Option<regex::Regex>,
}

impl Deref for ParamSpec {
    type Target = model::Param;

    fn deref(&self) -> &model::Param {
        &self.param
    }
}

impl ParamSpec {
    /// Compiles a declaration (its pattern must compile: the manifest rules checked it).
    pub fn new(param: model::Param) -> Result<ParamSpec, String> {
        let regex = param.pattern.as_deref().map(shared_regex).transpose()?;
        Ok(ParamSpec { param, regex })
    }
}

/// Most routes repeat the same few patterns (a hostname, a container name) and a counted
/// repetition such as `{0,252}` compiles to a large automaton, so each distinct anchored
/// pattern is compiled once per process and shared (a `Regex` clone shares its program).
/// The table only grows with distinct patterns of loaded manifests.
fn shared_regex(pattern: &str) -> Result<regex::Regex, String> {
    static COMPILED: OnceLock<Mutex<HashMap<String, regex::Regex>>> = OnceLock::new();
    let anchored = model::value::anchored(pattern);
    let table = COMPILED.get_or_init(Default::default);
    let mut table = table
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(regex) = table.get(&anchored) {
        return Ok(regex.clone());
    }
    let regex = regex::Regex::new(&anchored).map_err(|e| e.to_string())?;
    table.insert(anchored, regex.clone());
    Ok(regex)
}

impl Manifest {
    /// Checks a manifest with the rules of `version` and compiles it.
    pub fn compile(m: model::Manifest, version: ApiVersion) -> Result<Manifest, ManifestError> {
        match version {
            ApiVersion::V0_1 => m.validate_v0_1()?,
            ApiVersion::V0_2 => m.validate()?,
        }
        let routes = m
            .routes
            .into_iter()
            .map(RouteSpec::compile)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Manifest {
            name: m.name,
            version: m.version,
            description: m.description,
            mount: m.mount,
            api_version: version,
            routes,
            scripts: m.scripts,
            parsers: m.parsers,
            collectors: m.collectors,
            capabilities: m.capabilities,
        })
    }

    /// The script called `name`.
    pub fn script(&self, name: &str) -> Option<&ScriptSpec> {
        self.scripts.iter().find(|s| s.name == name)
    }
}

impl RouteSpec {
    fn compile(r: model::Route) -> Result<RouteSpec, ManifestError> {
        let id = r.operation_id.clone();
        // A body schema must compile (bodies are validated with it); a response schema is
        // documentation, so it only has to be a valid JSON Schema (compiling every typed
        // answer's validator at start-up cost megabytes for nothing).
        let schema = |text: Option<String>, what: &'static str, compile: bool| {
            text.map(|t| {
                let fail = |message: String| ManifestError::Schema {
                    route: id.clone(),
                    what,
                    message,
                };
                let v: serde_json::Value =
                    serde_json::from_str(&t).map_err(|e| fail(e.to_string()))?;
                if compile {
                    jsonschema::validator_for(&v).map_err(|e| fail(e.to_string()))?;
                } else {
                    jsonschema::meta::validate(&v).map_err(|e| fail(e.to_string()))?;
                }
                Ok::<_, ManifestError>(Arc::new(v))
            })
            .transpose()
        };
        let request_body = schema(r.request_body.clone(), "request body", true)?;
        let response = schema(r.response.clone(), "response", false)?;
        let scope = match r.effective_scope() {
            model::Scope::Read => Scope::Read,
            model::Scope::Write => Scope::Write,
            model::Scope::Admin => Scope::Admin,
        };
        let params = r
            .params
            .into_iter()
            .map(ParamSpec::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                ManifestError::Invalid(model::Problems(vec![format!("route `{id}`: {e}")]))
            })?;
        Ok(RouteSpec {
            method: r.method,
            path: r.path,
            operation_id: r.operation_id,
            summary: r.summary,
            description: r.description,
            params,
            request_body,
            response,
            success_status: r.success_status,
            rate_limit: r.rate_limit,
            mutates: r.mutates,
            scope,
            internal: r.internal,
            long_running: r.long_running,
            stream_body: r.stream_body,
            errors: r.errors,
            event_stream: r.event_stream,
            cacheable: r.cacheable,
        })
    }
}
