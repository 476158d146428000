//! The outermost middleware: request id (`X-Request-ID` accepted or generated, echoed),
//! `X-Process-Time`, security headers, a request span, and rendering of the error envelope
//! for every error response (including the router's own 404/405).

use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use tracing::Instrument;

use super::error::{ErrorPayload, code_for};

/// The request id of the current request, as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const REQUEST_ID: &str = "x-request-id";

fn acceptable_request_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/+=".contains(c));
    ok.then(|| s.to_string())
}

/// See the module docs.
pub async fn edge(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(acceptable_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let span = tracing::info_span!("request", id = %request_id, %method, %path);
    let mut response = next.run(request).instrument(span.clone()).await;

    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let payload = response.extensions_mut().remove::<ErrorPayload>();
        let has_body = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|ct| ct.as_bytes().starts_with(b"application/json"));
        if payload.is_some() || !has_body {
            let payload = payload.unwrap_or_else(|| ErrorPayload {
                code: code_for(status),
                message: default_message(status),
                details: None,
            });
            let mut error = serde_json::json!({
                "code": payload.code,
                "message": payload.message,
                "timestamp": crate::time::now_rfc3339(),
                "path": path,
                "method": method.as_str(),
                "request_id": request_id,
            });
            if let Some(details) = payload.details {
                error["details"] = details;
            }
            let body = serde_json::json!({ "error": error }).to_string();
            let (mut parts, _) = response.into_parts();
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            parts.headers.remove(header::CONTENT_LENGTH);
            response = Response::from_parts(parts, Body::from(body));
        }
    }
    let elapsed = started.elapsed();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{:.6}", elapsed.as_secs_f64())) {
        headers.insert("x-process-time", v);
    }
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "referrer-policy",
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    let ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        // Refusals of a flood are not worth a line each at the default level.
        if status == StatusCode::TOO_MANY_REQUESTS {
            tracing::debug!(
                status = status.as_u16(),
                ms = format!("{ms:.2}"),
                "request refused"
            );
        } else {
            tracing::info!(
                status = status.as_u16(),
                ms = format!("{ms:.2}"),
                "request done"
            );
        }
    });
    response
}

fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "no such route".into(),
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this route".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large".into(),
        s => s.canonical_reason().unwrap_or("error").to_ascii_lowercase(),
    }
}
