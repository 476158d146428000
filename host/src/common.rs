//! The host's own routes under `/api`: status, system info, the debug-only test error and
//! the plugin list.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::openapi::CommonRoute;

/// The common routes, for the OpenAPI document.
pub const ROUTES: &[CommonRoute] = &[
    CommonRoute {
        path: "/api/status",
        operation_id: "status",
        summary: "Server status",
        description: "Liveness: always `operational` while the server runs. Public. 60/minute.",
        public: true,
    },
    CommonRoute {
        path: "/api/system-info",
        operation_id: "system_info",
        summary: "Server host and build information",
        description: "Host name, OS, architecture, versions, start-up time, uptime and loaded plugins. 30/minute.",
        public: false,
    },
    CommonRoute {
        path: "/api/plugins",
        operation_id: "plugins",
        summary: "Plugins",
        description: "Every plugin: name, version, mount, enabled, routes, declared and granted capabilities, limits, load time.",
        public: false,
    },
];

/// `GET /api/status`: `{status: "operational", message, timestamp}`.
pub async fn status() -> Json<Value> {
    Json(json!({
        "status": "operational",
        "message": "All systems operational",
        "timestamp": crate::time::now_rfc3339(),
    }))
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
pub async fn system_info(State(state): State<Arc<AppState>>) -> Json<Value> {
    let uptime = state.started.elapsed().as_secs_f64();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .ok();
    Json(json!({
        "hostname": gethostname::gethostname().to_string_lossy(),
        "platform": std::env::consts::OS,
        "os": os_name(),
        "kernel": kernel,
        "architecture": std::env::consts::ARCH,
        "app_version": env!("CARGO_PKG_VERSION"),
        "rust_version": env!("BUILD_RUSTC_VERSION"),
        "startup_time": state.started_at,
        "current_time": crate::time::now_rfc3339(),
        "uptime_seconds": uptime,
        "plugins": state.plugins.loaded.iter().map(|p| json!({
            "name": p.manifest.name, "version": p.manifest.version, "mount": format!("/api{}", p.mount)
        })).collect::<Vec<_>>(),
    }))
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
pub async fn plugins(State(state): State<Arc<AppState>>) -> Json<Value> {
    let mut list: Vec<Value> = state
        .plugins
        .loaded
        .iter()
        .map(|p| {
            let m = &p.manifest;
            json!({
                "name": m.name,
                "version": m.version,
                "description": m.description,
                "enabled": true,
                "source": p.source,
                "mount": format!("/api{}", p.mount),
                "routes": m.routes.iter().map(|r| json!({
                    "method": r.method,
                    "path": format!("/api{}{}", p.mount, r.path),
                    "operation_id": r.operation_id,
                    "summary": r.summary,
                    "scope": r.scope.as_str(),
                    "mutates": r.mutates,
                    "rate_limit": r.rate_limit.map(|l| l.to_string()),
                    "internal": r.internal,
                })).collect::<Vec<_>>(),
                "parsers": m.parsers,
                "collectors": m.collectors,
                "capabilities": {
                    "declared": m.capabilities.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "granted": p.granted,
                    "effective": p.effective,
                },
                "limits": {"memory_limit_mb": p.memory_limit_mb, "timeout_secs": p.timeout_secs},
                "load_time_ms": p.load_time_ms,
                "compiled_from_cache": p.from_cache,
            })
        })
        .collect();
    list.extend(
        state
            .plugins
            .disabled
            .iter()
            .map(|d| json!({"name": d.name, "enabled": false, "source": d.source, "routes": []})),
    );
    Json(json!({ "plugins": list, "total": list.len() }))
}
