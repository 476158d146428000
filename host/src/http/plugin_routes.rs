//! Mounts every loaded plugin's routes under `/api/<mount>` and serves them: scope check,
//! per-route quota, parameter and body validation, then a fresh plugin instance runs
//! `handle`, and its response (or error) is mapped to HTTP.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, RawPathParams, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use http::{HeaderName, HeaderValue, StatusCode, header};

use super::edge::RequestId;
use super::error::ApiError;
use super::validate::{validate_body, validate_params};
use crate::http::auth::Caller;
use crate::http::ratelimit::{Limiter, RateSpec, client_ip};
use crate::plugins::manifest::{RouteMethod, RouteSpec};
use crate::plugins::{
    CallContext, LoadedPlugin, PluginRequest, PluginResponse, PluginSet, ResponseBody,
    StreamCommand,
};

/// One plugin route with everything compiled for serving it.
pub struct RouteBinding {
    plugin: Arc<LoadedPlugin>,
    route: RouteSpec,
    body_validator: Option<jsonschema::Validator>,
    limiter: Option<Arc<Limiter>>,
    body_limit: usize,
}

/// The full path of a plugin route: `/api` + mount + route path.
pub fn full_path(plugin: &LoadedPlugin, route: &RouteSpec) -> String {
    format!("/api{}{}", plugin.mount, route.path)
}

/// Builds the router of every plugin route. Fails (naming both routes) when two routes of
/// different plugins would collide.
pub fn plugin_router<S: Clone + Send + Sync + 'static>(
    plugins: &PluginSet,
    body_limit: usize,
    rate_limits: bool,
) -> Result<(Router<S>, Vec<Arc<Limiter>>), String> {
    let mut router = Router::new();
    let mut limiters = Vec::new();
    let mut check: matchit::Router<String> = matchit::Router::new();
    let mut seen = std::collections::BTreeMap::<String, Vec<RouteMethod>>::new();
    for plugin in &plugins.loaded {
        for route in plugin.manifest.routes.iter().filter(|r| !r.internal) {
            let path = full_path(plugin, route);
            let owner = format!("{} {}", plugin.manifest.name, route.operation_id);
            let methods = seen.entry(path.clone()).or_default();
            if methods.is_empty() {
                check.insert(path.clone(), owner.clone()).map_err(|e| {
                    format!(
                        "route `{path}` of plugin `{}` cannot be mounted: {e}",
                        plugin.manifest.name
                    )
                })?;
            } else if methods.contains(&route.method) {
                return Err(format!(
                    "route {:?} `{path}` is declared twice",
                    route.method
                ));
            }
            methods.push(route.method);
            let body_validator = route
                .request_body
                .as_ref()
                .map(jsonschema::validator_for)
                .transpose()
                .map_err(|e| format!("{owner}: body schema: {e}"))?;
            let limiter = route
                .rate_limit
                .filter(|_| rate_limits)
                .map(|quota| Arc::new(Limiter::new(RateSpec::from(quota))));
            limiters.extend(limiter.clone());
            let binding = Arc::new(RouteBinding {
                plugin: plugin.clone(),
                route: route.clone(),
                body_validator,
                limiter,
                body_limit,
            });
            let filter = match route.method {
                RouteMethod::Get => MethodFilter::GET,
                RouteMethod::Post => MethodFilter::POST,
                RouteMethod::Put => MethodFilter::PUT,
                RouteMethod::Patch => MethodFilter::PATCH,
                RouteMethod::Delete => MethodFilter::DELETE,
            };
            router = router.route(&path, on(filter, serve_route).with_state(binding));
        }
    }
    Ok((router, limiters))
}

async fn serve_route(
    State(binding): State<Arc<RouteBinding>>,
    path_params: RawPathParams,
    Query(query): Query<Vec<(String, String)>>,
    request: Request,
) -> Result<Response, ApiError> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or(Caller(None));
    caller.require(binding.route.scope)?;
    let decision = match &binding.limiter {
        Some(limiter) => {
            let d = limiter.check(client_ip(&request));
            if !d.allowed {
                return Ok(d.refusal());
            }
            Some(d)
        }
        None => None,
    };
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let path: Vec<(String, String)> = path_params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (path, query) = validate_params(&binding.route.params, &path, &query)?;
    let uri_path = request.uri().path().to_string();
    let bytes = axum::body::to_bytes(request.into_body(), binding.body_limit)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("request body is larger than {} bytes", binding.body_limit),
            )
        })?;
    let body = match &binding.body_validator {
        Some(v) => Some(validate_body(v, &bytes)?.to_string()),
        None => None,
    };
    let plugin_request = PluginRequest {
        operation_id: binding.route.operation_id.clone(),
        method: binding.route.method,
        path: uri_path
            .strip_prefix(&format!("/api{}", binding.plugin.mount))
            .unwrap_or(&uri_path)
            .to_string(),
        path_params: path,
        query,
        body,
        request_id: request_id.clone(),
        principal: caller.name(),
    };
    let call = CallContext {
        request_id,
        principal: caller.name(),
    };
    let answer = binding.plugin.handle(plugin_request, call.clone()).await?;
    let mut response = to_http(&binding.plugin, answer, &call).await?;
    if let Some(d) = decision {
        d.write_headers(response.headers_mut());
    }
    Ok(response)
}

async fn to_http(
    plugin: &LoadedPlugin,
    answer: PluginResponse,
    call: &CallContext,
) -> Result<Response, ApiError> {
    let status = StatusCode::from_u16(answer.status)
        .map_err(|_| ApiError::internal(format!("plugin answered status {}", answer.status)))?;
    let body = match answer.body {
        ResponseBody::Bytes(bytes) => Body::from(bytes),
        ResponseBody::Stream(command) => stream_body(plugin, command, call).await?,
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if let Ok(ct) = HeaderValue::from_str(&answer.content_type) {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    for (name, value) in answer.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            continue;
        };
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        headers.insert(name, value);
    }
    Ok(response)
}

/// Starts a plugin's streamed command (the plugin's granter decides whether it may run) and
/// turns its output into a response body: stdout as raw chunks, or one Server-Sent Event per
/// line (stdout lines as plain `data:` events, stderr lines as `event: stderr`) ending with an
/// `end` event carrying the exit code. When the client goes away the body is dropped, which
/// stops the remote process.
async fn stream_body(
    plugin: &LoadedPlugin,
    command: StreamCommand,
    call: &CallContext,
) -> Result<Body, ApiError> {
    let sse = command.sse;
    let stream = plugin.stream(command, call).await?;
    struct State {
        stream: Option<infrastructor_ssh::ExecStream>,
        /// Unfinished last line of stdout and of stderr.
        partial: [Vec<u8>; 2],
    }
    let state = State {
        stream: Some(stream),
        partial: [Vec::new(), Vec::new()],
    };
    let body = futures::stream::unfold(state, move |mut st| async move {
        let stream = st.stream.as_mut()?;
        match stream.next_event().await {
            Some((_, chunk)) if !sse => Some((Ok::<_, std::io::Error>(chunk), st)),
            Some((kind, chunk)) => {
                let (index, event) = match kind {
                    infrastructor_ssh::StreamKind::Stdout => (0, None),
                    infrastructor_ssh::StreamKind::Stderr => (1, Some("stderr")),
                };
                let partial = &mut st.partial[index];
                partial.extend_from_slice(&chunk);
                let mut out = Vec::new();
                while let Some(pos) = partial.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = partial.drain(..=pos).collect();
                    out.extend_from_slice(&sse_event(event, &line[..line.len() - 1]));
                }
                Some((Ok(bytes::Bytes::from(out)), st))
            }
            None => {
                let finished = st.stream.take()?.finish().await;
                if !sse {
                    return None;
                }
                let mut out = Vec::new();
                for (partial, event) in st.partial.iter_mut().zip([None, Some("stderr")]) {
                    if !partial.is_empty() {
                        out.extend_from_slice(&sse_event(event, partial));
                        partial.clear();
                    }
                }
                let end = serde_json::json!({"exit_code": finished.exit_code}).to_string();
                out.extend_from_slice(&sse_event(Some("end"), end.as_bytes()));
                Some((Ok(bytes::Bytes::from(out)), st))
            }
        }
    });
    Ok(Body::from_stream(body))
}

/// One SSE event; `\r` is dropped so a CRLF line stays one event.
fn sse_event(event: Option<&str>, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    if let Some(e) = event {
        out.extend_from_slice(format!("event: {e}\n").as_bytes());
    }
    out.extend_from_slice(b"data: ");
    out.extend(data.iter().copied().filter(|b| *b != b'\r'));
    out.extend_from_slice(b"\n\n");
    out
}
