//! Routes and their parameters.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::quota::Quota;
use crate::value;

/// HTTP method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
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

impl Method {
    /// The method's name in upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scope a caller's key needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Reading.
    Read,
    /// Changing state.
    Write,
    /// Administration.
    Admin,
}

/// Where a parameter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamLocation {
    /// A `{name}` path segment.
    Path,
    /// The query string.
    Query,
}

/// A parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    /// Text.
    String,
    /// A 64-bit signed integer.
    Integer,
    /// A finite number.
    Number,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`, any case).
    Boolean,
}

/// A declared path or query parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Name.
    pub name: String,
    /// Path or query.
    pub location: ParamLocation,
    /// Type.
    pub kind: ParamKind,
    /// Must be present (path parameters always are).
    pub required: bool,
    /// Description for the docs.
    pub description: String,
    /// Default applied when absent (query only), in text form.
    pub default: Option<String>,
    /// Inclusive lower bound (numbers).
    pub minimum: Option<f64>,
    /// Inclusive upper bound (numbers).
    pub maximum: Option<f64>,
    /// Minimum length in characters (strings).
    pub min_length: Option<u32>,
    /// Maximum length in characters (strings).
    pub max_length: Option<u32>,
    /// A regular expression the whole value must match (strings; `regex` syntax).
    pub pattern: Option<String>,
    /// Allowed values, when the set is closed.
    pub allowed: Vec<String>,
}

impl Param {
    /// A string parameter with no constraints.
    pub fn new(name: &str, location: ParamLocation) -> Param {
        Param {
            name: name.to_owned(),
            location,
            kind: ParamKind::String,
            required: location == ParamLocation::Path,
            description: String::new(),
            default: None,
            minimum: None,
            maximum: None,
            min_length: None,
            max_length: None,
            pattern: None,
            allowed: Vec::new(),
        }
    }

    /// True when the value must be present: required, or a path parameter.
    pub fn is_required(&self) -> bool {
        self.required || self.location == ParamLocation::Path
    }

    fn problems(&self, route: &str, out: &mut Vec<String>) {
        let at = format!("route `{route}`, parameter `{}`", self.name);
        if self.name.is_empty() {
            out.push(format!("route `{route}`: a parameter has an empty name"));
        }
        if self.location == ParamLocation::Path && self.default.is_some() {
            out.push(format!("{at}: path parameters cannot have a default"));
        }
        if self.required && self.default.is_some() {
            out.push(format!("{at}: a required parameter cannot have a default"));
        }
        let numeric = matches!(self.kind, ParamKind::Integer | ParamKind::Number);
        if !numeric && (self.minimum.is_some() || self.maximum.is_some()) {
            out.push(format!(
                "{at}: minimum/maximum need an integer or number parameter"
            ));
        }
        if self.kind != ParamKind::String
            && (self.min_length.is_some() || self.max_length.is_some() || self.pattern.is_some())
        {
            out.push(format!(
                "{at}: min_length/max_length/pattern need a string parameter"
            ));
        }
        for bound in [self.minimum, self.maximum].into_iter().flatten() {
            if !bound.is_finite() {
                out.push(format!("{at}: minimum/maximum must be finite, not {bound}"));
            }
        }
        if let (Some(lo), Some(hi)) = (self.minimum, self.maximum)
            && lo > hi
        {
            out.push(format!("{at}: minimum {lo} is greater than maximum {hi}"));
        }
        if let (Some(lo), Some(hi)) = (self.min_length, self.max_length)
            && lo > hi
        {
            out.push(format!(
                "{at}: min_length {lo} is greater than max_length {hi}"
            ));
        }
        if let Some(pattern) = &self.pattern
            && let Err(e) = value::check_pattern(pattern)
        {
            out.push(format!("{at}: bad pattern: {e}"));
        }
        if let Some(default) = &self.default
            && let Err(why) = value::check(self, default)
        {
            out.push(format!("{at}: default `{default}` {why}"));
        }
        for allowed in &self.allowed {
            if let Err(why) = value::canonical(self.kind, allowed) {
                out.push(format!("{at}: allowed value `{allowed}` {why}"));
            }
        }
    }
}

/// A route the plugin serves, relative to its mount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Method.
    pub method: Method,
    /// Path template relative to the mount (`/{hostname}/status`; `` for the mount itself).
    pub path: String,
    /// Operation id, unique within the plugin.
    pub operation_id: String,
    /// One-line summary.
    pub summary: String,
    /// Longer description.
    pub description: String,
    /// Declared parameters.
    pub params: Vec<Param>,
    /// JSON Schema of the request body, as JSON text.
    pub request_body: Option<String>,
    /// JSON Schema of the success response, as JSON text.
    pub response: Option<String>,
    /// Status of a success response.
    pub success_status: u16,
    /// Per-route quota.
    pub rate_limit: Option<Quota>,
    /// Whether the route changes state.
    pub mutates: bool,
    /// Scope a key needs; `None` = read for GET, write otherwise.
    pub scope: Option<Scope>,
    /// Not mounted: runs only as a background job.
    pub internal: bool,
    /// Runs as a job: the client gets `202 Accepted` with the job at once.
    #[serde(default)]
    pub long_running: bool,
    /// The body is a byte stream fed to a remote command, never buffered by the host.
    #[serde(default)]
    pub stream_body: bool,
    /// Error statuses the route's handler can answer, besides those the host adds to every
    /// route (see [`ErrorStatus`]); for the OpenAPI document.
    #[serde(default)]
    pub errors: Vec<ErrorStatus>,
    /// The route may answer Server-Sent Events (`text/event-stream`, a command streamed
    /// with `sse`) instead of its JSON answer; for the OpenAPI document.
    #[serde(default)]
    pub event_stream: bool,
    /// The answer depends only on the request and the collections it reads: while those are
    /// unchanged in the collector's cache, the host may replay a stored answer without
    /// running the handler (GET routes that neither stream nor run as jobs).
    #[serde(default)]
    pub cacheable: bool,
}

/// An error status a route's handler can answer, with what it means there (`404`, "No such
/// device"). The host documents its own statuses itself: 401, 403, 429, 500, 503 (instance
/// pool busy) and 504 (plugin deadline) on every plugin route, 422 where a parameter or the
/// body can fail validation, 413 on routes with a body; a route declares the others its
/// handler returns (400, 404, 409, 502, 503/504 of a remote host).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorStatus {
    /// The HTTP status, 400 to 599.
    pub status: u16,
    /// When the route answers it.
    pub description: String,
}

impl Route {
    /// The scope in force: the declared one, or read for GET and write otherwise.
    pub fn effective_scope(&self) -> Scope {
        self.scope.unwrap_or(if self.method == Method::Get {
            Scope::Read
        } else {
            Scope::Write
        })
    }

    pub(crate) fn problems(&self, out: &mut Vec<String>) {
        let id = &self.operation_id;
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            out.push(format!(
                "route {} {}: operation id `{id}` must be letters, digits, `_` or `-`",
                self.method, self.path
            ));
        }
        if let Err(e) = check_path(&self.path) {
            out.push(format!("route `{id}`: {e}"));
        }
        if self.summary.trim().is_empty() {
            out.push(format!("route `{id}`: missing summary"));
        }
        for (i, e) in self.errors.iter().enumerate() {
            if !(400..=599).contains(&e.status) {
                out.push(format!(
                    "route `{id}`: error status {} is not an HTTP error status",
                    e.status
                ));
            }
            if self.errors[..i].iter().any(|f| f.status == e.status) {
                out.push(format!(
                    "route `{id}`: error status {} declared twice",
                    e.status
                ));
            }
        }
        if self.cacheable
            && (self.method != Method::Get
                || self.mutates
                || self.internal
                || self.long_running
                || self.stream_body
                || self.event_stream)
        {
            out.push(format!(
                "route `{id}`: only a GET route that changes nothing, answers JSON at once \
                 (no job, no event stream) and reads no streamed body can be cacheable"
            ));
        }
        if !(100..=599).contains(&self.success_status) {
            out.push(format!(
                "route `{id}`: success status {} is not an HTTP status",
                self.success_status
            ));
        }
        let in_template = template_params(&self.path);
        let declared: Vec<&str> = self
            .params
            .iter()
            .filter(|p| p.location == ParamLocation::Path)
            .map(|p| p.name.as_str())
            .collect();
        for name in &in_template {
            if !declared.contains(&name.as_str()) {
                out.push(format!(
                    "route `{id}`: path parameter `{name}` of `{}` is not declared",
                    self.path
                ));
            }
        }
        for name in &declared {
            if !in_template.iter().any(|t| t == name) {
                out.push(format!(
                    "route `{id}`: path parameter `{name}` is not in the template `{}`",
                    self.path
                ));
            }
        }
        for (i, p) in self.params.iter().enumerate() {
            if self.params[..i].iter().any(|q| q.name == p.name) {
                out.push(format!(
                    "route `{id}`: parameter `{}` declared twice",
                    p.name
                ));
            }
            p.problems(id, out);
        }
        if self.method == Method::Get && self.request_body.is_some() {
            out.push(format!("route `{id}`: GET routes take no body"));
        }
        for (what, schema) in [
            ("request body", &self.request_body),
            ("response", &self.response),
        ] {
            if let Some(text) = schema {
                match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(v) if v.is_object() || v.is_boolean() => {}
                    Ok(_) => out.push(format!(
                        "route `{id}`: the {what} schema must be a JSON object"
                    )),
                    Err(e) => out.push(format!("route `{id}`: the {what} schema is not JSON: {e}")),
                }
            }
        }
        if let Some(q) = &self.rate_limit
            && let Err(e) = q.check()
        {
            out.push(format!("route `{id}`: {e}"));
        }
        if self.long_running
            && self
                .params
                .iter()
                .any(|p| p.name == "wait" && p.location == ParamLocation::Query)
        {
            out.push(format!(
                "route `{id}`: `wait` is the host's query parameter on long-running routes"
            ));
        }
        if self.long_running && self.internal {
            out.push(format!(
                "route `{id}`: an internal route already runs as a job; it cannot also be long-running"
            ));
        }
        if self.stream_body {
            if self.method == Method::Get {
                out.push(format!("route `{id}`: GET routes take no body to stream"));
            }
            if self.request_body.is_some() {
                out.push(format!(
                    "route `{id}`: a streamed body is bytes; it cannot also have a JSON schema"
                ));
            }
            if self.long_running || self.internal {
                out.push(format!(
                    "route `{id}`: a streamed body exists only while the request lasts; the route cannot run as a job"
                ));
            }
        }
    }
}

/// Checks a path template: empty (the mount itself) or `/`-separated segments, no trailing
/// `/`; literal segments of letters, digits, `-`, `_`, `.`, `~`; `{name}` (or `{*name}`, the
/// rest of the path) placeholders of letters, digits and `_`.
pub(crate) fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Ok(());
    }
    if !path.starts_with('/') || path.ends_with('/') {
        return Err(format!(
            "path `{path}` must start with `/` and not end with one"
        ));
    }
    for seg in path.split('/').skip(1) {
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
            return Err(format!("path `{path}` has a bad segment `{seg}`"));
        }
    }
    Ok(())
}

/// Names of `{param}` (and `{*param}`) segments in a path template, in order.
pub fn template_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|s| s.trim_start_matches('*').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `/{a}/x/{b}` → `/{}/x/{}`: two templates of the same shape would collide in the router.
pub fn normalise_template(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "{}" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (property tests): with integer bounds compared exactly, a bound must be a
    /// number: the rules refuse NaN and infinite bounds.
    #[test]
    fn bounds_must_be_finite() {
        let mut p = Param::new("n", ParamLocation::Query);
        p.kind = ParamKind::Integer;
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            p.maximum = Some(bad);
            let mut problems = Vec::new();
            p.problems("/r", &mut problems);
            assert!(
                problems.iter().any(|m| m.contains("must be finite")),
                "{bad}: {problems:?}"
            );
        }
    }
}
