//! Mounts every loaded plugin's routes under `/api/<mount>` and serves them: scope check,
//! per-route quota, parameter and body validation, then a fresh plugin instance runs
//! `handle`, and its response (or error) is mapped to HTTP.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, RawPathParams, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use http::{HeaderName, HeaderValue, StatusCode, header};

use super::edge::RequestId;
use super::error::ApiError;
use super::validate::{single, validate_body, validate_params};
use crate::http::auth::Caller;
use crate::http::ratelimit::{LimitKind, Limiter, Limiters, RateSpec, client_key};
use crate::jobs::view::{job_json, job_path};
use crate::plugins::answer_cache;
use crate::plugins::answer_flight::{self, Flight};
use crate::plugins::call::BodySource;
use crate::plugins::manifest::{RouteMethod, RouteSpec};
use crate::plugins::{
    CallContext, LoadedPlugin, PluginRequest, PluginResponse, PluginSet, ResponseBody,
    StreamCommand,
};
use futures::StreamExt;
use infrastructor_store::jobs::{Job, JobState};
use std::time::Duration;

/// One plugin route with everything compiled for serving it.
pub struct RouteBinding {
    plugin: Arc<LoadedPlugin>,
    route: RouteSpec,
    /// Compiled on the route's first body: most routes of a server never see one, and a
    /// compiled schema costs tens of kilobytes (the manifest check at load compiled it once).
    body_validator: OnceLock<Result<jsonschema::Validator, String>>,
    limiter: Option<Arc<Limiter>>,
    limits: BodyLimits,
}

/// What a request body may be.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Largest JSON body (read whole and validated).
    pub json_bytes: usize,
    /// Largest streamed body; 0 = no limit.
    pub stream_bytes: u64,
    /// How long a streamed body may send nothing.
    pub stream_idle: Duration,
    /// How long a JSON body may take to arrive whole (408 after).
    pub json_read_timeout: Duration,
    /// Longest `?wait=SECONDS` on a long-running route.
    pub max_wait_secs: u64,
}

/// The full path of a plugin route: `/api` + mount + route path.
pub fn full_path(plugin: &LoadedPlugin, route: &RouteSpec) -> String {
    format!("/api{}{}", plugin.mount, route.path)
}

/// Builds the router of every plugin route. Fails (naming both routes) when two routes of
/// different plugins would collide.
/// Route quotas come from `quotas` (the same limiter for the same quota across rebuilds);
/// the limiters used are returned with the router.
pub fn plugin_router<S: Clone + Send + Sync + 'static>(
    plugins: &PluginSet,
    limits: BodyLimits,
    quotas: Option<&Limiters>,
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
            let limiter = route.rate_limit.zip(quotas).map(|(quota, quotas)| {
                quotas.get(
                    &format!("{}:{}", plugin.manifest.name, route.operation_id),
                    RateSpec::from(quota),
                    LimitKind::Route,
                )
            });
            limiters.extend(limiter.clone());
            let binding = Arc::new(RouteBinding {
                plugin: plugin.clone(),
                route: route.clone(),
                body_validator: OnceLock::new(),
                limiter,
                limits,
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

/// Serves one call; a route that changes something leaves an operation audit row with the
/// status it answered (also when it was refused).
async fn serve_route(
    State(binding): State<Arc<RouteBinding>>,
    path_params: RawPathParams,
    Query(query): Query<Vec<(String, String)>>,
    request: Request,
) -> Result<Response, ApiError> {
    if !binding.route.mutates {
        return answer(&binding, path_params, query, request).await;
    }
    let started = std::time::Instant::now();
    let audit = super::operation_audit::Pending::new(
        &request,
        &binding.plugin.manifest.name,
        &binding.route.operation_id,
    );
    let result = answer(&binding, path_params, query, request).await;
    audit
        .finish(&binding.plugin.services().store, &result, started)
        .await;
    result
}

async fn answer(
    binding: &Arc<RouteBinding>,
    path_params: RawPathParams,
    query: Vec<(String, String)>,
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
            let d = limiter.check(client_key(&request));
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
    let wait = if binding.route.long_running {
        wait_secs(&query, binding.limits.max_wait_secs)?
    } else {
        0
    };
    let (path, query) = validate_params(&binding.route.params, &path, &query)?;
    let uri_path = request.uri().path();
    let plugin_path = uri_path
        .strip_prefix("/api")
        .and_then(|p| p.strip_prefix(binding.plugin.mount.as_str()))
        .unwrap_or(uri_path)
        .to_string();
    let answer_key = (binding.route.cacheable && binding.plugin.answers().enabled()).then(|| {
        answer_cache::key(
            binding.plugin.load_id,
            &binding.route.operation_id,
            caller.name().as_deref(),
            &plugin_path,
            &query,
        )
    });
    // A missing answer is computed once: identical requests arriving meanwhile wait for
    // that one and replay what it stored.
    let mut leader = None;
    if let Some(key) = &answer_key {
        for round in 0..=answer_flight::MAX_WAITS {
            if let Some(mut response) = replay(&binding.plugin, key) {
                if let Some(d) = decision {
                    d.write_headers(response.headers_mut());
                }
                return Ok(response);
            }
            if round == answer_flight::MAX_WAITS {
                break;
            }
            match binding.plugin.answers().flights().join(key) {
                Flight::Lead(guard) => {
                    leader = Some(guard);
                    break;
                }
                Flight::Wait(done) => answer_flight::wait(done).await,
            }
        }
    }
    let (body, streamed) = if binding.route.stream_body {
        let source = limited_body(
            request.into_body(),
            binding.limits.stream_bytes,
            binding.limits.stream_idle,
        );
        (None, Some(source))
    } else {
        let bytes = read_json_body(request, &binding.limits).await?;
        let body = match &binding.route.request_body {
            Some(schema) => {
                let validator = binding
                    .body_validator
                    .get_or_init(|| infrastructor_manifest::request::body_validator(schema))
                    .as_ref()
                    .map_err(|e| {
                        ApiError::internal(format!(
                            "{} {}: body schema: {e}",
                            binding.plugin.manifest.name, binding.route.operation_id
                        ))
                    })?;
                Some(validate_body(validator, &bytes)?.to_string())
            }
            None => None,
        };
        (body, None)
    };
    let plugin_request = PluginRequest {
        operation_id: binding.route.operation_id.clone(),
        method: binding.route.method,
        path: plugin_path,
        path_params: path,
        query,
        body,
        request_id: request_id.clone(),
        principal: caller.name(),
    };
    let call = CallContext {
        request_id,
        principal: caller.name(),
        hosts: crate::remote::HostAccess::for_call(
            caller.require(crate::config::Scope::Write).is_ok(),
            binding.route.mutates,
        ),
    };
    if binding.route.long_running {
        let mut response =
            start_job(&binding.plugin, &binding.route, plugin_request, call, wait).await?;
        if let Some(d) = decision {
            d.write_headers(response.headers_mut());
        }
        return Ok(response);
    }
    let answer = match streamed {
        Some(body) => {
            binding
                .plugin
                .handle_streamed(plugin_request, call.clone(), body)
                .await?
        }
        None => match answer_key {
            Some(key) => {
                let (answer, reads) = binding
                    .plugin
                    .handle_traced(plugin_request, call.clone())
                    .await?;
                if let (Some(reads), ResponseBody::Bytes(body)) = (reads, &answer.body) {
                    binding.plugin.answers().store(
                        key,
                        answer.status,
                        answer.content_type.clone(),
                        answer.headers.clone(),
                        body.clone(),
                        reads,
                    );
                }
                drop(leader);
                answer
            }
            None => binding.plugin.handle(plugin_request, call.clone()).await?,
        },
    };
    let mut response = to_http(&binding.plugin, answer, &call).await?;
    if let Some(d) = decision {
        d.write_headers(response.headers_mut());
    }
    Ok(response)
}

/// The stored answer of a cacheable route for `key`, when the collections it was built from
/// still stand (counted as cache hits); a stored answer whose collections moved on is
/// dropped. Marked `X-Answer-Cache: replay`.
fn replay(plugin: &LoadedPlugin, key: &str) -> Option<Response> {
    let stored = plugin.answers().get(key)?;
    if !plugin.services().collector.replay(stored.reads()) {
        plugin.answers().forget(key, &stored);
        return None;
    }
    let status = StatusCode::from_u16(stored.status).ok()?;
    let mut response = (status, Body::from(stored.body.clone())).into_response();
    let headers = response.headers_mut();
    answer_headers(headers, &stored.content_type, &stored.headers);
    headers.insert(
        HeaderName::from_static("x-answer-cache"),
        HeaderValue::from_static("replay"),
    );
    Some(response)
}

/// Reads a whole JSON body within the limits: over `json_bytes` (by its `Content-Length`
/// before reading anything, or as it arrives) is 413; not whole within
/// `json_read_timeout` is 408; a body that breaks off is 400.
async fn read_json_body(request: Request, limits: &BodyLimits) -> Result<bytes::Bytes, ApiError> {
    use http_body_util::BodyExt;
    let limit = limits.json_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("request body is larger than {limit} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let body = request.into_body();
    // No body at all (a GET): nothing to wait for, so no read timer is armed either (arming
    // one wakes a parked worker thread on every request).
    if axum::body::HttpBody::is_end_stream(&body) {
        return Ok(bytes::Bytes::new());
    }
    let body = http_body_util::Limited::new(body, limit);
    match tokio::time::timeout(limits.json_read_timeout, body.collect()).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            format!(
                "the request body did not arrive within {} s",
                limits.json_read_timeout.as_secs()
            ),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            format!("the request body could not be read: {e}"),
        )),
    }
}

/// The `wait` query parameter of a long-running route: whole seconds, 0 to the configured
/// maximum (0 when absent).
fn wait_secs(query: &[(String, String)], max: u64) -> Result<u64, ApiError> {
    let Some(raw) = single(query, "wait", "query parameter")? else {
        return Ok(0);
    };
    match raw.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(ApiError::validation(
            "wait",
            "query parameter",
            format!("must be whole seconds from 0 to {max}"),
        )),
    }
}

/// Starts a long-running route's job. Answers `202 Accepted` with the job and `Location`,
/// or, when the client asked to wait and the job finished in time, the job's answer inline
/// (its result with its status, or its error) with `Content-Location` naming the job.
async fn start_job(
    plugin: &Arc<LoadedPlugin>,
    route: &RouteSpec,
    request: PluginRequest,
    call: CallContext,
    wait: u64,
) -> Result<Response, ApiError> {
    let (job, handle) = crate::plugins::jobs::start(plugin, route, request, call).await?;
    let path = job_path(&job.id);
    let location = HeaderValue::from_str(&path).map_err(ApiError::internal)?;
    if wait > 0
        && tokio::time::timeout(Duration::from_secs(wait), handle.finished())
            .await
            .is_ok()
        && let Some(done) = plugin.services().jobs.get(&job.id).await?
    {
        let mut response = inline_answer(&done)?;
        response
            .headers_mut()
            .insert(header::CONTENT_LOCATION, location);
        return Ok(response);
    }
    // After a wait the job moved on: answer its current record, not the inserted one.
    let job = if wait > 0 {
        plugin.services().jobs.get(&job.id).await?.unwrap_or(job)
    } else {
        job
    };
    let mut response = (StatusCode::ACCEPTED, axum::Json(job_json(&job))).into_response();
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// A finished job's answer as the route would have given it: the handler's answer with its
/// status (also an error answer the handler wrote itself), or the error envelope of a
/// failure that has no answer (a trap, a cancel).
fn inline_answer(job: &Job) -> Result<Response, ApiError> {
    let answered = job.result.is_some() && job.result_status.is_some();
    match job.state {
        JobState::Succeeded | JobState::Failed if answered => {
            let status = job
                .result_status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK);
            let body = job.result.clone().unwrap_or_else(|| "null".into());
            Ok((
                status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response())
        }
        _ => {
            let status = job
                .result_status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::CONFLICT);
            let message = job
                .error_message
                .clone()
                .unwrap_or_else(|| format!("job {} {}", job.id, job.state.as_str()));
            let code = job
                .error_kind
                .clone()
                .unwrap_or_else(|| "CONFLICT".to_owned());
            Ok(ApiError::new(status, code_static(&code), message)
                .with_details(serde_json::json!({"job": job.id, "state": job.state}))
                .into_response())
        }
    }
}

/// The static code matching a stored error code (codes are a closed set).
fn code_static(code: &str) -> &'static str {
    const CODES: &[&str] = &[
        "BAD_REQUEST",
        "FORBIDDEN",
        "NOT_FOUND",
        "CONFLICT",
        "PAYLOAD_TOO_LARGE",
        "VALIDATION_ERROR",
        "UPSTREAM_ERROR",
        "SERVICE_UNAVAILABLE",
        "TIMEOUT",
        "PLUGIN_FAILED",
        "PLUGIN_DEADLINE",
        "PLUGIN_MEMORY_LIMIT",
        "INTERNAL_ERROR",
    ];
    CODES
        .iter()
        .find(|c| **c == code)
        .copied()
        .unwrap_or("ERROR")
}

/// A streamed request body with the server's limits: at most `max` bytes (0 = no limit)
/// and never quiet for longer than `idle`. A violation ends the stream with an error (so the
/// command it feeds is killed, never given EOF).
fn limited_body(body: Body, max: u64, idle: Duration) -> BodySource {
    struct St {
        data: axum::body::BodyDataStream,
        seen: u64,
        done: bool,
    }
    let st = St {
        data: body.into_data_stream(),
        seen: 0,
        done: false,
    };
    Box::pin(futures::stream::unfold(st, move |mut st| async move {
        if st.done {
            return None;
        }
        let fail = |st: &mut St, message: String| {
            st.done = true;
            Err(std::io::Error::other(message))
        };
        let next = match tokio::time::timeout(idle, st.data.next()).await {
            Err(_) => {
                let e = fail(&mut st, format!("the client sent nothing for {idle:?}"));
                return Some((e, st));
            }
            Ok(next) => next,
        };
        match next {
            None => None,
            Some(Err(e)) => {
                let e = fail(&mut st, format!("the client's body failed: {e}"));
                Some((e, st))
            }
            Some(Ok(chunk)) => {
                st.seen += chunk.len() as u64;
                if max > 0 && st.seen > max {
                    let e = fail(&mut st, format!("the body is larger than {max} bytes"));
                    return Some((e, st));
                }
                Some((Ok(chunk), st))
            }
        }
    }))
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
    answer_headers(
        response.headers_mut(),
        &answer.content_type,
        &answer.headers,
    );
    Ok(response)
}

/// A plugin answer's `Content-Type` and further headers (never its own framing headers).
fn answer_headers(headers: &mut http::HeaderMap, content_type: &str, extra: &[(String, String)]) {
    if let Ok(ct) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    for (name, value) in extra {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            continue;
        };
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        headers.insert(name, value);
    }
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
