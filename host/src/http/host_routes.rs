//! The host's own routes under `/api` (status, system info, the plugin list, jobs, the
//! OpenAPI document, the debug-only test error), declared once in [`HOST_ROUTES`].

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use infrastructor_manifest::Quota;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::config::Scope;
use crate::http::auth::Caller;
use crate::http::common_views::{
    DisabledView, FailedView, LoadedView, PluginBrief, PluginList, PluginView, Status, SystemInfo,
    schema_of,
};
use crate::http::error::ApiError;
use crate::http::jobs_routes;
use crate::jobs::view::job_schema;
use crate::reload::ReloadReport;

/// One of the host's own routes. [`HOST_ROUTES`] is the only place they are declared: the
/// router mounts them with their quotas, authentication reads the public ones, the OpenAPI
/// document lists the documented ones, and the plugin loader refuses mounts on their first
/// path segments.
pub struct HostRoute {
    /// Full path (`/api/status`).
    pub path: &'static str,
    /// Operation id in the OpenAPI document.
    pub operation_id: &'static str,
    /// Summary.
    pub summary: &'static str,
    /// Description.
    pub description: &'static str,
    /// Answered without a token.
    pub public: bool,
    /// The scope a key needs when the route is not public: every key may call the host's
    /// routes (`read`); the jobs routes narrow what a non-admin key sees to its own jobs.
    pub scope: Scope,
    /// Listed in the OpenAPI document.
    pub documented: bool,
    /// Mounted only with `server.debug`.
    pub debug_only: bool,
    /// The route's own quota per client, on top of the global one.
    pub quota: Option<Quota>,
    /// The method, lower-case as OpenAPI names it (`get`, `delete`).
    pub method: &'static str,
    /// The OpenAPI tag (`common`, `jobs`).
    pub tag: &'static str,
    /// Its parameters, for the OpenAPI document.
    pub params: &'static [HostParam],
    /// The content type and JSON Schema of its success answer.
    pub response: fn() -> (&'static str, Value),
    /// Its error answers besides 401 and 429: (status, description).
    pub errors: &'static [(u16, &'static str)],
    /// The handler.
    pub handler: fn() -> MethodRouter<Arc<AppState>>,
}

/// A parameter of a host route, for the OpenAPI document.
pub struct HostParam {
    /// Name.
    pub name: &'static str,
    /// `path` or `query`.
    pub location: &'static str,
    /// What it means.
    pub description: &'static str,
    /// Its JSON Schema, as JSON text.
    pub schema: &'static str,
}

fn any_object() -> (&'static str, Value) {
    ("application/json", json!({"type": "object"}))
}

const JOB_ID: HostParam = HostParam {
    name: "id",
    location: "path",
    description: "The job's id (a UUID); anything else is 422.",
    schema: r#"{"type": "string", "format": "uuid"}"#,
};

const JOB_FILTERS: &[HostParam] = &[
    HostParam {
        name: "plugin",
        location: "query",
        description: "Only this plugin's jobs.",
        schema: r#"{"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"}"#,
    },
    HostParam {
        name: "state",
        location: "query",
        description: "Only jobs in this state.",
        schema: r#"{"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]}"#,
    },
    HostParam {
        name: "device",
        location: "query",
        description: "Only jobs working on this device (a host name or address).",
        schema: r#"{"type": "string", "pattern": "^[A-Za-z0-9._:][A-Za-z0-9._:-]{0,252}$"}"#,
    },
    HostParam {
        name: "limit",
        location: "query",
        description: "Page size (0 is read as 1).",
        schema: r#"{"type": "integer", "minimum": 0, "maximum": 500, "default": 50}"#,
    },
    HostParam {
        name: "offset",
        location: "query",
        description: "Jobs to skip.",
        schema: r#"{"type": "integer", "minimum": 0, "maximum": 1000000, "default": 0}"#,
    },
];

/// One Server-Sent Event of `GET /api/jobs/{id}/events`, as the document describes each
/// event of the stream: its kind, its position (for `Last-Event-ID`) and its JSON data.
fn job_event_schema() -> Value {
    json!({
        "type": "object",
        "description": "One event: `state` ({state, at, message?}), `progress` ({done, total, unit, message, at}) or `log` ({level, line, at}), with `id` its position (for `Last-Event-ID`). The stream ends after the final state.",
        "required": ["event", "id", "data"],
        "properties": {
            "event": {"type": "string", "enum": ["state", "progress", "log"]},
            "id": {"type": "string", "pattern": "^[0-9]+$"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"type": "object", "required": ["at"]},
            },
        },
    })
}

const fn per_minute(requests: u32) -> Option<Quota> {
    Some(Quota {
        requests,
        per_secs: 60,
    })
}

/// The host's own routes, in the order the docs list them.
pub const HOST_ROUTES: &[HostRoute] = &[
    HostRoute {
        path: "/api/status",
        operation_id: "status",
        summary: "Server status",
        description: "Liveness: always `operational` while the server runs. Public. 60/minute.",
        public: true,
        scope: Scope::Read,
        documented: true,
        debug_only: false,
        quota: per_minute(60),
        method: "get",
        tag: "common",
        params: &[],
        response: || ("application/json", schema_of::<Status>()),
        errors: &[],
        handler: || get(status),
    },
    HostRoute {
        path: "/api/system-info",
        operation_id: "system_info",
        summary: "Server host and build information",
        description: "Host name, OS, architecture, versions, start-up time, uptime and loaded plugins. 30/minute.",
        public: false,
        scope: Scope::Read,
        documented: true,
        debug_only: false,
        quota: per_minute(30),
        method: "get",
        tag: "common",
        params: &[],
        response: || ("application/json", schema_of::<SystemInfo>()),
        errors: &[],
        handler: || get(system_info),
    },
    HostRoute {
        path: "/api/plugins",
        operation_id: "plugins",
        summary: "Plugins",
        description: "Every plugin: name, version, plugin API version, source (built-in or file), SHA-256, mount, enabled, routes, declared and granted capabilities, limits, load time; and every third-party plugin skipped because it could not be loaded (`status: failed`), with its error.",
        public: false,
        scope: Scope::Read,
        documented: true,
        debug_only: false,
        quota: None,
        method: "get",
        tag: "common",
        params: &[],
        response: || ("application/json", schema_of::<PluginList>()),
        errors: &[],
        handler: || get(plugins),
    },
    HostRoute {
        path: "/api/plugins/reload",
        operation_id: "plugins_reload",
        summary: "Reload plugins",
        description: "Reads the `[plugins]` configuration and `plugins.dir` again, compiles new or changed components off the request path, then swaps every route at once: requests in flight finish on the version they reached. A plugin whose new component or section fails to load keeps running at its previous version (`action: kept`, with the reason). Answers what it did to each plugin. Admin scope. 10/minute.",
        public: false,
        scope: Scope::Admin,
        documented: true,
        debug_only: false,
        quota: per_minute(10),
        method: "post",
        tag: "common",
        params: &[],
        response: || ("application/json", schema_of::<ReloadReport>()),
        errors: &[
            (403, "The key's scope is not `admin`"),
            (
                409,
                "The reload could not complete (the configuration is invalid, a required plugin cannot load, routes collide); nothing changed",
            ),
        ],
        handler: || post(reload_plugins),
    },
    HostRoute {
        path: "/api/jobs",
        operation_id: "jobs_list",
        summary: "Jobs",
        description: "Jobs of long-running routes and queued internal routes, newest first, one page at a time; filter by plugin, state and device. Any key may read jobs.",
        public: false,
        scope: Scope::Read,
        documented: true,
        debug_only: false,
        quota: None,
        method: "get",
        tag: "jobs",
        params: JOB_FILTERS,
        response: || ("application/json", jobs_routes::list_schema()),
        errors: &[(422, "A filter is invalid")],
        handler: || get(jobs_routes::list),
    },
    HostRoute {
        path: "/api/jobs/{id}",
        operation_id: "jobs_get",
        summary: "One job",
        description: "State (queued, running, succeeded, failed, cancelled, interrupted), progress, timings, the result or the error with its code and status, who started it.",
        public: false,
        scope: Scope::Read,
        documented: true,
        debug_only: false,
        quota: None,
        method: "get",
        tag: "jobs",
        params: &[JOB_ID],
        response: || ("application/json", job_schema()),
        errors: &[(404, "No such job"), (422, "Not a job id")],
        handler: || get(jobs_routes::get),
    },
    HostRoute {
        path: "/api/jobs/{id}",
        operation_id: "jobs_cancel",
        summary: "Cancel a job",
        description: "Stops a queued or running job: the plugin's instance is interrupted and every remote process group it started is killed. Needs the scope of the route that started the job. Answers the job once it stopped (at most 5 s).",
        public: false,
        scope: Scope::Read,
        documented: true,
        debug_only: false,
        quota: None,
        method: "delete",
        tag: "jobs",
        params: &[JOB_ID],
        response: || ("application/json", job_schema()),
        errors: &[
            (403, "The key lacks the scope of the job's route"),
            (404, "No such job"),
            (409, "The job already finished"),
            (422, "Not a job id"),
        ],
        handler: || delete(jobs_routes::cancel),
    },
    HostRoute {
        path: "/api/jobs/{id}/events",
        operation_id: "jobs_events",
        summary: "Watch a job",
        description: "Server-Sent Events: the job's kept events so far (state changes, progress snapshots, log lines), then live ones until its final state. `Last-Event-ID` resumes.",
        public: false,
        scope: Scope::Read,
        documented: true,
        debug_only: false,
        quota: None,
        method: "get",
        tag: "jobs",
        params: &[JOB_ID],
        response: || ("text/event-stream", job_event_schema()),
        errors: &[(404, "No such job"), (422, "Not a job id")],
        handler: || get(jobs_routes::events),
    },
    HostRoute {
        path: "/api/openapi.json",
        operation_id: "openapi",
        summary: "This API's OpenAPI 3.1 document",
        description: "Generated from the host routes and every loaded plugin's manifest.",
        public: true,
        scope: Scope::Read,
        documented: false,
        debug_only: false,
        quota: None,
        method: "get",
        tag: "common",
        params: &[],
        response: any_object,
        errors: &[],
        handler: || get(openapi),
    },
    HostRoute {
        path: "/api/test-error",
        operation_id: "test_error",
        summary: "A sample error",
        description: "Only with `server.debug`: answers a 500 error envelope. 10/minute.",
        public: false,
        scope: Scope::Read,
        documented: false,
        debug_only: true,
        quota: per_minute(10),
        method: "get",
        tag: "common",
        params: &[],
        response: any_object,
        errors: &[],
        handler: || get(test_error),
    },
];

/// Where the interactive API docs are served (public, outside `/api`).
pub const DOCS_PATH: &str = "/docs";

/// True for a path that never needs a token: a public host route or the docs page.
pub fn is_public(path: &str) -> bool {
    HOST_ROUTES.iter().any(|r| r.public && r.path == path)
        || path == DOCS_PATH
        || path
            .strip_prefix(DOCS_PATH)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// True when a plugin mount's first segment (`status` of `/status/x`) is taken by a host
/// route.
pub fn is_reserved_mount(mount: &str) -> bool {
    let first = mount
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    HOST_ROUTES.iter().any(|r| {
        r.path
            .strip_prefix("/api/")
            .and_then(|rest| rest.split('/').next())
            == Some(first)
    })
}

/// `GET /api/openapi.json`.
pub async fn openapi(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi(),
    )
        .into_response()
}

/// `GET /api/status`: `{status: "operational", message, timestamp}`.
pub async fn status() -> Json<Status> {
    Json(Status {
        status: "operational".into(),
        message: "All systems operational".into(),
        timestamp: crate::time::now_rfc3339(),
    })
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string())
}

/// `GET /api/system-info`.
pub async fn system_info(State(state): State<Arc<AppState>>) -> Json<SystemInfo> {
    let uptime = state.started.elapsed().as_secs_f64();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .ok();
    Json(SystemInfo {
        hostname: gethostname::gethostname().to_string_lossy().into_owned(),
        platform: std::env::consts::OS.into(),
        os: os_name(),
        kernel,
        architecture: std::env::consts::ARCH.into(),
        app_version: env!("CARGO_PKG_VERSION").into(),
        rust_version: env!("BUILD_RUSTC_VERSION").into(),
        startup_time: state.started_at.clone(),
        current_time: crate::time::now_rfc3339(),
        uptime_seconds: uptime,
        plugins: state
            .plugins()
            .loaded
            .iter()
            .map(|p| PluginBrief {
                name: p.manifest.name.clone(),
                version: p.manifest.version.clone(),
                mount: format!("/api{}", p.mount),
            })
            .collect(),
    })
}

/// `GET /api/test-error` (only when `server.debug`): a sample error envelope.
pub async fn test_error() -> ApiError {
    ApiError::new(
        http::StatusCode::INTERNAL_SERVER_ERROR,
        "TEST_ERROR",
        "this is a test error (server.debug is on)",
    )
    .with_details(json!({"hint": "disable server.debug in production"}))
}

/// `GET /api/plugins`.
pub async fn plugins(State(state): State<Arc<AppState>>) -> Json<PluginList> {
    let generation = state.generation();
    let set = &generation.plugins;
    let mut list: Vec<PluginView> = set
        .loaded
        .iter()
        .map(|p| {
            let refused = set.kept.iter().find(|k| k.name == p.manifest.name);
            PluginView::Loaded(Box::new(LoadedView::of(p, refused)))
        })
        .collect();
    list.extend(
        set.disabled
            .iter()
            .map(|d| PluginView::Disabled(DisabledView::of(d))),
    );
    list.extend(
        set.failed
            .iter()
            .map(|f| PluginView::Failed(FailedView::of(f))),
    );
    Json(PluginList {
        total: list.len(),
        plugins: list,
        generation: generation.number,
    })
}

/// `POST /api/plugins/reload` (admin): reloads the plugins and answers what changed.
pub async fn reload_plugins(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
) -> Result<Json<ReloadReport>, ApiError> {
    let caller = caller.map(|Extension(c)| c).unwrap_or(Caller(None));
    caller.require(Scope::Admin)?;
    tracing::info!(
        key = caller.name().as_deref().unwrap_or("-"),
        "plugin reload requested"
    );
    crate::reload::reload(&state).await.map(Json).map_err(|e| {
        ApiError::new(
            http::StatusCode::CONFLICT,
            "RELOAD_FAILED",
            format!("reload refused; the running plugins stay: {e}"),
        )
    })
}
