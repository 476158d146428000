//! The tool catalog: one MCP tool per mounted (non-internal) route of every loaded plugin,
//! generated from its manifest, plus `get_job`.
//!
//! - name: `{plugin}_{operation_id}` (plugin names and operation ids are already letters,
//!   digits, `_` and `-`, so the name needs no escaping; prefixing always keeps a tool's name
//!   stable when another plugin is enabled). A name taken twice keeps its first route;
//!   the later one is left out with a warning.
//! - description: the summary, the description, the HTTP route, and for long-running
//!   routes how to follow the job;
//! - input schema: an object with one property per path and query parameter (the same
//!   JSON Schema the OpenAPI document gives it) plus `body` (the route's body schema; its
//!   `$defs` move to the tool schema's root so `#/$defs/…` references still resolve);
//! - annotations: read-only for routes that change nothing (every GET), destructive for
//!   DELETE and every mutating route, idempotent for GET, PUT and DELETE.

use std::collections::HashMap;
use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Map, Value, json};

use crate::config::Scope;
use crate::http::auth::Caller;
use crate::http::openapi::param_schema;
use crate::http::plugin_routes::full_path;
use crate::plugins::PluginSet;
use crate::plugins::manifest::{ParamLocation, RouteMethod, RouteSpec};

/// The name of the tool that reads a job.
pub const GET_JOB: &str = "get_job";

/// What a tool sends as the route's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    None,
    /// The `body` argument, as JSON.
    Json,
    /// The `body` argument, a string sent as it is (a streamed-body route).
    Raw,
}

/// One tool and the HTTP route a call of it becomes.
#[derive(Debug, Clone)]
pub struct ToolRoute {
    /// The tool as `tools/list` shows it.
    pub tool: Tool,
    /// The scope a key needs to see and call it.
    pub scope: Scope,
    /// The route's method.
    pub method: http::Method,
    /// The route's full path template (`/api/containers/{hostname}`).
    pub path: String,
    /// Names of the path parameters.
    pub path_params: Vec<String>,
    /// Names of the query parameters.
    pub query_params: Vec<String>,
    /// The body the call sends.
    pub body: BodyKind,
}

/// Every tool of one plugin set.
#[derive(Debug, Default)]
pub struct Catalog {
    tools: Vec<ToolRoute>,
    by_name: HashMap<String, usize>,
}

impl Catalog {
    /// The tools of every loaded plugin's mounted routes, then `get_job`.
    /// `max_wait_secs` bounds the `wait` argument of long-running routes.
    pub fn build(plugins: &PluginSet, max_wait_secs: u64) -> Catalog {
        let mut catalog = Catalog::default();
        for plugin in &plugins.loaded {
            for route in plugin.manifest.routes.iter().filter(|r| !r.internal) {
                let name = format!("{}_{}", plugin.manifest.name, route.operation_id);
                let path = full_path(plugin, route);
                catalog.add(route_tool(name, path, route, max_wait_secs));
            }
        }
        catalog.add(get_job_tool());
        catalog
    }

    fn add(&mut self, entry: ToolRoute) {
        let name = entry.tool.name.to_string();
        if self.by_name.contains_key(&name) {
            tracing::warn!(tool = %name, path = %entry.path, "MCP tool name taken twice; the later route has no tool");
            return;
        }
        self.by_name.insert(name, self.tools.len());
        self.tools.push(entry);
    }

    /// Every tool.
    pub fn all(&self) -> &[ToolRoute] {
        &self.tools
    }

    /// The tools `caller` may call (its scope covers theirs).
    pub fn visible<'a>(&'a self, caller: &'a Caller) -> impl Iterator<Item = &'a ToolRoute> {
        self.tools
            .iter()
            .filter(move |t| caller.require(t.scope).is_ok())
    }

    /// The tool called `name`.
    pub fn get(&self, name: &str) -> Option<&ToolRoute> {
        self.by_name.get(name).map(|&i| &self.tools[i])
    }
}

fn route_tool(name: String, path: String, route: &RouteSpec, max_wait_secs: u64) -> ToolRoute {
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut path_params = Vec::new();
    let mut query_params = Vec::new();
    for p in &route.params {
        let mut schema = param_schema(p);
        if !p.description.is_empty() {
            schema["description"] = json!(p.description);
        }
        properties.insert(p.name.clone(), schema);
        if p.required || p.location == ParamLocation::Path {
            required.push(json!(p.name));
        }
        match p.location {
            ParamLocation::Path => path_params.push(p.name.clone()),
            ParamLocation::Query => query_params.push(p.name.clone()),
        }
    }
    if route.long_running && !properties.contains_key("wait") {
        properties.insert(
            "wait".into(),
            json!({
                "type": "integer", "minimum": 0, "maximum": max_wait_secs,
                "description": "Seconds to wait for the job to finish and answer its result inline; otherwise the job is returned at once.",
            }),
        );
        query_params.push("wait".into());
    }
    let mut defs = None;
    let body = if route.stream_body {
        properties.insert(
            "body".into(),
            json!({"type": "string", "description": "The request body, sent as it is."}),
        );
        required.push(json!("body"));
        BodyKind::Raw
    } else if let Some(schema) = &route.request_body {
        let mut schema = Value::clone(schema);
        if let Some(obj) = schema.as_object_mut() {
            defs = obj.remove("$defs");
            obj.remove("$schema");
        }
        properties.insert("body".into(), schema);
        required.push(json!("body"));
        BodyKind::Json
    } else {
        BodyKind::None
    };
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), Value::Array(required));
    }
    schema.insert("additionalProperties".into(), json!(false));
    if let Some(defs) = defs {
        schema.insert("$defs".into(), defs);
    }
    let (method, verb) = match route.method {
        RouteMethod::Get => (http::Method::GET, "GET"),
        RouteMethod::Post => (http::Method::POST, "POST"),
        RouteMethod::Put => (http::Method::PUT, "PUT"),
        RouteMethod::Patch => (http::Method::PATCH, "PATCH"),
        RouteMethod::Delete => (http::Method::DELETE, "DELETE"),
    };
    let mut description = route.summary.trim().to_owned();
    if !route.description.trim().is_empty() {
        description.push_str("\n\n");
        description.push_str(route.description.trim());
    }
    description.push_str(&format!("\n\nHTTP: `{verb} {path}`."));
    if route.long_running {
        description.push_str(&format!(
            " Runs as a job: the result is the job; read it with `{GET_JOB}`."
        ));
    }
    let destructive = route.mutates || route.method == RouteMethod::Delete;
    let annotations = ToolAnnotations::with_title(route.summary.trim())
        .read_only(!destructive)
        .destructive(destructive)
        .idempotent(matches!(
            route.method,
            RouteMethod::Get | RouteMethod::Put | RouteMethod::Delete
        ))
        .open_world(true);
    let tool = Tool::new(name, description, Arc::new(schema))
        .with_title(route.summary.trim())
        .with_annotations(annotations);
    ToolRoute {
        tool,
        scope: route.scope,
        method,
        path,
        path_params,
        query_params,
        body,
    }
}

fn get_job_tool() -> ToolRoute {
    let schema: JsonObject = match json!({
        "type": "object",
        "properties": {"id": {
            "type": "string", "format": "uuid",
            "description": "The job's id, as a long-running tool returned it.",
        }},
        "required": ["id"],
        "additionalProperties": false,
    }) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let annotations = ToolAnnotations::with_title("Read a job")
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false);
    ToolRoute {
        tool: Tool::new(
            GET_JOB,
            "Reads a job by id: its state (queued, running, succeeded, failed, cancelled, interrupted), progress, and its result or error once finished.\n\nHTTP: `GET /api/jobs/{id}`.",
            Arc::new(schema),
        )
        .with_title("Read a job")
        .with_annotations(annotations),
        scope: Scope::Read,
        method: http::Method::GET,
        path: "/api/jobs/{id}".into(),
        path_params: vec!["id".into()],
        query_params: Vec::new(),
        body: BodyKind::None,
    }
}
