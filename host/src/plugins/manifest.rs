//! The host's own view of a plugin manifest: converted from the WIT types once at load,
//! checked (paths, parameters, schemas, patterns, quotas, capabilities), and used by routing,
//! validation, rate limiting, OpenAPI and `GET /api/plugins`.

use std::collections::BTreeSet;

use serde::Serialize;

use super::bindings::api;
use super::capability::Capability;
use crate::config::{Scope, validate_mount};
use crate::ratelimit::RateSpec;

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
    /// Routes relative to the mount.
    pub routes: Vec<RouteSpec>,
    /// Constant scripts for `ssh.run-script`.
    #[serde(skip)]
    pub scripts: Vec<ScriptSpec>,
    /// Parser names.
    pub parsers: Vec<String>,
    /// Periodic collectors.
    pub collectors: Vec<CollectorSpec>,
    /// Declared capabilities.
    pub capabilities: Vec<Capability>,
}

/// HTTP method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RouteMethod {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl RouteMethod {
    /// The `http` method.
    pub fn http(self) -> http::Method {
        match self {
            RouteMethod::Get => http::Method::GET,
            RouteMethod::Post => http::Method::POST,
            RouteMethod::Put => http::Method::PUT,
            RouteMethod::Patch => http::Method::PATCH,
            RouteMethod::Delete => http::Method::DELETE,
        }
    }

    fn from_wit(m: api::Method) -> Self {
        match m {
            api::Method::Get => RouteMethod::Get,
            api::Method::Post => RouteMethod::Post,
            api::Method::Put => RouteMethod::Put,
            api::Method::Patch => RouteMethod::Patch,
            api::Method::Delete => RouteMethod::Delete,
        }
    }

    /// The WIT method.
    pub fn to_wit(self) -> api::Method {
        match self {
            RouteMethod::Get => api::Method::Get,
            RouteMethod::Post => api::Method::Post,
            RouteMethod::Put => api::Method::Put,
            RouteMethod::Patch => api::Method::Patch,
            RouteMethod::Delete => api::Method::Delete,
        }
    }
}

/// One route.
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
    /// JSON Schema of the body.
    pub request_body: Option<serde_json::Value>,
    /// JSON Schema of the success response.
    pub response: Option<serde_json::Value>,
    /// Status of a success response.
    pub success_status: u16,
    /// Per-route quota.
    pub rate_limit: Option<RateSpec>,
    /// Whether the route changes state.
    pub mutates: bool,
    /// Scope a key needs.
    pub scope: Scope,
    /// Not mounted: runs only as a background job.
    pub internal: bool,
}

/// Where a parameter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamLocation {
    /// A `{name}` path segment.
    Path,
    /// The query string.
    Query,
}

/// A parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    /// Text.
    String,
    /// A 64-bit integer.
    Integer,
    /// A number.
    Number,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Boolean,
}

/// One declared parameter.
#[derive(Debug, Clone, Serialize)]
pub struct ParamSpec {
    /// Name.
    pub name: String,
    /// Path or query.
    pub location: ParamLocation,
    /// Type.
    pub kind: ParamKind,
    /// Must be present (always true for path parameters).
    pub required: bool,
    /// Description.
    pub description: String,
    /// Default applied when absent.
    pub default: Option<String>,
    /// Inclusive lower bound (numbers).
    pub minimum: Option<f64>,
    /// Inclusive upper bound (numbers).
    pub maximum: Option<f64>,
    /// Minimum length in characters (strings).
    pub min_length: Option<u32>,
    /// Maximum length in characters (strings).
    pub max_length: Option<u32>,
    /// Pattern the whole value must match.
    #[serde(serialize_with = "serialize_regex")]
    pub pattern: Option<regex::Regex>,
    /// Allowed values.
    pub allowed: Vec<String>,
}

fn serialize_regex<S: serde::Serializer>(
    re: &Option<regex::Regex>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match re {
        Some(r) => s.serialize_some(r.as_str()),
        None => s.serialize_none(),
    }
}

/// A constant script.
#[derive(Debug, Clone)]
pub struct ScriptSpec {
    /// Name used by `run-script`.
    pub name: String,
    /// The sh text.
    pub body: String,
    /// Programs it runs.
    pub programs: Vec<String>,
}

/// A periodic collector.
#[derive(Debug, Clone, Serialize)]
pub struct CollectorSpec {
    /// Name.
    pub name: String,
    /// Data type of its snapshots.
    pub data_type: String,
    /// Interval in seconds.
    pub interval_secs: u32,
    /// Parser name.
    pub parser: String,
    /// Steps (argv or script).
    #[serde(skip)]
    pub steps: Vec<api::CollectorStep>,
}

impl Manifest {
    /// Converts and checks a manifest returned by a plugin's `manifest()` export.
    pub fn from_wit(m: api::PluginManifest) -> Result<Manifest, String> {
        if !crate::config::is_plugin_name(&m.name) {
            return Err(format!(
                "plugin name `{}` must be lower-case letters, digits, `-` or `_`",
                m.name
            ));
        }
        validate_mount(&m.mount).map_err(|e| format!("mount `{}`: {e}", m.mount))?;
        let capabilities = m
            .capabilities
            .iter()
            .map(|c| Capability::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        let mut operation_ids = BTreeSet::new();
        let mut endpoints = BTreeSet::new();
        let mut routes = Vec::with_capacity(m.routes.len());
        for r in m.routes {
            let route = RouteSpec::from_wit(r)?;
            if !operation_ids.insert(route.operation_id.clone()) {
                return Err(format!("duplicate operation id `{}`", route.operation_id));
            }
            let shape = (route.method, normalise_template(&route.path));
            if !endpoints.insert(shape) {
                return Err(format!(
                    "route {:?} {} is declared twice",
                    route.method, route.path
                ));
            }
            routes.push(route);
        }
        let mut script_names = BTreeSet::new();
        let scripts = m
            .scripts
            .into_iter()
            .map(|s| {
                if !script_names.insert(s.name.clone()) {
                    return Err(format!("duplicate script `{}`", s.name));
                }
                if s.programs.is_empty() {
                    return Err(format!("script `{}` declares no programs", s.name));
                }
                Ok(ScriptSpec {
                    name: s.name,
                    body: s.body,
                    programs: s.programs,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let collectors = m
            .collectors
            .into_iter()
            .map(|c| {
                if c.interval_secs == 0 {
                    return Err(format!("collector `{}` has a zero interval", c.name));
                }
                if !m.parsers.contains(&c.parser) {
                    return Err(format!(
                        "collector `{}` uses undeclared parser `{}`",
                        c.name, c.parser
                    ));
                }
                Ok(CollectorSpec {
                    name: c.name,
                    data_type: c.data_type,
                    interval_secs: c.interval_secs,
                    parser: c.parser,
                    steps: c.steps,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Manifest {
            name: m.name,
            version: m.version,
            description: m.description,
            mount: m.mount,
            routes,
            scripts,
            parsers: m.parsers,
            collectors,
            capabilities,
        })
    }

    /// The script called `name`.
    pub fn script(&self, name: &str) -> Option<&ScriptSpec> {
        self.scripts.iter().find(|s| s.name == name)
    }
}

/// `/{a}/x/{b}` → `/{}/x/{}`: two templates with the same shape would collide in the router.
fn normalise_template(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "{}" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// Names of `{param}` segments in a path template, in order.
pub fn template_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|s| s.trim_start_matches('*').to_string())
        .collect()
}

impl RouteSpec {
    fn from_wit(r: api::Route) -> Result<RouteSpec, String> {
        let at = format!("route `{}`", r.operation_id);
        if r.operation_id.is_empty()
            || !r
                .operation_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "{at}: operation id must be letters, digits, `_`, `-`"
            ));
        }
        if !(r.path.is_empty() || r.path.starts_with('/')) || r.path.ends_with('/') {
            return Err(format!(
                "{at}: path `{}` must start with `/` and not end with one",
                r.path
            ));
        }
        for seg in r.path.split('/').skip(1) {
            let ok = if let Some(inner) = seg.strip_prefix('{') {
                inner.strip_suffix('}').is_some_and(|n| {
                    let n = n.strip_prefix('*').unwrap_or(n);
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
            } else {
                !seg.is_empty()
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c))
            };
            if !ok {
                return Err(format!("{at}: bad path segment `{seg}`"));
            }
        }
        let params = r
            .params
            .into_iter()
            .map(|p| ParamSpec::from_wit(p).map_err(|e| format!("{at}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let in_template: BTreeSet<String> = template_params(&r.path).into_iter().collect();
        let declared: BTreeSet<String> = params
            .iter()
            .filter(|p| p.location == ParamLocation::Path)
            .map(|p| p.name.clone())
            .collect();
        if in_template != declared {
            return Err(format!(
                "{at}: path parameters {in_template:?} and declared path params {declared:?} differ"
            ));
        }
        let mut names = BTreeSet::new();
        for p in &params {
            if !names.insert((p.location == ParamLocation::Path, p.name.clone())) {
                return Err(format!("{at}: parameter `{}` declared twice", p.name));
            }
        }
        let parse_schema = |text: Option<String>, what: &str| -> Result<_, String> {
            text.map(|t| {
                let v: serde_json::Value = serde_json::from_str(&t)
                    .map_err(|e| format!("{at}: {what} schema is not JSON: {e}"))?;
                jsonschema::validator_for(&v)
                    .map_err(|e| format!("{at}: {what} schema is invalid: {e}"))?;
                Ok(v)
            })
            .transpose()
        };
        let request_body = parse_schema(r.request_body, "request body")?;
        let response = parse_schema(r.response, "response")?;
        let rate_limit = r
            .rate_limit
            .map(|q| RateSpec::parse(&q).map_err(|e| format!("{at}: rate limit: {e}")))
            .transpose()?;
        let method = RouteMethod::from_wit(r.method);
        let scope = match r.scope {
            Some(api::Scope::Read) => Scope::Read,
            Some(api::Scope::Write) => Scope::Write,
            Some(api::Scope::Admin) => Scope::Admin,
            None if method == RouteMethod::Get => Scope::Read,
            None => Scope::Write,
        };
        if !(100..=599).contains(&r.success_status) {
            return Err(format!(
                "{at}: success status {} is not HTTP",
                r.success_status
            ));
        }
        Ok(RouteSpec {
            method,
            path: r.path,
            operation_id: r.operation_id,
            summary: r.summary,
            description: r.description,
            params,
            request_body,
            response,
            success_status: r.success_status,
            rate_limit,
            mutates: r.mutates,
            scope,
            internal: r.internal,
        })
    }
}

impl ParamSpec {
    fn from_wit(p: api::Param) -> Result<ParamSpec, String> {
        if p.name.is_empty() {
            return Err("a parameter has an empty name".into());
        }
        let location = match p.location {
            api::ParamLocation::Path => ParamLocation::Path,
            api::ParamLocation::Query => ParamLocation::Query,
        };
        let kind = match p.kind {
            api::ParamKind::String => ParamKind::String,
            api::ParamKind::Integer => ParamKind::Integer,
            api::ParamKind::Number => ParamKind::Number,
            api::ParamKind::Boolean => ParamKind::Boolean,
        };
        let pattern = p
            .pattern
            .map(|text| {
                regex::Regex::new(&format!("^(?:{text})$"))
                    .map_err(|e| format!("parameter `{}`: bad pattern: {e}", p.name))
            })
            .transpose()?;
        let spec = ParamSpec {
            name: p.name,
            required: p.required || location == ParamLocation::Path,
            location,
            kind,
            description: p.description,
            default: p.default,
            minimum: p.minimum,
            maximum: p.maximum,
            min_length: p.min_length,
            max_length: p.max_length,
            pattern,
            allowed: p.allowed,
        };
        if let Some(default) = &spec.default {
            crate::http::validate::check_value(&spec, default)
                .map_err(|e| format!("parameter `{}`: default `{default}` {e}", spec.name))?;
        }
        Ok(spec)
    }
}
