//! The router: the host's own routes (from [`HOST_ROUTES`]) and every plugin route, with the
//! layers in the order a request meets them:
//!
//! 0. with `metrics.enabled`, the HTTP metrics ([`crate::metrics::http`]): every answer
//!    counted and timed under its route's plugin and operation id;
//! 1. [`edge`]: request id, process time, security headers, span, error envelope;
//! 2. CORS (when `server.cors_origins` is set);
//! 3. authentication and the global quota, per API key or, unauthenticated, per client
//!    address ([`guard`]);
//! 4. the route's own quota (host routes from the table, plugin routes from the manifest);
//! 5. for plugin routes: scope, parameter and body validation, then the plugin
//!    ([`super::plugin_routes`]).
//!
//! `/mcp` ([`crate::mcp`]) sits behind the same layers; its tool calls come back through
//! this whole router as requests to the plugin routes.

use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use http::{HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::edge::edge;
use super::error::ApiError;
use super::guard::{self, ClientAddress, Guard};
use super::host_routes::{DOCS_PATH, HOST_ROUTES};
use super::plugin_routes::{BodyLimits, full_path, plugin_router};
use super::ratelimit::{self, LimitKind, Limiter, RateSpec};
use crate::app::{AppState, BuildError};
use crate::metrics::http::HttpMeter;
use crate::metrics::scrape;
use crate::plugins::PluginSet;
use crate::plugins::manifest::RouteMethod;
use crate::reload::PluginGeneration;

/// Where the metrics are served (outside `/api`, like the docs).
pub const METRICS_PATH: &str = "/metrics";

/// Builds the router of `generation`'s plugins and returns it with every limiter it uses
/// (taken from the state's [`super::ratelimit::Limiters`], so a rebuilt router keeps the budgets spent).
pub fn build(
    state: &Arc<AppState>,
    generation: &PluginGeneration,
) -> Result<(Router, Vec<Arc<Limiter>>), BuildError> {
    let config = &state.config;
    let limits_on = config.rate_limit.enabled;
    let quotas = limits_on.then_some(state.limiters.as_ref());
    let mut limiters = Vec::new();
    let mut api: Router<Arc<AppState>> = Router::new();
    for route in HOST_ROUTES {
        if route.debug_only && !config.server.debug {
            continue;
        }
        let mut handler = (route.handler)();
        if let Some((quota, quotas)) = route.quota.zip(quotas) {
            let limiter = quotas.get(
                &format!("host:{}", route.operation_id),
                RateSpec::from(quota),
                LimitKind::Route,
            );
            limiters.push(limiter.clone());
            handler = handler.layer(from_fn_with_state(limiter, ratelimit::limit));
        }
        api = api.route(route.path, handler);
    }
    let limits = BodyLimits {
        json_bytes: config.server.body_limit_bytes,
        stream_bytes: config.server.max_stream_body_bytes,
        stream_idle: std::time::Duration::from_secs(config.server.body_idle_secs),
        json_read_timeout: std::time::Duration::from_secs(config.server.body_read_timeout_secs),
        max_wait_secs: config.jobs.max_wait_secs,
    };
    let (plugin_routes, plugin_limiters) =
        plugin_router(&generation.plugins, limits, quotas).map_err(BuildError::Routes)?;
    limiters.extend(plugin_limiters);
    let docs: Router = utoipa_swagger_ui::SwaggerUi::new(DOCS_PATH)
        .config(utoipa_swagger_ui::Config::new(["/api/openapi.json"]))
        .into();
    let mut router: Router = api
        .with_state(state.clone())
        .merge(plugin_routes)
        .merge(docs)
        .merge(crate::mcp::routes(state));
    let metrics_here = config.metrics.enabled && config.metrics.listen.is_none();
    if metrics_here {
        router = router.merge(metrics_router(state));
    }
    router = router.fallback(|| async { ApiError::not_found("no such route") });
    let limiter = |name: &str, per_minute: u32, kind: LimitKind| {
        quotas.map(|q| q.get(name, RateSpec::per_minute(per_minute), kind))
    };
    let guard = Guard {
        auth: state.auth.clone(),
        keyed: limiter("global", config.rate_limit.per_minute, LimitKind::Global),
        anonymous: limiter(
            "unauthenticated",
            config.rate_limit.unauthenticated_per_minute,
            LimitKind::Unauthenticated,
        ),
        address: ClientAddress::new(&config.rate_limit),
    };
    limiters.extend(guard.keyed.iter().chain(guard.anonymous.iter()).cloned());
    router = router.layer(from_fn_with_state(Arc::new(guard), guard::guard));
    if let Some(cors) = cors_layer(&config.server.cors_origins) {
        router = router.layer(cors);
    }
    router = router.layer(from_fn(edge));
    if config.metrics.enabled {
        router = router.layer(from_fn_with_state(
            Arc::new(http_meter(state, &generation.plugins, metrics_here)),
            crate::metrics::http::measure,
        ));
    }
    Ok((router, limiters))
}

/// The router of `GET /metrics` alone (for the main listener, or `metrics.listen`).
pub fn metrics_router(state: &Arc<AppState>) -> Router {
    let endpoint = Arc::new(scrape::Endpoint {
        metrics: state.services.metrics.clone(),
        services: state.services.clone(),
        lock: tokio::sync::Mutex::new(()),
    });
    Router::new().route(
        METRICS_PATH,
        axum::routing::get(scrape::serve).with_state(endpoint),
    )
}

/// Every route's labels for the HTTP metrics: the host's own, the plugins', `/metrics`.
fn http_meter(state: &Arc<AppState>, plugins: &PluginSet, with_metrics_route: bool) -> HttpMeter {
    let mut meter = HttpMeter::new(state.services.metrics.clone(), DOCS_PATH);
    for route in HOST_ROUTES {
        if let Ok(method) = Method::from_bytes(route.method.to_ascii_uppercase().as_bytes()) {
            meter.add(method, route.path, "host", route.operation_id);
        }
    }
    for plugin in &plugins.loaded {
        for route in plugin.manifest.routes.iter().filter(|r| !r.internal) {
            let method = match route.method {
                RouteMethod::Get => Method::GET,
                RouteMethod::Post => Method::POST,
                RouteMethod::Put => Method::PUT,
                RouteMethod::Patch => Method::PATCH,
                RouteMethod::Delete => Method::DELETE,
            };
            meter.add(
                method,
                &full_path(plugin, route),
                &plugin.manifest.name,
                &route.operation_id,
            );
        }
    }
    if with_metrics_route {
        meter.add(Method::GET, METRICS_PATH, "host", "metrics");
    }
    meter
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                http::header::AUTHORIZATION,
                http::header::CONTENT_TYPE,
                http::HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                http::HeaderName::from_static("x-request-id"),
                http::HeaderName::from_static("x-process-time"),
                http::HeaderName::from_static("x-ratelimit-limit"),
                http::HeaderName::from_static("x-ratelimit-remaining"),
                http::HeaderName::from_static("x-ratelimit-reset"),
            ]),
    )
}
