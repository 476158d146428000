//! The MCP endpoint at `/mcp` (Model Context Protocol, Streamable HTTP, served by the
//! official Rust SDK `rmcp`): every mounted plugin route as a tool ([`tools`]), a tool call
//! as a request to that route through the server's own router ([`call`]), so it meets the
//! same authentication, scope, rate limits, validation, plugin dispatch and error envelope.
//!
//! The `/mcp` request itself sits behind the guard like any API route (a key of any scope;
//! a tool call then needs the scope of its route, and `tools/list` shows only the tools the
//! key may call). Bounds: the request body (`server.body_limit_bytes`), sessions open at
//! once (`mcp.max_sessions`, 503 beyond), idle sessions closed (`mcp.session_idle_secs`),
//! and a route's answer (`mcp.max_answer_bytes`).
//!
//! [`McpHub`] holds the tool list's generation: whatever changes the plugin set calls
//! [`McpHub::tools_changed`], every open session is sent `notifications/tools/list_changed`
//! and the next `tools/list` is built from the plugins anew.

pub mod call;
mod config;
pub mod server;
pub mod tools;

use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use config::McpConfig;
use tools::Catalog;

use crate::app::AppState;
use crate::http::ApiError;
use crate::reload::RouterSlot;

/// The path of the endpoint.
pub const MCP_PATH: &str = "/mcp";

/// What the endpoint shares across sessions: the tool list's generation, the cached
/// catalog of that generation, the router tool calls go through, and the shutdown signal.
pub struct McpHub {
    generation: watch::Sender<u64>,
    catalog: Mutex<Option<(u64, Arc<Catalog>)>>,
    router: OnceLock<Weak<RouterSlot>>,
    /// The sessions, shared by the `/mcp` route of every router generation (a reload
    /// keeps them open).
    sessions: OnceLock<Arc<LocalSessionManager>>,
    shutdown: CancellationToken,
}

impl Default for McpHub {
    fn default() -> Self {
        McpHub {
            generation: watch::Sender::new(0),
            catalog: Mutex::new(None),
            router: OnceLock::new(),
            sessions: OnceLock::new(),
            shutdown: CancellationToken::new(),
        }
    }
}

impl McpHub {
    /// The plugin set changed (a plugin enabled, disabled or reloaded): the next
    /// `tools/list` is built anew and every open session gets `tools/list_changed`.
    pub fn tools_changed(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// The current generation of the tool list.
    pub fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    /// Follows the generation (the current one counts as seen).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// The catalog of the current generation, built from the plugins serving on first use.
    pub fn catalog(&self, state: &AppState) -> Arc<Catalog> {
        let generation = self.generation();
        let mut cached = self.catalog.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((g, catalog)) = cached.as_ref()
            && *g == generation
        {
            return catalog.clone();
        }
        let catalog = Arc::new(Catalog::build(
            &state.plugins(),
            state.config.jobs.max_wait_secs,
        ));
        *cached = Some((generation, catalog.clone()));
        catalog
    }

    /// Tool calls go through the router current in `slot` (held weakly, as the router
    /// holds the hub).
    pub fn attach(&self, slot: &Arc<RouterSlot>) {
        let _ = self.router.set(Arc::downgrade(slot));
    }

    /// The router tool calls go through, while the server serves.
    pub fn router(&self) -> Option<Router> {
        self.router
            .get()
            .and_then(Weak::upgrade)
            .map(|slot| slot.current())
    }

    /// The sessions (made on first use, with `idle` as their keep-alive).
    fn sessions(&self, idle: Duration) -> Arc<LocalSessionManager> {
        self.sessions
            .get_or_init(|| {
                let mut sessions = LocalSessionManager::default();
                sessions.session_config.keep_alive = Some(idle);
                Arc::new(sessions)
            })
            .clone()
    }

    /// Closes every session and refuses new ones (at shutdown, so open event streams do
    /// not hold the drain).
    pub fn shut_down(&self) {
        self.shutdown.cancel();
    }
}

/// The `/mcp` route (nothing when `mcp.enabled` is off).
pub fn routes(state: &Arc<AppState>) -> Router {
    let config = &state.config.mcp;
    if !config.enabled {
        return Router::new();
    }
    let sessions = state
        .mcp
        .sessions(Duration::from_secs(config.session_idle_secs));
    let mut http = StreamableHttpServerConfig::default()
        .with_max_request_body_bytes(state.config.server.body_limit_bytes)
        .with_cancellation_token(state.mcp.shutdown.child_token());
    if !config.allowed_hosts.is_empty() {
        http = http.with_allowed_hosts(config.allowed_hosts.clone());
    } else if !state.auth.dev_mode() {
        // Keys guard the endpoint; DNS rebinding cannot present one.
        http = http.disable_allowed_hosts();
    }
    let factory_state = state.clone();
    let service = StreamableHttpService::new(
        move || Ok(server::McpServer::new(factory_state.clone())),
        sessions.clone(),
        http,
    );
    let cap = SessionCap {
        sessions,
        max: config.max_sessions,
    };
    Router::new()
        .route_service(MCP_PATH, service)
        .route_layer(from_fn_with_state(Arc::new(cap), session_cap))
}

struct SessionCap {
    sessions: Arc<LocalSessionManager>,
    max: usize,
}

/// Refuses a request that would open a session (a POST without `Mcp-Session-Id`) while
/// `mcp.max_sessions` are open.
async fn session_cap(State(cap): State<Arc<SessionCap>>, request: Request, next: Next) -> Response {
    let opens =
        request.method() == http::Method::POST && !request.headers().contains_key("mcp-session-id");
    if opens && cap.sessions.sessions.read().await.len() >= cap.max {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TOO_MANY_SESSIONS",
            format!(
                "{} MCP sessions are open (mcp.max_sessions); close one or retry later",
                cap.max
            ),
        )
        .into_response();
    }
    next.run(request).await
}
