//! Assembling the server: open the store, load the plugins, build the router
//! (`fn router()` apart from `main`, so tests can drive it in-process or over real HTTP).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use infrastructor_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::http::auth::Authenticator;
use crate::http::ratelimit::Limiters;
use crate::http::{host_routes, router};
use crate::plugins::loader::{self, Discovered};
use crate::plugins::{PluginRuntime, PluginSet};
use crate::reload::{ConfigSource, PluginGeneration, ReloadHub, RouterSlot, triggers};
use crate::services::HostServices;

/// Shared state of the running server.
pub struct AppState {
    /// Effective configuration.
    pub config: Arc<Config>,
    /// RFC 3339 start-up time.
    pub started_at: String,
    /// Start-up instant (for uptime).
    pub started: Instant,
    /// The plugins serving now and what is derived from them (replaced by a reload).
    generation: watch::Sender<Arc<PluginGeneration>>,
    /// Host services (database…).
    pub services: Arc<HostServices>,
    /// The authenticator.
    pub auth: Arc<Authenticator>,
    /// The plugin runtime.
    pub runtime: Arc<PluginRuntime>,
    /// The MCP endpoint's shared state (tool-list generation, the router tool calls use).
    pub mcp: Arc<crate::mcp::McpHub>,
    /// Every rate limiter the routers use (kept across reloads).
    pub limiters: Arc<Limiters>,
    /// Reloads: one at a time, their configuration source, the router slot.
    pub reload: ReloadHub,
}

impl AppState {
    /// The plugin generation serving now.
    pub fn generation(&self) -> Arc<PluginGeneration> {
        self.generation.borrow().clone()
    }

    /// The plugins serving now.
    pub fn plugins(&self) -> Arc<PluginSet> {
        self.generation.borrow().plugins.clone()
    }

    /// The OpenAPI document of the routes serving now, serialized (a parsed document of
    /// every typed route weighs megabytes; the route serves these bytes as they are).
    pub fn openapi(&self) -> bytes::Bytes {
        self.generation.borrow().openapi.clone()
    }

    /// Follows the plugin generation (the current one counts as seen).
    pub fn subscribe(&self) -> watch::Receiver<Arc<PluginGeneration>> {
        self.generation.subscribe()
    }

    /// Makes `generation` the one serving (a reload, once its router is built).
    pub(crate) fn publish(&self, generation: Arc<PluginGeneration>) {
        self.generation.send_replace(generation);
    }
}

/// A built server, ready to serve.
pub struct App {
    /// Its state.
    pub state: Arc<AppState>,
    /// The router requests go to (a reload swaps it; the state's hubs hold it weakly).
    slot: Arc<RouterSlot>,
    /// Reload on SIGHUP while serving.
    reload_on_sighup: bool,
    /// Reload when a plugin file or this configuration file changes, checked this often.
    watch: Option<(Option<PathBuf>, Duration)>,
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

/// The plugins compiled into this binary.
pub fn builtin_plugins() -> &'static [crate::builtin::BuiltinPlugin] {
    crate::builtin::PLUGINS
}

impl App {
    /// Opens the store and loads the built-in plugins plus those in `plugins.dir`.
    pub async fn build(config: Config) -> Result<App, BuildError> {
        let builtins = builtin_plugins();
        let discovered = loader::discover(builtins, &config.plugins)?;
        Self::build_with(config, discovered).await
    }

    /// Like [`App::build`] with the plugins already found (see [`loader::discover`]).
    pub async fn build_with(config: Config, discovered: Discovered) -> Result<App, BuildError> {
        let started = Instant::now();
        let started_at = crate::time::now_rfc3339();
        let db_path = config.database.path.clone();
        let pool_size = config.database.pool_size;
        let store = tokio::task::spawn_blocking(move || Store::open_with(&db_path, pool_size))
            .await
            .map_err(|e| BuildError::Runtime(e.to_string()))??;
        let remote = Arc::new(crate::remote::Remote::new(&config.ssh, store.clone()));
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let services = Arc::new(HostServices {
            collector: crate::collector::Collector::new(
                remote.clone(),
                store.clone(),
                config.collector.cache_entries,
                metrics.clone(),
            ),
            metrics,
            jobs: crate::jobs::JobService::new(store.clone(), config.jobs.clone()),
            store,
            remote,
        });
        services
            .jobs
            .recover()
            .await
            .map_err(|e| BuildError::Runtime(format!("jobs: {e}")))?;
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
            config.plugins.answer_cache_mb as usize * 1024 * 1024,
        )
        .map_err(|e| BuildError::Runtime(format!("{e:#}")))?;
        let plugins = Arc::new(
            loader::load_all(
                &runtime,
                discovered,
                &config.plugins,
                host_routes::is_reserved_mount,
                None,
            )
            .await?,
        );
        let generation = Arc::new(
            PluginGeneration::new(
                0,
                plugins,
                config.plugins.clone(),
                config.jobs.max_wait_secs,
            )
            .map_err(|e| BuildError::Runtime(format!("openapi document: {e}")))?,
        );
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
            generation: watch::Sender::new(generation.clone()),
            services,
            auth,
            runtime,
            mcp: Arc::default(),
            limiters: Arc::default(),
            reload: ReloadHub::default(),
        });
        let (router, used) = router::build(&state, &generation)?;
        state.limiters.retain(&used);
        release_freed_memory();
        let slot = RouterSlot::new(router);
        state.mcp.attach(&slot);
        state.reload.attach(&slot);
        Ok(App {
            state,
            slot,
            reload_on_sighup: false,
            watch: None,
        })
    }

    /// The complete router serving now (all middleware included).
    pub fn router(&self) -> Router {
        self.slot.current()
    }

    /// Reloads read the configuration from `file` (as [`Config::load`] does: the file,
    /// then `INFRA_*` variables) instead of reusing the one the server was built with.
    pub fn config_file(self, file: Option<PathBuf>) -> App {
        self.state.reload.set_source(ConfigSource::File(file));
        self
    }

    /// While serving, a SIGHUP reloads the plugins.
    pub fn reload_on_sighup(mut self) -> App {
        self.reload_on_sighup = true;
        self
    }

    /// While serving, a change to a plugin file or to `config_file` reloads the plugins
    /// (checked `every` so often; for development).
    pub fn watch_plugins(mut self, config_file: Option<PathBuf>, every: Duration) -> App {
        self.watch = Some((config_file, every));
        self
    }

    /// Serves on `listener` until `shutdown` completes, then drains in-flight requests.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_until(listener, Box::pin(shutdown)).await
    }

    /// [`App::serve`] with the shutdown boxed: not generic, so the whole HTTP server is
    /// compiled (and optimised) here once, never again in each crate that starts one.
    async fn serve_until(
        self,
        listener: TcpListener,
        shutdown: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> std::io::Result<()> {
        // First, so that an address already in use fails before anything was started.
        let metrics_server = self.serve_metrics().await?;
        let pruner = crate::http::ratelimit::spawn_pruner(self.state.limiters.clone());
        let poller = self.state.config.poller.enabled.then(|| {
            tracing::info!("poller enabled");
            crate::poller::spawn(
                self.state.services.clone(),
                self.state.subscribe(),
                self.state.config.poller.clone(),
            )
        });
        let hangups = self
            .reload_on_sighup
            .then(|| triggers::spawn_on_sighup(self.state.clone()));
        let watcher = self
            .watch
            .clone()
            .map(|(file, every)| triggers::spawn_watch(self.state.clone(), file, every));
        let retention = spawn_retention(self.state.clone());
        let maintenance = spawn_maintenance(self.state.clone());
        let server = &self.state.config.server;
        let limits = crate::http::serve::ServeLimits {
            max_connections: server.max_connections,
            header_read_timeout: std::time::Duration::from_secs(server.header_read_timeout_secs),
            drain: std::time::Duration::from_secs(30),
        };
        let mcp = self.state.mcp.clone();
        let shutdown = async move {
            shutdown.await;
            // Open MCP event streams would otherwise hold the drain.
            mcp.shut_down();
        };
        let result = crate::http::serve::serve(listener, self.slot.clone(), limits, shutdown).await;
        for task in hangups.into_iter().chain(watcher) {
            task.abort();
        }
        // Jobs still running end `interrupted` now rather than at the next start.
        self.state
            .services
            .jobs
            .shutdown(std::time::Duration::from_secs(10))
            .await;
        // Let the kills of their remote commands finish before the process may exit.
        self.state
            .services
            .remote
            .pool
            .settle(std::time::Duration::from_secs(5))
            .await;
        if let Some((stop, task)) = metrics_server {
            let _ = stop.send(());
            let _ = task.await;
        }
        pruner.abort();
        retention.abort();
        maintenance.abort();
        self.state.services.collector.flush_hits().await;
        if let Some(p) = poller {
            p.abort();
        }
        result
    }
}

type MetricsServer = (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
);

impl App {
    /// With `metrics.enabled` and `metrics.listen` set: binds that address and serves
    /// `/metrics` there, without authentication, until the returned sender fires.
    async fn serve_metrics(&self) -> std::io::Result<Option<MetricsServer>> {
        let config = &self.state.config.metrics;
        let Some(address) = config.listen.filter(|_| config.enabled) else {
            return Ok(None);
        };
        let listener = TcpListener::bind(address)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("metrics.listen {address}: {e}")))?;
        tracing::info!(address = %listener.local_addr()?, "metrics served on their own address");
        let router = RouterSlot::new(router::metrics_router(&self.state));
        let limits = crate::http::serve::ServeLimits {
            max_connections: 64,
            header_read_timeout: std::time::Duration::from_secs(
                self.state.config.server.header_read_timeout_secs,
            ),
            drain: std::time::Duration::from_secs(5),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(crate::http::serve::serve(
            listener,
            router,
            limits,
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(Some((stop, task)))
    }
}

/// Applies snapshot and audit retention (`collector.retention_*`) and job retention
/// (`jobs.retention_hours`, `jobs.max_retained`) every ten minutes.
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
                    let a = infrastructor_store::audit::prune(c, max_age)?
                        + infrastructor_store::operations::prune(c, max_age)?;
                    Ok((s, a))
                })
                .await;
            match state.services.jobs.prune().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "job retention applied"),
                Err(e) => tracing::warn!(error = %e, "job retention failed"),
            }
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

/// Every `database.checkpoint_secs`: writes the cache-hit counts, then checkpoints the WAL
/// and truncates it, off the request path.
fn spawn_maintenance(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = std::time::Duration::from_secs(state.config.database.checkpoint_secs);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tick.tick().await;
            let rows = state.services.collector.flush_hits().await;
            match state.services.store.checkpoint().await {
                Ok((done, moved)) => {
                    tracing::debug!(
                        hit_rows = rows,
                        complete = done,
                        frames = moved,
                        "database checkpoint"
                    )
                }
                Err(e) => tracing::warn!(error = %e, "database checkpoint failed"),
            }
        }
    })
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

/// Hands the heap pages freed by start-up (compiling schemas and patterns, reading plugin
/// manifests, building the OpenAPI document) back to the kernel. glibc keeps freed memory
/// inside its arenas, so without this the transient peak of loading stays in the resident
/// set for the life of the process.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `malloc_trim` only returns free pages of glibc's own arenas to the kernel; it
    // takes no pointers and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
