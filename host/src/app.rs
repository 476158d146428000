//! Assembling the server: open the store, load the plugins, build the router
//! (`fn router()` apart from `main`, so tests can drive it in-process or over real HTTP).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use axum::serve::ListenerExt;
use http::{HeaderValue, Method};
use infrastructor_store::Store;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{self, Authenticator};
use crate::config::Config;
use crate::http::edge::edge;
use crate::http::error::ApiError;
use crate::http::plugin_routes::plugin_router;
use crate::plugins::loader::{self, PluginBinary};
use crate::plugins::{PluginRuntime, PluginSet};
use crate::ratelimit::{self, Limiter, RateSpec};
use crate::services::HostServices;
use crate::{common, openapi};

/// Shared state of the running server.
pub struct AppState {
    /// Effective configuration.
    pub config: Arc<Config>,
    /// RFC 3339 start-up time.
    pub started_at: String,
    /// Start-up instant (for uptime).
    pub started: Instant,
    /// Loaded and disabled plugins.
    pub plugins: Arc<PluginSet>,
    /// Host services (database…).
    pub services: Arc<HostServices>,
    /// The generated OpenAPI document.
    pub openapi: Arc<serde_json::Value>,
    /// The authenticator.
    pub auth: Arc<Authenticator>,
    /// The plugin runtime.
    pub runtime: Arc<PluginRuntime>,
}

/// A built server, ready to serve.
pub struct App {
    /// Its state.
    pub state: Arc<AppState>,
    limiters: Vec<Arc<Limiter>>,
    router: Router,
}

/// Why the server could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] infrastructor_store::StoreError),
    /// A plugin could not be loaded or mounted.
    #[error("{0}")]
    Plugin(#[from] crate::plugins::PluginError),
    /// Routes collide.
    #[error("routes: {0}")]
    Routes(String),
    /// The wasm engine could not start.
    #[error("plugin runtime: {0}")]
    Runtime(String),
}

/// The plugins compiled into this binary, as (name, wasm).
pub fn builtin_plugins() -> Vec<(&'static str, &'static [u8])> {
    crate::builtin::PLUGINS.to_vec()
}

impl App {
    /// Opens the store and loads the built-in plugins plus those in `plugins.dir`.
    pub async fn build(config: Config) -> Result<App, BuildError> {
        let builtins = builtin_plugins();
        let binaries = loader::discover(&builtins, &config.plugins.dir)?;
        Self::build_with(config, binaries).await
    }

    /// Like [`App::build`] with an explicit list of plugin binaries.
    pub async fn build_with(
        config: Config,
        binaries: Vec<PluginBinary>,
    ) -> Result<App, BuildError> {
        let started = Instant::now();
        let started_at = crate::time::now_rfc3339();
        let db_path = config.database.path.clone();
        let pool_size = config.database.pool_size;
        let store = tokio::task::spawn_blocking(move || Store::open_with(&db_path, pool_size))
            .await
            .map_err(|e| BuildError::Runtime(e.to_string()))??;
        let remote = crate::remote::Remote::new(&config.ssh, store.clone());
        let services = Arc::new(HostServices {
            store,
            remote,
            collector: crate::collector::Collector::new(config.collector.cache_entries),
            jobs: Arc::new(tokio::sync::Semaphore::new(4)),
        });
        let max_memory_mb = config
            .plugins
            .entries
            .values()
            .map(|e| e.memory_limit_mb)
            .chain(std::iter::once(
                crate::config::PluginConfig::default().memory_limit_mb,
            ))
            .max()
            .unwrap_or(64);
        let runtime = PluginRuntime::new(
            services.clone(),
            config.plugins.cache_dir.clone(),
            config.plugins.max_instances,
            max_memory_mb as usize * 1024 * 1024,
        )
        .map_err(|e| BuildError::Runtime(format!("{e:#}")))?;
        let plugins = Arc::new(loader::load_all(&runtime, binaries, &config.plugins).await?);
        let openapi = Arc::new(openapi::document(
            common::ROUTES,
            &plugins,
            env!("CARGO_PKG_VERSION"),
        ));
        let auth = Arc::new(Authenticator::new(&config.auth));
        if auth.dev_mode() {
            tracing::warn!(
                "!!! NO API KEYS CONFIGURED: authentication is OFF (dev mode). Anyone who can reach {} can manage your hosts. Configure auth.keys. !!!",
                config.server.listen
            );
        }
        let state = Arc::new(AppState {
            config: Arc::new(config),
            started_at,
            started,
            plugins,
            services,
            openapi,
            auth,
            runtime,
        });
        let (router, limiters) = build_router(&state)?;
        Ok(App {
            state,
            limiters,
            router,
        })
    }

    /// The complete router (all middleware included).
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves on `listener` until `shutdown` completes, then drains in-flight requests.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let pruner = ratelimit::spawn_pruner(self.limiters.clone());
        let poller = self.state.config.poller.enabled.then(|| {
            tracing::info!("poller enabled");
            crate::poller::spawn(
                self.state.services.clone(),
                self.state.plugins.clone(),
                self.state.config.poller.clone(),
            )
        });
        let retention = spawn_retention(self.state.clone());
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let result = axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await;
        pruner.abort();
        retention.abort();
        if let Some(p) = poller {
            p.abort();
        }
        result
    }
}

/// Applies snapshot and audit retention (`collector.retention_*`) every ten minutes.
fn spawn_retention(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let max_age = u64::from(state.config.collector.retention_days) * 86_400;
        let keep = state.config.collector.retention_per_key;
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            let pruned = state
                .services
                .store
                .call(move |c| {
                    let s = infrastructor_store::snapshots::prune(c, max_age, keep)?;
                    let a = infrastructor_store::audit::prune(c, max_age)?;
                    Ok((s, a))
                })
                .await;
            match pruned {
                Ok((s, a)) if s + a > 0 => {
                    tracing::info!(snapshots = s, audit = a, "retention applied")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention failed"),
            }
        }
    })
}

fn build_router(state: &Arc<AppState>) -> Result<(Router, Vec<Arc<Limiter>>), BuildError> {
    let config = &state.config;
    let limits_on = config.rate_limit.enabled;
    let mut limiters = Vec::new();
    let mut limited = |spec: &str| {
        let l = Arc::new(Limiter::new(
            RateSpec::parse(spec).unwrap_or(RateSpec::per_minute(60)),
        ));
        limiters.push(l.clone());
        from_fn_with_state(l, ratelimit::limit)
    };
    let status_route = if limits_on {
        get(common::status).layer(limited("60/minute"))
    } else {
        get(common::status)
    };
    let info_route = if limits_on {
        get(common::system_info).layer(limited("30/minute"))
    } else {
        get(common::system_info)
    };
    let mut api: Router<Arc<AppState>> = Router::new()
        .route("/api/status", status_route)
        .route("/api/system-info", info_route)
        .route("/api/plugins", get(common::plugins))
        .route(
            "/api/openapi.json",
            get(
                |axum::extract::State(s): axum::extract::State<Arc<AppState>>| async move {
                    axum::Json(s.openapi.as_ref().clone())
                },
            ),
        );
    if config.server.debug {
        let route = if limits_on {
            get(common::test_error).layer(limited("10/minute"))
        } else {
            get(common::test_error)
        };
        api = api.route("/api/test-error", route);
    }
    let (plugin_routes, plugin_limiters) =
        plugin_router(&state.plugins, config.server.body_limit_bytes, limits_on)
            .map_err(BuildError::Routes)?;
    limiters.extend(plugin_limiters);
    let docs: Router = utoipa_swagger_ui::SwaggerUi::new("/docs")
        .config(utoipa_swagger_ui::Config::new(["/api/openapi.json"]))
        .into();
    let mut router: Router = api
        .with_state(state.clone())
        .merge(plugin_routes)
        .merge(docs)
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(from_fn_with_state(state.auth.clone(), auth::authenticate));
    if limits_on {
        let global = Arc::new(Limiter::new(RateSpec::per_minute(
            config.rate_limit.per_minute,
        )));
        limiters.push(global.clone());
        router = router.layer(from_fn_with_state(global, ratelimit::limit));
    }
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

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; draining requests");
}
