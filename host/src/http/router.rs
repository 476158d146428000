//! The router: the host's own routes (from [`HOST_ROUTES`]) and every plugin route, with the
//! layers in the order a request meets them:
//!
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
use super::plugin_routes::{BodyLimits, plugin_router};
use super::ratelimit::{self, Limiter, RateSpec};
use crate::app::{AppState, BuildError};

/// Builds the router and returns it with every limiter it uses (for their periodic cleanup).
pub fn build(state: &Arc<AppState>) -> Result<(Router, Vec<Arc<Limiter>>), BuildError> {
    let config = &state.config;
    let limits_on = config.rate_limit.enabled;
    let mut limiters = Vec::new();
    let mut api: Router<Arc<AppState>> = Router::new();
    for route in HOST_ROUTES {
        if route.debug_only && !config.server.debug {
            continue;
        }
        let mut handler = (route.handler)();
        if let Some(quota) = route.quota.filter(|_| limits_on) {
            let limiter = Arc::new(Limiter::new(RateSpec::from(quota)));
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
        plugin_router(&state.plugins, limits, limits_on).map_err(BuildError::Routes)?;
    limiters.extend(plugin_limiters);
    let docs: Router = utoipa_swagger_ui::SwaggerUi::new(DOCS_PATH)
        .config(utoipa_swagger_ui::Config::new(["/api/openapi.json"]))
        .into();
    let mut router: Router = api
        .with_state(state.clone())
        .merge(plugin_routes)
        .merge(docs)
        .merge(crate::mcp::routes(state))
        .fallback(|| async { ApiError::not_found("no such route") });
    let limiter = |per_minute: u32| {
        limits_on.then(|| Arc::new(Limiter::new(RateSpec::per_minute(per_minute))))
    };
    let guard = Guard {
        auth: state.auth.clone(),
        keyed: limiter(config.rate_limit.per_minute),
        anonymous: limiter(config.rate_limit.unauthenticated_per_minute),
        address: ClientAddress::new(&config.rate_limit),
    };
    limiters.extend(guard.keyed.iter().chain(guard.anonymous.iter()).cloned());
    router = router.layer(from_fn_with_state(Arc::new(guard), guard::guard));
    if let Some(cors) = cors_layer(&config.server.cors_origins) {
        router = router.layer(cors);
    }
    router = router.layer(from_fn(edge));
    Ok((router, limiters))
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
