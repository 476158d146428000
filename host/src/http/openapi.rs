//! The OpenAPI 3.1 document, generated from the common routes and every loaded plugin's
//! manifest (never hand-written). Disabled plugins are absent.
//!
//! It is built as JSON directly: plugin schemas are JSON Schema (the dialect OpenAPI 3.1
//! uses), so they are embedded unchanged; the tests parse the result with the `oas3` crate.

use serde_json::{Map, Value, json};

use crate::http::host_routes::HostRoute;
use crate::http::plugin_routes::full_path;
use crate::plugins::PluginSet;
use crate::plugins::manifest::{ParamKind, ParamLocation, ParamSpec, RouteMethod};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    })
}

fn param_schema(p: &ParamSpec) -> Value {
    let mut s = Map::new();
    let ty = match p.kind {
        ParamKind::String => "string",
        ParamKind::Integer => "integer",
        ParamKind::Number => "number",
        ParamKind::Boolean => "boolean",
    };
    s.insert("type".into(), json!(ty));
    if let Some(v) = p.minimum {
        s.insert("minimum".into(), json!(v));
    }
    if let Some(v) = p.maximum {
        s.insert("maximum".into(), json!(v));
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

/// Builds the document.
pub fn document(
    common: &[HostRoute],
    plugins: &PluginSet,
    version: &str,
    max_wait_secs: u64,
) -> Value {
    let mut paths = Map::new();
    let mut tags = vec![json!({"name": "common", "description": "Server status and metadata"})];
    tags.push(json!({"name": "jobs", "description": "Long-running work: progress, events, results, cancel"}));
    for r in common.iter().filter(|r| r.documented) {
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
        let mut op = json!({
            "operationId": r.operation_id,
            "summary": r.summary,
            "description": r.description,
            "tags": [r.tag],
            "parameters": parameters,
            "responses": {
                "200": {"description": "OK", "content": {content_type: {"schema": schema}}},
                "429": error_response("Rate limit exceeded"),
            }
        });
        for (status, description) in r.errors {
            op["responses"][status.to_string()] = error_response(description);
        }
        if r.public {
            op["security"] = json!([]);
        } else {
            op["responses"]["401"] = error_response("Missing or invalid bearer token");
        }
        let item = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        item[r.method] = op;
    }
    for plugin in &plugins.loaded {
        let m = &plugin.manifest;
        tags.push(json!({"name": m.name, "description": format!("{} (plugin {} {})", m.description, m.name, m.version)}));
        for route in m.routes.iter().filter(|r| !r.internal) {
            let path = full_path(plugin, route);
            let method = match route.method {
                RouteMethod::Get => "get",
                RouteMethod::Post => "post",
                RouteMethod::Put => "put",
                RouteMethod::Patch => "patch",
                RouteMethod::Delete => "delete",
            };
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
            let success = route.success_status.to_string();
            let mut responses = Map::new();
            let success_schema = route.response.clone().unwrap_or(json!({}));
            responses.insert(
                success,
                json!({"description": "Success", "content": {"application/json": {"schema": success_schema}}}),
            );
            if route.long_running {
                parameters.push(json!({
                    "name": "wait",
                    "in": "query",
                    "required": false,
                    "description": "Wait up to this many seconds for the job to finish; when it does, the answer comes inline (its result with its status, or its error).",
                    "schema": {"type": "integer", "minimum": 0, "maximum": max_wait_secs, "default": 0},
                }));
                responses.insert(
                    "202".into(),
                    json!({
                        "description": "Accepted: the job runs in the background. `Location` names it; watch it at its `links.events`.",
                        "headers": {"Location": {"description": "/api/jobs/{id}", "schema": {"type": "string"}}},
                        "content": {"application/json": {"schema": crate::jobs::view::job_schema()}},
                    }),
                );
            }
            responses.insert(
                "401".into(),
                error_response("Missing or invalid bearer token"),
            );
            responses.insert(
                "403".into(),
                error_response("Scope or capability not granted"),
            );
            responses.insert(
                "422".into(),
                error_response("A parameter or body field is invalid"),
            );
            responses.insert("429".into(), error_response("Rate limit exceeded"));
            responses.insert("500".into(), error_response("Plugin or server failure"));
            let mut op = json!({
                "operationId": format!("{}.{}", m.name, route.operation_id),
                "summary": route.summary,
                "description": route.description,
                "tags": [m.name],
                "parameters": parameters,
                "responses": responses,
                "x-plugin": {"name": m.name, "version": m.version, "scope": route.scope.as_str(), "mutates": route.mutates},
            });
            if let Some(rl) = &route.rate_limit {
                op["x-rate-limit"] = json!(rl.to_string());
            }
            if let Some(schema) = &route.request_body {
                op["requestBody"] = json!({
                    "required": true,
                    "content": {"application/json": {"schema": schema}}
                });
            }
            if route.stream_body {
                op["requestBody"] = json!({
                    "required": true,
                    "description": "A byte stream, fed to a remote command as it arrives (never buffered). Cut off (and the command killed) when it sends nothing for `server.body_idle_secs` or exceeds `server.max_stream_body_bytes`.",
                    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
                });
                op["responses"]["400"] = error_response("The upload stopped before it ended");
            }
            if route.long_running || route.stream_body {
                op["x-plugin"]["long_running"] = json!(route.long_running);
                op["x-plugin"]["stream_body"] = json!(route.stream_body);
            }
            let item = paths.entry(path).or_insert_with(|| json!({}));
            item[method] = op;
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
            "schemas": {
                "ErrorEnvelope": {
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
                }
            }
        }
    })
}
