//! The MCP server of one session: lists the tools the caller's key may call, runs a tool
//! call as a request to its route ([`super::call`]), and tells the client when the tool
//! list changed (`notifications/tools/list_changed`) while the session lasts.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use http::request::Parts;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ErrorData, Implementation, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig,
};
use rmcp::service::{NotificationContext, RequestContext, RoleServer};
use tokio::sync::oneshot;

use super::call::{self, Origin};
use crate::app::AppState;
use crate::http::auth::Caller;
use crate::http::guard::ClientAddress;

/// One session's handler (rmcp makes one per session and drops it when the session ends).
pub struct McpServer {
    state: Arc<AppState>,
    /// Dropped with the handler: ends the session's list-changed watcher.
    _alive: oneshot::Sender<()>,
    ended: Mutex<Option<oneshot::Receiver<()>>>,
}

impl McpServer {
    /// A handler over the server's state.
    pub fn new(state: Arc<AppState>) -> McpServer {
        let (alive, ended) = oneshot::channel();
        McpServer {
            state,
            _alive: alive,
            ended: Mutex::new(Some(ended)),
        }
    }
}

/// The authenticated caller of the MCP request (the guard attached it to the HTTP request).
fn caller(extensions: &rmcp::model::Extensions) -> Caller {
    extensions
        .get::<Parts>()
        .and_then(|p| p.extensions.get::<Caller>().cloned())
        .unwrap_or(Caller(None))
}

/// What a tool call's request carries over from the MCP request.
fn origin(extensions: &rmcp::model::Extensions, state: &AppState) -> Origin {
    let Some(parts) = extensions.get::<Parts>() else {
        return Origin::default();
    };
    let forwarded = ClientAddress::header_name(&state.config.rate_limit)
        .map(|name| {
            parts
                .headers
                .get_all(&name)
                .iter()
                .map(|v| (name.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Origin {
        authorization: parts.headers.get(http::header::AUTHORIZATION).cloned(),
        peer: parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0),
        forwarded,
    }
}

impl rmcp::ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new(
            "infrastructor",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(
            "Manages Linux hosts over SSH. One tool per HTTP route of the loaded plugins \
             (`{plugin}_{operation}`); long-running tools return a job, read it with `get_job`.",
        )
    }

    /// Up to the last version with `initialize` and sessions (the session is what carries
    /// `notifications/tools/list_changed`).
    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(
            &ProtocolVersion::LATEST_WITH_INITIALIZE,
        ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = caller(&context.extensions);
        let catalog = self.state.mcp.catalog(&self.state);
        Ok(ListToolsResult::with_all_items(
            catalog.visible(&caller).map(|t| t.tool.clone()).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let catalog = self.state.mcp.catalog(&self.state);
        let Some(route) = catalog.get(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("no tool `{}`", request.name),
                None,
            ));
        };
        let origin = origin(&context.extensions, &self.state);
        let http_request =
            match call::request(route, request.arguments.unwrap_or_default(), &origin) {
                Ok(r) => r,
                Err(e) => return Ok(e.into_result().into()),
            };
        let Some(router) = self.state.mcp.router() else {
            return Ok(call::own_error(503, "UNAVAILABLE", "the server is stopping").into());
        };
        let max = self.state.config.mcp.max_answer_bytes;
        Ok(call::send(router, http_request, max).await.into())
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let ended = self.ended.lock().ok().and_then(|mut e| e.take());
        let Some(mut ended) = ended else {
            return;
        };
        let mut changes = self.state.mcp.subscribe();
        let peer = context.peer;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut ended => break,
                    changed = changes.changed() => {
                        if changed.is_err() || peer.notify_tool_list_changed().await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
}
