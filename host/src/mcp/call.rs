//! A tool call as an HTTP request through the server's own router, and its answer as a
//! tool result: the same authentication, scope, rate limits, validation, plugin dispatch
//! and error envelope as the HTTP route, because it *is* a request to the route.
//!
//! Arguments become the path (each path parameter percent-encoded into its segment), the
//! query string and the JSON body; the request carries the MCP request's `Authorization`
//! header and client address. A 2xx answer is the result (a JSON object also as structured
//! content); any other answer is a tool error carrying the status and the error envelope.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{HeaderName, HeaderValue, Request, header};
use http_body_util::BodyExt;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::tools::{BodyKind, ToolRoute};

/// Who made the MCP request: what the tool call's request carries over from it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The `Authorization` header.
    pub authorization: Option<HeaderValue>,
    /// The peer address.
    pub peer: Option<SocketAddr>,
    /// The configured client-address header (`rate_limit.client_ip_header`) and its values.
    pub forwarded: Vec<(HeaderName, HeaderValue)>,
}

/// Why a call's arguments cannot make a request (before the route sees it).
#[derive(Debug, thiserror::Error)]
pub enum ArgumentError {
    /// An argument the tool does not declare.
    #[error("argument `{0}`: not a parameter of this tool")]
    Unknown(String),
    /// A path parameter is missing.
    #[error("argument `{0}`: required")]
    Missing(String),
    /// A parameter given as an array, object or null.
    #[error("argument `{0}`: must be a string, number or boolean")]
    NotScalar(String),
    /// A raw body given as something else than a string.
    #[error("argument `body`: must be a string")]
    RawBody,
    /// The arguments do not make a valid HTTP request.
    #[error("the arguments do not make a valid request")]
    Invalid,
}

impl ArgumentError {
    fn field(&self) -> &str {
        match self {
            ArgumentError::Unknown(f) | ArgumentError::Missing(f) | ArgumentError::NotScalar(f) => {
                f
            }
            ArgumentError::RawBody => "body",
            ArgumentError::Invalid => "arguments",
        }
    }

    /// The tool error, shaped like the route's own validation error (422).
    pub fn into_result(self) -> CallToolResult {
        let reason = self.to_string();
        CallToolResult::structured_error(json!({
            "status": 422,
            "error": {
                "code": "VALIDATION_ERROR",
                "message": reason,
                "details": {"field": self.field(), "location": "argument", "reason": reason},
            }
        }))
    }
}

/// The HTTP request a call of `route` with `args` makes.
pub fn request(
    route: &ToolRoute,
    args: JsonObject,
    origin: &Origin,
) -> Result<Request<Body>, ArgumentError> {
    let mut args = args;
    let mut path = route.path.clone();
    for name in &route.path_params {
        let value = args
            .remove(name)
            .ok_or_else(|| ArgumentError::Missing(name.clone()))?;
        let text = scalar(name, &value)?;
        let (pattern, keep_slash) = if path.contains(&format!("{{*{name}}}")) {
            (format!("{{*{name}}}"), true)
        } else {
            (format!("{{{name}}}"), false)
        };
        path = path.replace(&pattern, &encode(&text, keep_slash));
    }
    let mut query = String::new();
    for name in &route.query_params {
        let Some(value) = args.remove(name) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        let text = scalar(name, &value)?;
        query.push(if query.is_empty() { '?' } else { '&' });
        query.push_str(&encode(name, false));
        query.push('=');
        query.push_str(&encode(&text, false));
    }
    let body = match route.body {
        BodyKind::None => None,
        BodyKind::Json => args
            .remove("body")
            .map(|b| (b.to_string(), "application/json")),
        BodyKind::Raw => match args.remove("body") {
            Some(Value::String(s)) => Some((s, "application/octet-stream")),
            Some(_) => return Err(ArgumentError::RawBody),
            None => None,
        },
    };
    if let Some(name) = args.keys().next() {
        return Err(ArgumentError::Unknown(name.clone()));
    }
    let mut builder = Request::builder()
        .method(route.method.clone())
        .uri(format!("{path}{query}"))
        .header(header::ACCEPT, "application/json");
    if let Some(auth) = &origin.authorization {
        builder = builder.header(header::AUTHORIZATION, auth.clone());
    }
    for (name, value) in &origin.forwarded {
        builder = builder.header(name.clone(), value.clone());
    }
    let body = match body {
        Some((text, content_type)) => {
            builder = builder.header(header::CONTENT_TYPE, content_type);
            Body::from(text)
        }
        None => Body::empty(),
    };
    let mut request = builder.body(body).map_err(|_| ArgumentError::Invalid)?;
    if let Some(peer) = origin.peer {
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    Ok(request)
}

/// Sends `request` through `router` and turns the answer into a tool result; an answer
/// over `max_bytes` (or an event stream, which never ends) is a tool error.
pub async fn send(router: Router, request: Request<Body>, max_bytes: usize) -> CallToolResult {
    let response = match router.oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if content_type.starts_with("text/event-stream") {
        return own_error(
            406,
            "NOT_ACCEPTABLE",
            "this route answered an event stream, which a tool call cannot return",
        );
    }
    let body = http_body_util::Limited::new(response.into_body(), max_bytes);
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return own_error(
                502,
                "ANSWER_TOO_LARGE",
                &format!("the route's answer is larger than {max_bytes} bytes or broke off"),
            );
        }
    };
    let json: Option<Value> = serde_json::from_slice(&bytes).ok();
    if status.is_success() {
        return match json {
            Some(Value::Object(o)) => CallToolResult::structured(Value::Object(o)),
            Some(other) => CallToolResult::success(vec![ContentBlock::text(other.to_string())]),
            None if bytes.is_empty() => CallToolResult::success(vec![ContentBlock::text(format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ))]),
            None => CallToolResult::success(vec![ContentBlock::text(
                String::from_utf8_lossy(&bytes).into_owned(),
            )]),
        };
    }
    let mut envelope = match json {
        Some(Value::Object(o)) => o,
        _ => {
            let mut o = serde_json::Map::new();
            o.insert(
                "error".into(),
                json!({"message": String::from_utf8_lossy(&bytes)}),
            );
            o
        }
    };
    envelope.insert("status".into(), json!(status.as_u16()));
    CallToolResult::structured_error(Value::Object(envelope))
}

/// A tool error of the endpoint itself, in the envelope's shape.
pub fn own_error(status: u16, code: &str, message: &str) -> CallToolResult {
    CallToolResult::structured_error(json!({
        "status": status,
        "error": {"code": code, "message": message},
    }))
}

fn scalar(name: &str, value: &Value) -> Result<String, ArgumentError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ArgumentError::NotScalar(name.to_owned())),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/` when asked).
fn encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Scope;
    use rmcp::model::Tool;
    use std::sync::Arc;

    fn route(path: &str, path_params: &[&str], query: &[&str], body: BodyKind) -> ToolRoute {
        ToolRoute {
            tool: Tool::new("t", "t", Arc::new(JsonObject::new())),
            scope: Scope::Read,
            method: http::Method::POST,
            path: path.into(),
            path_params: path_params.iter().map(|s| s.to_string()).collect(),
            query_params: query.iter().map(|s| s.to_string()).collect(),
            body,
        }
    }

    fn args(v: Value) -> JsonObject {
        match v {
            Value::Object(o) => o,
            _ => JsonObject::new(),
        }
    }

    #[test]
    fn arguments_become_path_query_and_body() {
        let r = route(
            "/api/x/{hostname}/{*rest}",
            &["hostname", "rest"],
            &["all", "n"],
            BodyKind::Json,
        );
        let origin = Origin {
            authorization: Some(HeaderValue::from_static("Bearer k")),
            ..Origin::default()
        };
        let req = request(
            &r,
            args(json!({"hostname": "a b/c", "rest": "d/e f", "all": true, "n": 3, "body": {"k": 1}})),
            &origin,
        )
        .expect("request");
        assert_eq!(
            req.uri().to_string(),
            "/api/x/a%20b%2Fc/d/e%20f?all=true&n=3"
        );
        assert_eq!(req.headers()[header::AUTHORIZATION], "Bearer k");
        assert_eq!(req.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn bad_arguments_are_refused_before_the_route() {
        let r = route("/api/x/{hostname}", &["hostname"], &["all"], BodyKind::None);
        let o = Origin::default();
        assert!(matches!(
            request(&r, args(json!({})), &o),
            Err(ArgumentError::Missing(_))
        ));
        assert!(matches!(
            request(&r, args(json!({"hostname": "h", "zzz": 1})), &o),
            Err(ArgumentError::Unknown(_))
        ));
        assert!(matches!(
            request(&r, args(json!({"hostname": ["h"]})), &o),
            Err(ArgumentError::NotScalar(_))
        ));
        let e = ArgumentError::Unknown("zzz".into()).into_result();
        assert_eq!(e.is_error, Some(true));
    }
}
