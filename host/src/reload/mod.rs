//! Reloading plugins while the server serves (`POST /api/plugins/reload`,
//! `infrastructor plugins reload`, SIGHUP, `serve --watch-plugins`).
//!
//! A reload reads the `[plugins]` configuration again (from the file the server started
//! with, environment overrides included) and `plugins.dir`, then builds a new
//! [`PluginGeneration`] beside the running one:
//!
//! - a plugin whose bytes and section are unchanged keeps its load (nothing is compiled or
//!   asked again);
//! - a new or changed component is compiled off the request path (a blocking thread) and
//!   asked for its manifest; when that fails, the running version stays and the report says
//!   why (a plugin that was not running is skipped, as at start-up);
//! - a plugin whose file is gone, or that config now disables, is unmounted.
//!
//! Then the generation and a router built for it are swapped in at once: a request already
//! routed finishes on the version it reached, the next one meets the new router. Rate-limit
//! budgets carry over ([`crate::http::ratelimit::Limiters`]), open MCP sessions stay open and
//! are told the tool list changed, and the poller picks up the new periodic collectors.
//! Reloads run one at a time. A reload that cannot complete (the configuration does not
//! parse, a required plugin cannot load, routes collide) changes nothing.
//!
//! Only `[plugins]` sections and `plugins.dir` are read again; every other setting
//! (including `plugins.cache_dir`, `max_instances`, `answer_cache_mb`) needs a restart.

pub mod client;
mod report;
pub mod triggers;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Instant;

use axum::Router;

pub use report::{ReloadAction, ReloadReport, ReloadedPlugin};

use crate::app::AppState;
use crate::config::{Config, PluginsConfig};
use crate::http::{host_routes, openapi, router};
use crate::plugins::PluginSet;
use crate::plugins::loader;

/// One set of mounted plugins and what is derived from it; replaced whole by a reload.
pub struct PluginGeneration {
    /// 0 at start-up, then one more for every reload that changed something.
    pub number: u64,
    /// The plugins.
    pub plugins: Arc<PluginSet>,
    /// The `[plugins]` configuration they were loaded with.
    pub config: PluginsConfig,
    /// The OpenAPI document of the host's and these plugins' routes, serialized.
    pub openapi: bytes::Bytes,
}

impl PluginGeneration {
    /// The generation of `plugins`, its OpenAPI document built and serialized once.
    pub fn new(
        number: u64,
        plugins: Arc<PluginSet>,
        config: PluginsConfig,
        max_wait_secs: u64,
    ) -> Result<PluginGeneration, serde_json::Error> {
        let openapi = bytes::Bytes::from(serde_json::to_vec(&openapi::document(
            host_routes::HOST_ROUTES,
            &plugins,
            env!("CARGO_PKG_VERSION"),
            max_wait_secs,
        ))?);
        Ok(PluginGeneration {
            number,
            plugins,
            config,
            openapi,
        })
    }
}

/// The router requests are served by. Each request takes the router current when it
/// arrives (a clone is a reference count), so a swap never cuts a request in flight and a
/// keep-alive connection meets the new router at its next request.
pub struct RouterSlot {
    router: RwLock<Router>,
}

impl RouterSlot {
    /// A slot holding `router`.
    pub fn new(router: Router) -> Arc<RouterSlot> {
        Arc::new(RouterSlot {
            router: RwLock::new(router),
        })
    }

    /// The current router.
    pub fn current(&self) -> Router {
        self.router
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Makes `router` current.
    fn replace(&self, router: Router) {
        *self.router.write().unwrap_or_else(|e| e.into_inner()) = router;
    }
}

/// Where a reload reads the configuration.
#[derive(Debug, Clone, Default)]
pub enum ConfigSource {
    /// The one the server was built with, unchanged (an in-process server): a reload then
    /// reads `plugins.dir` again only.
    #[default]
    AsBuilt,
    /// [`Config::load`] of this file (or of none: defaults and the environment).
    File(Option<PathBuf>),
}

/// What reloads share: one at a time, where the configuration comes from, and the slot
/// the new router goes to.
#[derive(Default)]
pub struct ReloadHub {
    running: tokio::sync::Mutex<()>,
    source: Mutex<ConfigSource>,
    slot: OnceLock<Weak<RouterSlot>>,
}

impl ReloadHub {
    /// Reloads read the configuration from `source`.
    pub fn set_source(&self, source: ConfigSource) {
        *self.source.lock().unwrap_or_else(|e| e.into_inner()) = source;
    }

    /// Reloads put their router into `slot` (held weakly: the slot holds the router,
    /// which holds the state this hub is part of).
    pub fn attach(&self, slot: &Arc<RouterSlot>) {
        let _ = self.slot.set(Arc::downgrade(slot));
    }

    fn source(&self) -> ConfigSource {
        self.source
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The configuration file could not be read or is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// A required plugin cannot load, or `plugins.dir` cannot be read.
    #[error("{0}")]
    Plugin(#[from] crate::plugins::PluginError),
    /// The new routes collide, or the OpenAPI document could not be built.
    #[error("routes: {0}")]
    Routes(String),
    /// The server is not serving (no router to swap).
    #[error("the server is not serving")]
    NotServing,
}

/// Reloads the plugins of `state` (see the module documentation) and reports what changed.
pub async fn reload(state: &Arc<AppState>) -> Result<ReloadReport, ReloadError> {
    let _one_at_a_time = state.reload.running.lock().await;
    let started = Instant::now();
    let slot = state
        .reload
        .slot
        .get()
        .and_then(Weak::upgrade)
        .ok_or(ReloadError::NotServing)?;
    let current = state.generation();
    let config = match state.reload.source() {
        ConfigSource::AsBuilt => current.config.clone(),
        ConfigSource::File(path) => {
            tokio::task::spawn_blocking(move || Config::load(path.as_deref()))
                .await
                .map_err(|e| ReloadError::Config(e.to_string()))?
                .map_err(|e| ReloadError::Config(e.to_string()))?
                .plugins
        }
    };
    let discover_config = config.clone();
    let discovered = tokio::task::spawn_blocking(move || {
        loader::discover(crate::app::builtin_plugins(), &discover_config)
    })
    .await
    .map_err(|e| ReloadError::Config(e.to_string()))??;
    let plugins = loader::load_all(
        &state.runtime,
        discovered,
        &config,
        host_routes::is_reserved_mount,
        Some(&current.plugins),
    )
    .await?;
    let report = ReloadReport::compare(&current.plugins, &plugins);
    if !report.changed && config_same(&current.config, &config) {
        return Ok(report.finish(current.number, started));
    }
    let generation = Arc::new(
        PluginGeneration::new(
            current.number + 1,
            Arc::new(plugins),
            config,
            state.config.jobs.max_wait_secs,
        )
        .map_err(|e| ReloadError::Routes(format!("openapi document: {e}")))?,
    );
    let (router, used) =
        router::build(state, &generation).map_err(|e| ReloadError::Routes(e.to_string()))?;
    let number = generation.number;
    state.publish(generation);
    slot.replace(router);
    state.limiters.retain(&used);
    state.mcp.tools_changed();
    let report = report.finish(number, started);
    tracing::info!("{}", report.summary());
    Ok(report)
}

/// Whether two `[plugins]` configurations are the same (by their serialized form).
fn config_same(a: &PluginsConfig, b: &PluginsConfig) -> bool {
    serde_json::to_value(a).ok() == serde_json::to_value(b).ok()
}
