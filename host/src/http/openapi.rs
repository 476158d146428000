//! The OpenAPI 3.1 document, generated from the common routes and every loaded plugin's
//! manifest (never hand-written). Disabled plugins are absent.
//!
//! It is built as JSON directly: plugin schemas are JSON Schema (the dialect OpenAPI 3.1
//! uses), so they are embedded unchanged but for their `$defs` (a recursive type's schema,
//! referenced as `#/$defs/Name`, which would not resolve inside this document), moved to
//! `components/schemas` as `{plugin}.{Name}` ([`hoist_defs`]); the tests parse the result
//! with the `oas3` crate.

use serde_json::{Map, Value, json};

use crate::http::host_routes::HostRoute;
use crate::http::plugin_routes::full_path;
use crate::plugins::PluginSet;
use crate::plugins::manifest::{
    Manifest, ParamKind, ParamLocation, ParamSpec, RouteMethod, RouteSpec,
};

fn error_response(status: u16, description: &str) -> Value {
    let mut response = json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    });
    if let Some(headers) = error_headers(status) {
        response["headers"] = headers;
    }
    response
}

/// The JSON Schema of one declared parameter (also the MCP tools' input properties).
pub(crate) fn param_schema(p: &ParamSpec) -> Value {
    let mut s = Map::new();
    let ty = match p.kind {
        ParamKind::String => "string",
        ParamKind::Integer => "integer",
        ParamKind::Number => "number",
        ParamKind::Boolean => "boolean",
    };
    s.insert("type".into(), json!(ty));
    // The host reads integers as 64-bit signed: the bounds it enforces are in the schema.
    let (lowest, highest) = match p.kind {
        ParamKind::Integer => (Some(json!(i64::MIN)), Some(json!(i64::MAX))),
        _ => (None, None),
    };
    if let Some(v) = p.minimum.map(|v| json!(v)).or(lowest) {
        s.insert("minimum".into(), v);
    }
    if let Some(v) = p.maximum.map(|v| json!(v)).or(highest) {
        s.insert("maximum".into(), v);
    }
    if p.kind == ParamKind::Integer {
        s.insert("format".into(), json!("int64"));
    }
    if let Some(v) = p.min_length {
        s.insert("minLength".into(), json!(v));
    }
    if let Some(v) = p.max_length {
        s.insert("maxLength".into(), json!(v));
    }
    if let Some(pattern) = &p.pattern {
        s.insert(
            "pattern".into(),
            json!(infrastructor_manifest::value::anchored(pattern)),
        );
    }
    if !p.allowed.is_empty() {
        s.insert("enum".into(), json!(p.allowed));
    }
    if let Some(d) = &p.default {
        let typed = match p.kind {
            ParamKind::Integer => d.parse::<i64>().map(Value::from).unwrap_or(json!(d)),
            ParamKind::Number => d.parse::<f64>().map(Value::from).unwrap_or(json!(d)),
            ParamKind::Boolean => infrastructor_manifest::value::parse_bool(d)
                .map(Value::from)
                .unwrap_or(json!(d)),
            ParamKind::String => json!(d),
        };
        s.insert("default".into(), typed);
    }
    Value::Object(s)
}

/// The responses of one operation: the declared ones first, then defaults that never
/// replace a declaration.
#[derive(Default)]
struct Responses(Map<String, Value>);

impl Responses {
    /// A success answer of `content_type` with `schema`.
    fn success(&mut self, status: u16, description: &str, content: Value) {
        self.0.insert(
            status.to_string(),
            json!({"description": description, "content": content}),
        );
    }

    /// An error answer carrying the envelope, unless `status` is documented already.
    fn error(&mut self, status: u16, description: &str) {
        self.0
            .entry(status.to_string())
            .or_insert_with(|| error_response(status, description));
    }

    fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

/// Headers every answer of `status` carries, as the host writes them.
fn error_headers(status: u16) -> Option<Value> {
    match status {
        401 => Some(json!({"WWW-Authenticate": {
            "description": "`Bearer`",
            "required": true,
            "schema": {"type": "string"},
        }})),
        429 => Some(json!({"Retry-After": {
            "description": "Seconds until a request is allowed again",
            "required": true,
            "schema": {"type": "integer", "minimum": 0},
        }})),
        _ => None,
    }
}

/// True when the host's parameter validation can answer 422: any declared parameter can
/// fail it (a value given twice is refused, whatever its type).
fn params_can_fail(params: &[ParamSpec]) -> bool {
    !params.is_empty()
}

/// Whether a body is required: the host reads an empty body as `{}`, so one is optional
/// exactly when the schema accepts `{}`.
fn body_required(schema: &Value) -> bool {
    jsonschema::validator_for(schema).map_or(true, |v| !v.is_valid(&json!({})))
}

/// The OpenAPI method name.
fn method_name(method: RouteMethod) -> &'static str {
    match method {
        RouteMethod::Get => "get",
        RouteMethod::Post => "post",
        RouteMethod::Put => "put",
        RouteMethod::Patch => "patch",
        RouteMethod::Delete => "delete",
    }
}

/// One host route's operation.
fn host_operation(r: &HostRoute) -> Value {
    let (content_type, schema) = (r.response)();
    let parameters: Vec<Value> = r
        .params
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "in": p.location,
                "required": p.location == "path",
                "description": p.description,
                "schema": serde_json::from_str::<Value>(p.schema).unwrap_or(json!({})),
            })
        })
        .collect();
    let mut responses = Responses::default();
    responses.success(200, "OK", json!({content_type: {"schema": schema}}));
    for (status, description) in r.errors {
        responses.error(*status, description);
    }
    if !r.public {
        responses.error(401, "Missing or invalid bearer token");
    }
    responses.error(429, "Rate limit exceeded");
    responses.error(500, "Server failure (no internals)");
    let mut op = json!({
        "operationId": r.operation_id,
        "summary": r.summary,
        "description": r.description,
        "tags": [r.tag],
        "parameters": parameters,
        "responses": responses.into_value(),
        "x-required-scope": if r.public { "none" } else { r.scope.as_str() },
    });
    if r.public {
        op["security"] = json!([]);
    }
    op
}

/// The media type of a success answer that is text rather than JSON: a plugin declares one
/// as a string schema with `contentMediaType` (`text/plain`, `application/yaml`).
fn text_media_type(schema: &Value) -> Option<&str> {
    if schema.get("type").and_then(Value::as_str) != Some("string") {
        return None;
    }
    schema
        .get("contentMediaType")
        .and_then(Value::as_str)
        .filter(|m| *m != "application/json" && !m.ends_with("+json"))
}

/// One plugin route's operation.
fn plugin_operation(m: &Manifest, route: &RouteSpec, max_wait_secs: u64) -> Value {
    let mut parameters: Vec<Value> = route
        .params
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "in": match p.location { ParamLocation::Path => "path", ParamLocation::Query => "query" },
                "required": p.is_required(),
                "description": p.description,
                "schema": param_schema(p),
            })
        })
        .collect();
    let mut responses = Responses::default();
    let success_schema = route.response.as_deref().cloned().unwrap_or(json!({}));
    let media_type = text_media_type(&success_schema).unwrap_or("application/json");
    let mut content = json!({media_type: {"schema": success_schema}});
    if route.event_stream {
        content["text/event-stream"] = json!({"schema": {
            "type": "string",
            "description": "Server-Sent Events, one per output line: stdout lines as `data:`, stderr lines as `event: stderr`, and a final `end` event with the exit code.",
        }});
    }
    responses.success(route.success_status, "Success", content);
    if route.long_running {
        parameters.push(json!({
            "name": "wait",
            "in": "query",
            "required": false,
            "description": "Wait up to this many seconds for the job to finish; when it does, the answer comes inline (its result with its status, or its error).",
            "schema": {"type": "integer", "minimum": 0, "maximum": max_wait_secs, "default": 0},
        }));
        responses.0.insert(
            "202".into(),
            json!({
                "description": "Accepted: the job runs in the background. `Location` names it; watch it at its `links.events`.",
                "headers": {"Location": {"description": "/api/jobs/{id}", "required": true, "schema": {"type": "string"}}},
                "content": {"application/json": {"schema": crate::jobs::view::job_schema()}},
            }),
        );
    }
    for e in &route.errors {
        responses.error(e.status, &e.description);
    }
    let json_body = route.request_body.is_some();
    if json_body || route.stream_body {
        responses.error(413, "The request body is larger than the server accepts");
    }
    if json_body {
        responses.error(
            408,
            "The request body did not arrive within `server.body_read_timeout_secs`",
        );
    }
    if route.stream_body {
        responses.error(400, "The upload stopped before it ended");
    }
    if json_body || route.long_running || params_can_fail(&route.params) {
        responses.error(
            422,
            "A parameter or body field is invalid (the field is named)",
        );
    }
    if route.long_running {
        responses.error(409, "Waited for: the job was cancelled or interrupted");
    }
    responses.error(401, "Missing or invalid bearer token");
    responses.error(
        403,
        "The key's scope, or a capability the plugin needs, is not granted",
    );
    responses.error(429, "Rate limit exceeded");
    responses.error(500, "Plugin or server failure");
    responses.error(503, "The plugin is busy (all its instances in use); retry");
    responses.error(504, "The plugin ran past its deadline");
    let mut op = json!({
        "operationId": format!("{}.{}", m.name, route.operation_id),
        "summary": route.summary,
        "description": route.description,
        "tags": [m.name],
        "parameters": parameters,
        "responses": responses.into_value(),
        "x-required-scope": route.scope.as_str(),
        "x-plugin": {"name": m.name, "version": m.version, "scope": route.scope.as_str(), "mutates": route.mutates},
    });
    if let Some(rl) = &route.rate_limit {
        op["x-rate-limit"] = json!(rl.to_string());
    }
    if let Some(schema) = &route.request_body {
        op["requestBody"] = json!({
            "required": body_required(schema),
            "content": {"application/json": {"schema": schema}}
        });
    }
    if route.stream_body {
        op["requestBody"] = json!({
            "required": true,
            "description": "A byte stream, fed to a remote command as it arrives (never buffered). Cut off (and the command killed) when it sends nothing for `server.body_idle_secs` or exceeds `server.max_stream_body_bytes`.",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
        });
    }
    if route.long_running || route.stream_body {
        op["x-plugin"]["long_running"] = json!(route.long_running);
        op["x-plugin"]["stream_body"] = json!(route.stream_body);
    }
    op
}

/// The component key of plugin `plugin`'s definition `name` (`zfs.Vdev`), with `suffix`
/// when that key holds another schema; characters a component key cannot have become `_`.
fn component_key(plugin: &str, name: &str, suffix: usize) -> String {
    let key: String = format!("{plugin}.{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if suffix == 0 {
        key
    } else {
        format!("{key}.{suffix}")
    }
}

/// Points every `#/$defs/NAME` reference in `value` at `#/components/schemas/KEY` per
/// `keys` (NAME → KEY).
fn rewrite_refs(value: &mut Value, keys: &Map<String, Value>) {
    match value {
        Value::Object(obj) => rewrite_object_refs(obj, keys),
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, keys)),
        _ => {}
    }
}

/// [`rewrite_refs`] of an object: its own `$ref`, then everything inside it.
fn rewrite_object_refs(obj: &mut Map<String, Value>, keys: &Map<String, Value>) {
    if let Some(Value::String(r)) = obj.get_mut("$ref")
        && let Some(key) = r
            .strip_prefix("#/$defs/")
            .and_then(|name| keys.get(name))
            .and_then(Value::as_str)
    {
        *r = format!("#/components/schemas/{key}");
    }
    obj.values_mut().for_each(|v| rewrite_refs(v, keys));
}

/// Moves the `$defs` of plugin `plugin`'s schemas in `value` (an operation) into
/// `components` under [`component_key`]s and points their references there. Two schemas of
/// a plugin defining the same name alike share the component.
fn hoist_defs(value: &mut Value, plugin: &str, components: &mut Map<String, Value>) {
    match value {
        Value::Object(obj) => {
            if let Some(Value::Object(defs)) = obj.remove("$defs") {
                for suffix in 0.. {
                    let keys: Map<String, Value> = defs
                        .keys()
                        .map(|name| (name.clone(), json!(component_key(plugin, name, suffix))))
                        .collect();
                    let mut moved = defs.clone();
                    moved.values_mut().for_each(|d| rewrite_refs(d, &keys));
                    let fits = moved.iter().all(|(name, def)| {
                        keys[name]
                            .as_str()
                            .and_then(|k| components.get(k))
                            .is_none_or(|existing| existing == def)
                    });
                    if fits {
                        for (name, def) in moved {
                            if let Some(key) = keys[&name].as_str() {
                                components.insert(key.to_owned(), def);
                            }
                        }
                        rewrite_object_refs(obj, &keys);
                        break;
                    }
                }
            }
            obj.values_mut()
                .for_each(|v| hoist_defs(v, plugin, components));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| hoist_defs(v, plugin, components)),
        _ => {}
    }
}

/// Builds the document.
pub fn document(
    common: &[HostRoute],
    plugins: &PluginSet,
    version: &str,
    max_wait_secs: u64,
) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "ErrorEnvelope".into(),
        json!({
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["code", "message", "timestamp", "path", "method", "request_id"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "path": {"type": "string"},
                    "method": {"type": "string"},
                    "request_id": {"type": "string"},
                    "details": {}
                }
            }}
        }),
    );
    let mut tags = vec![json!({"name": "common", "description": "Server status and metadata"})];
    tags.push(json!({"name": "jobs", "description": "Long-running work: progress, events, results, cancel"}));
    for r in common.iter().filter(|r| r.documented) {
        let item = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        item[r.method] = host_operation(r);
    }
    for plugin in &plugins.loaded {
        let m = &plugin.manifest;
        tags.push(json!({"name": m.name, "description": format!("{} (plugin {} {})", m.description, m.name, m.version)}));
        for route in m.routes.iter().filter(|r| !r.internal) {
            let item = paths
                .entry(full_path(plugin, route))
                .or_insert_with(|| json!({}));
            let mut op = plugin_operation(m, route, max_wait_secs);
            hoist_defs(&mut op, &m.name, &mut schemas);
            item[method_name(route.method)] = op;
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Infrastructor API",
            "version": version,
            "description": "Manage a fleet of Linux hosts over SSH. Every resource domain is a sandboxed WebAssembly plugin; this document is generated from their manifests.",
        },
        "servers": [{"url": "/"}],
        "tags": tags,
        "paths": paths,
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defs_move_to_components_and_references_follow() {
        let tree = json!({
            "type": "object",
            "properties": {"root": {"$ref": "#/$defs/Node"}},
            "$defs": {"Node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            }},
        });
        let mut op = json!({"responses": {"200": {"content": {"application/json": {"schema": tree.clone()}}}}});
        let mut components = Map::new();
        hoist_defs(&mut op, "zfs", &mut components);
        let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(schema.get("$defs").is_none(), "{schema}");
        assert_eq!(
            schema["properties"]["root"]["$ref"],
            "#/components/schemas/zfs.Node"
        );
        assert_eq!(
            components["zfs.Node"]["properties"]["children"]["items"]["$ref"],
            "#/components/schemas/zfs.Node"
        );
        // The same definition again shares the component; another one of the same name
        // gets its own.
        let mut again = json!({"schema": tree});
        hoist_defs(&mut again, "zfs", &mut components);
        assert_eq!(components.len(), 1);
        let mut other = json!({"schema": {
            "$ref": "#/$defs/Node",
            "$defs": {"Node": {"type": "string"}},
        }});
        hoist_defs(&mut other, "zfs", &mut components);
        assert_eq!(other["schema"]["$ref"], "#/components/schemas/zfs.Node.1");
        assert_eq!(components["zfs.Node.1"], json!({"type": "string"}));
    }
}
