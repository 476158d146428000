//! Loading plugins and calling them: one `InstancePre` per plugin, a fresh `Store` and
//! instance per call (a trapped instance is never reused), a CPU deadline by epoch
//! interruption that excludes time spent in host imports, and a memory cap.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::{DomainPlugin, DomainPluginPre, api};
use super::capability::{Capability, Grants};
use super::engine::{EngineLimits, PluginEngine};
use super::error::PluginError;
use super::instance::{CallContext, InstanceState, MemoryLimitExceeded, PluginIdentity};
use super::manifest::Manifest;
use crate::config::PluginConfig;
use crate::services::HostServices;

/// Where a plugin's wasm came from.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "lowercase")]
pub enum PluginSource {
    /// Compiled into the server binary.
    Builtin,
    /// A `.wasm` file in `plugins.dir`.
    File(PathBuf),
}

/// The engine, linker and instance budget shared by all plugins.
pub struct PluginRuntime {
    engine: PluginEngine,
    linker: Linker<InstanceState>,
    services: Arc<HostServices>,
    cache_dir: PathBuf,
    handle_slots: Arc<Semaphore>,
    parse_slots: Arc<Semaphore>,
}

impl PluginRuntime {
    /// Builds the engine (sized for `max_instances` concurrent calls) and the linker with
    /// every host import plus an empty WASI context.
    pub fn new(
        services: Arc<HostServices>,
        cache_dir: PathBuf,
        max_instances: u32,
        max_memory_bytes: usize,
    ) -> anyhow::Result<Arc<PluginRuntime>> {
        let engine = PluginEngine::new(&EngineLimits {
            instances: max_instances * 2,
            max_memory_bytes,
        })?;
        let mut linker = Linker::new(engine.engine());
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        DomainPlugin::add_to_linker::<_, HasSelf<InstanceState>>(&mut linker, |s| s)?;
        Ok(Arc::new(PluginRuntime {
            engine,
            linker,
            services,
            cache_dir,
            handle_slots: Arc::new(Semaphore::new(max_instances as usize)),
            parse_slots: Arc::new(Semaphore::new(max_instances as usize)),
        }))
    }

    /// The host services.
    pub fn services(&self) -> &Arc<HostServices> {
        &self.services
    }

    /// Compiles (or loads from cache) `wasm`, reads its manifest and prepares it for calls.
    ///
    /// `expected_name` is the name the plugin is configured under (file stem or built-in
    /// name): the manifest must agree. `builtin` plugins without explicit `grants` get their
    /// declaration; others get only what is granted.
    pub async fn load(
        self: &Arc<Self>,
        expected_name: &str,
        wasm: &[u8],
        source: PluginSource,
        config: &PluginConfig,
    ) -> Result<LoadedPlugin, PluginError> {
        let started = Instant::now();
        let engine = self.engine.engine().clone();
        let (component, from_cache) = {
            let this = self.clone();
            let wasm = wasm.to_vec();
            tokio::task::spawn_blocking(move || this.engine.load_component(&wasm, &this.cache_dir))
                .await
                .map_err(|e| PluginError::load(expected_name, e))?
                .map_err(|e| PluginError::load(expected_name, format!("{e:#}")))?
        };
        let _ = engine;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| PluginError::load(expected_name, format!("{e:#}")))?;
        let pre = DomainPluginPre::new(pre)
            .map_err(|e| PluginError::load(expected_name, format!("{e:#}")))?;
        let memory_limit = (config.memory_limit_mb as usize) * 1024 * 1024;
        let deadline = Duration::from_secs(config.timeout_secs);
        let config_json = config.config.to_string();

        // Read the manifest with no capabilities at all.
        let bootstrap = Arc::new(PluginIdentity {
            manifest: None,
            name: expected_name.to_string(),
            version: "?".into(),
            grants: Grants::default(),
            config_json: config_json.clone(),
            memory_limit,
            deadline,
            read_dirs: Vec::new(),
        });
        let call = CallContext {
            request_id: "load".into(),
            principal: None,
        };
        let raw = self
            .call_guest(
                &pre,
                bootstrap,
                call,
                None,
                &self.handle_slots,
                |p, store| {
                    Box::pin(
                        async move { p.infrastructor_plugin_plugin().call_manifest(store).await },
                    )
                },
            )
            .await?;
        let manifest = Manifest::from_wit(raw).map_err(|e| PluginError::load(expected_name, e))?;
        if manifest.name != expected_name {
            return Err(PluginError::load(
                expected_name,
                format!(
                    "its manifest calls it `{}`; the file or section name must match",
                    manifest.name
                ),
            ));
        }
        let granted = match (&config.grants, &source) {
            (Some(list), _) => Some(
                list.iter()
                    .map(|g| Capability::parse(g))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| PluginError::load(expected_name, e))?,
            ),
            (None, PluginSource::Builtin) => None,
            (None, PluginSource::File(_)) => Some(Vec::new()),
        };
        let grants = match &granted {
            Some(list) => Grants::effective(&manifest.capabilities, list),
            None => Grants::all(&manifest.capabilities),
        };
        for declared in &manifest.capabilities {
            if !grants.list().contains(declared) {
                tracing::warn!(
                    plugin = %manifest.name,
                    capability = %declared,
                    "declared capability not granted; calls needing it will be refused"
                );
            }
        }
        let mount = config
            .mount
            .clone()
            .unwrap_or_else(|| manifest.mount.clone());
        let identity = Arc::new(PluginIdentity {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            manifest: Some(manifest.clone()),
            grants: grants.clone(),
            read_dirs: read_dirs(&manifest.name, &grants, &config.config),
            config_json,
            memory_limit,
            deadline,
        });
        Ok(LoadedPlugin {
            manifest,
            source,
            mount,
            granted: granted
                .map(|g| g.iter().map(ToString::to_string).collect())
                .unwrap_or_else(|| grants.list().iter().map(ToString::to_string).collect()),
            effective: grants.list().iter().map(ToString::to_string).collect(),
            memory_limit_mb: config.memory_limit_mb,
            timeout_secs: config.timeout_secs,
            load_time_ms: started.elapsed().as_secs_f64() * 1000.0,
            from_cache,
            identity,
            pre,
            runtime: self.clone(),
        })
    }

    /// Instantiates `pre` in a fresh store, runs `f`, and maps traps to [`PluginError`]s.
    async fn call_guest<R, F>(
        &self,
        pre: &DomainPluginPre<InstanceState>,
        identity: Arc<PluginIdentity>,
        call: CallContext,
        loaded: Option<Arc<LoadedPlugin>>,
        slots: &Arc<Semaphore>,
        f: F,
    ) -> Result<R, PluginError>
    where
        F: for<'a> FnOnce(
            &'a DomainPlugin,
            &'a mut Store<InstanceState>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = wasmtime::Result<R>> + Send + 'a>,
        >,
    {
        let _permit = slots.acquire().await.map_err(|_| PluginError::Busy)?;
        let mut state = InstanceState::new(identity.clone(), self.services.clone(), call);
        state.loaded = loaded;
        let mut store = Store::new(self.engine.engine(), state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if state.guest_time() >= state.plugin.deadline {
                state.deadline_hit = true;
                Ok(UpdateDeadline::Interrupt)
            } else {
                // Yield to the executor every tick so a busy guest never starves other
                // requests on the same worker thread.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.set_epoch_deadline(1);
        let result = async {
            let instance = pre.instantiate_async(&mut store).await?;
            store.data_mut().call_started = Instant::now();
            store.data_mut().host_time = Duration::ZERO;
            f(&instance, &mut store).await
        }
        .await;
        result.map_err(|e| classify_trap(e, store.data(), &identity))
    }
}

/// The directories `read-dir:KEY` grants open: for every such capability in force whose
/// key the plugin's config sets to an existing directory, (`/KEY`, canonical host path).
/// A key that is unset or names no directory opens nothing (logged).
fn read_dirs(plugin: &str, grants: &Grants, config: &serde_json::Value) -> Vec<(String, PathBuf)> {
    grants
        .list()
        .iter()
        .filter_map(|c| match c {
            Capability::ReadDir(key) => Some(key),
            _ => None,
        })
        .filter_map(|key| {
            let path = config.get(key)?.as_str()?;
            match std::fs::canonicalize(path) {
                Ok(p) if p.is_dir() => Some((format!("/{key}"), p)),
                Ok(p) => {
                    tracing::warn!(plugin, key, path = %p.display(), "read-dir: not a directory");
                    None
                }
                Err(e) => {
                    tracing::warn!(plugin, key, path, error = %e, "read-dir: cannot open");
                    None
                }
            }
        })
        .collect()
}

fn classify_trap(e: wasmtime::Error, state: &InstanceState, id: &PluginIdentity) -> PluginError {
    let plugin = id.name.clone();
    let version = id.version.clone();
    if state.memory_limit_hit() || e.downcast_ref::<MemoryLimitExceeded>().is_some() {
        tracing::warn!(%plugin, %version, "plugin stopped: memory limit");
        return PluginError::MemoryLimit {
            plugin,
            version,
            limit_mb: u32::try_from(id.memory_limit / (1024 * 1024)).unwrap_or(u32::MAX),
        };
    }
    if state.deadline_hit || matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        tracing::warn!(%plugin, %version, "plugin stopped: deadline");
        return PluginError::Deadline {
            plugin,
            version,
            seconds: id.deadline.as_secs(),
        };
    }
    tracing::error!(%plugin, %version, request_id = %state.call.request_id, error = ?e, "plugin trapped");
    let reason = match e.downcast_ref::<Trap>() {
        Some(trap) => format!("it trapped ({trap})"),
        None => "it failed inside the runtime".to_string(),
    };
    PluginError::Trapped {
        plugin,
        version,
        reason,
    }
}

/// A plugin ready to serve.
pub struct LoadedPlugin {
    /// The checked manifest.
    pub manifest: Manifest,
    /// Where it came from.
    pub source: PluginSource,
    /// Effective mount under `/api`.
    pub mount: String,
    /// Capabilities granted by config (or the declaration for built-ins).
    pub granted: Vec<String>,
    /// Capabilities in force (declared ∩ granted).
    pub effective: Vec<String>,
    /// Memory cap.
    pub memory_limit_mb: u32,
    /// CPU deadline.
    pub timeout_secs: u64,
    /// Time to compile/load and read the manifest.
    pub load_time_ms: f64,
    /// Whether the compiled artifact came from the cache.
    pub from_cache: bool,
    identity: Arc<PluginIdentity>,
    pre: DomainPluginPre<InstanceState>,
    runtime: Arc<PluginRuntime>,
}

impl LoadedPlugin {
    /// Handles one request in a fresh instance.
    pub async fn handle(
        self: &Arc<Self>,
        request: api::Request,
        call: CallContext,
    ) -> Result<api::Response, PluginError> {
        let result = self
            .runtime
            .call_guest(
                &self.pre,
                self.identity.clone(),
                call,
                Some(self.clone()),
                &self.runtime.handle_slots,
                move |p, store| {
                    Box::pin(async move {
                        p.infrastructor_plugin_plugin()
                            .call_handle(store, &request)
                            .await
                    })
                },
            )
            .await?;
        result.map_err(PluginError::Api)
    }

    /// The host services (database, SSH, collector).
    pub fn services(&self) -> &Arc<HostServices> {
        &self.runtime.services
    }

    /// The capabilities in force.
    pub fn grants(&self) -> &Grants {
        &self.identity.grants
    }

    /// Runs the parser `name` in a fresh instance.
    pub async fn parse(
        &self,
        name: String,
        outputs: Vec<api::StepOutput>,
        args: String,
        call: CallContext,
    ) -> Result<String, PluginError> {
        let result = self
            .runtime
            .call_guest(
                &self.pre,
                self.identity.clone(),
                call,
                None,
                &self.runtime.parse_slots,
                move |p, store| {
                    Box::pin(async move {
                        p.infrastructor_plugin_plugin()
                            .call_parse(store, &name, &outputs, &args)
                            .await
                    })
                },
            )
            .await?;
        result.map_err(PluginError::Api)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(caps: &[&str]) -> Grants {
        let caps: Vec<Capability> = caps
            .iter()
            .map(|c| Capability::parse(c).expect(c))
            .collect();
        Grants::all(&caps)
    }

    #[test]
    fn read_dirs_open_only_granted_keys_set_to_real_directories() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("file");
        std::fs::write(&file, "x").expect("write");
        let config = serde_json::json!({
            "import_dir": dir.path(),
            "other": dir.path(),
            "a_file": file,
            "missing": "/nonexistent/infrastructor",
        });
        let canonical = std::fs::canonicalize(dir.path()).expect("canonical");
        assert_eq!(
            read_dirs("p", &grants(&["read-dir:import_dir"]), &config),
            vec![("/import_dir".to_string(), canonical)],
            "only the granted key, never `other`"
        );
        assert!(read_dirs("p", &grants(&["storage", "clock"]), &config).is_empty());
        assert!(read_dirs("p", &grants(&["read-dir:unset"]), &config).is_empty());
        assert!(read_dirs("p", &grants(&["read-dir:a_file"]), &config).is_empty());
        assert!(read_dirs("p", &grants(&["read-dir:missing"]), &config).is_empty());
        // Declared but not granted: Grants::effective drops it.
        let declared = [Capability::parse("read-dir:import_dir").expect("cap")];
        let none = Grants::effective(&declared, &[]);
        assert!(read_dirs("p", &none, &config).is_empty());
    }
}
