//! Loading plugins and calling them: the API version read from the component's import and
//! export names, one `InstancePre` per plugin, a fresh `Store` and instance per call (a
//! trapped instance is never reused; the next one is made between requests, see
//! [`super::spare`], and the used one dropped after its answer is on its way), a CPU
//! deadline by epoch interruption that excludes time spent in host imports, and a memory cap.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use infrastructor_manifest::{self as model, Capability, Grants};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{Component, HasSelf, Instance, InstancePre, Linker};
use wasmtime::{Store, Trap, UpdateDeadline};

use super::answer_cache::AnswerCache;
use super::bindings::{self, ApiVersion, v0_1, v0_2};
use super::call::{CallExtras, PluginRequest, PluginResponse, StreamCommand};
use super::engine::{EngineLimits, PluginEngine};
use super::error::{LoadError, PluginError};
use super::exports::{self, Exports};
use super::granter::Granter;
use super::host;
use super::instance::{CallContext, InstanceState, MemoryLimitExceeded, PluginIdentity};
use super::manifest::Manifest;
use super::manifest_cache;
use super::spare::{self, SpareBudget, SpareSlot};
use crate::collector::{self, CachedRead, Outcome, StepOutput};
use crate::config::PluginConfig;
use crate::fault::Fault;
use crate::metrics::StopReason;
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

/// A component prepared for instantiation, and its plugin interface's exports, their types
/// proven at load for the API version it was built against.
struct Pre {
    instance: InstancePre<InstanceState>,
    exports: Exports,
}

/// An instance of a component, ready for its call.
type Ready = Instance;

/// A fresh instance made ahead of the call that will take it (see [`super::spare`]).
struct Spare {
    store: Store<InstanceState>,
    ready: Ready,
}

/// One call into a guest, in the host's terms.
enum GuestCall {
    Manifest,
    Handle(PluginRequest),
    Parse {
        name: String,
        outputs: Vec<StepOutput>,
        args: String,
    },
}

/// A guest's answer, converted to the host's terms.
enum GuestAnswer {
    Manifest(Result<model::Manifest, model::Problems>),
    Handle(Result<PluginResponse, Fault>),
    Parse(Result<String, Fault>),
}

/// What a plugin asks to collect, in the host's terms (from the `collector` import or a
/// periodic collector of its manifest).
pub struct CollectSpec {
    /// Data type.
    pub data_type: String,
    /// Device hostname or raw host.
    pub target: String,
    /// Output-changing parameters.
    pub params: Vec<(String, String)>,
    /// Steps, each checked by the granter.
    pub steps: Vec<model::Step>,
    /// One of the plugin's parsers.
    pub parser: String,
    /// JSON for the parser.
    pub parser_args: String,
    /// Max age of a cached result.
    pub max_age: Duration,
    /// Bypass the cache.
    pub force_refresh: bool,
}

/// The engine, linker and instance budget shared by all plugins.
pub struct PluginRuntime {
    engine: PluginEngine,
    linker: Linker<InstanceState>,
    services: Arc<HostServices>,
    cache_dir: PathBuf,
    handle_slots: Arc<Semaphore>,
    parse_slots: Arc<Semaphore>,
    answers: AnswerCache,
    spares: Arc<SpareBudget>,
    loads: AtomicU64,
    max_memory_bytes: usize,
}

/// A guest's answer, and the collections it was built from when the call was traced and
/// read nothing else.
type Answered = (GuestAnswer, Option<Vec<CachedRead>>);

impl PluginRuntime {
    /// Builds the engine (sized for `max_instances` concurrent calls) and the linker with
    /// every host import of every supported API version, plus WASI (an instance gets its
    /// minimal context when it first calls WASI, see [`InstanceState`]).
    /// `answer_cache_bytes` bounds the stored answers of cacheable routes (0 = none).
    pub fn new(
        services: Arc<HostServices>,
        cache_dir: PathBuf,
        max_instances: u32,
        max_memory_bytes: usize,
        answer_cache_bytes: usize,
    ) -> anyhow::Result<Arc<PluginRuntime>> {
        // Handle and parse calls (each up to `max_instances`) and the spares.
        let engine = PluginEngine::new(&EngineLimits {
            instances: max_instances * 2 + spare::MAX_SPARES,
            max_memory_bytes,
        })?;
        let mut linker = Linker::new(engine.engine());
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        v0_1::DomainPlugin::add_to_linker::<_, HasSelf<InstanceState>>(&mut linker, |s| s)?;
        v0_2::DomainPlugin::add_to_linker::<_, HasSelf<InstanceState>>(&mut linker, |s| s)?;
        Ok(Arc::new(PluginRuntime {
            engine,
            linker,
            services,
            cache_dir,
            handle_slots: Arc::new(Semaphore::new(max_instances as usize)),
            parse_slots: Arc::new(Semaphore::new(max_instances as usize)),
            answers: AnswerCache::new(answer_cache_bytes),
            spares: SpareBudget::new(spare::MAX_SPARES as usize),
            loads: AtomicU64::new(0),
            max_memory_bytes,
        }))
    }

    /// The largest memory cap an instance can have: the engine's memory pool was sized for
    /// it at start-up (a reload cannot raise it).
    pub fn max_memory_bytes(&self) -> usize {
        self.max_memory_bytes
    }

    /// The host services.
    pub fn services(&self) -> &Arc<HostServices> {
        &self.services
    }

    /// The API version `component` was built against, and the WASI interfaces it imports
    /// (`wasi:clocks/wall-clock@0.2.12`, …).
    fn api_version(&self, component: &Component) -> Result<(ApiVersion, Vec<String>), LoadError> {
        let engine = self.engine.engine();
        let ty = component.component_type();
        let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
        let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
        let version = bindings::detect(
            imports.iter().map(String::as_str),
            exports.iter().map(String::as_str),
        )?;
        let wasi = imports
            .into_iter()
            .filter(|name| name.starts_with("wasi:"))
            .collect();
        Ok((version, wasi))
    }

    /// Compiles (or loads from cache) `wasm`, reads its API version and manifest and
    /// prepares it for calls.
    ///
    /// `expected_name` is the name the plugin is configured under (file stem or built-in
    /// name): the manifest must agree. `builtin` plugins without explicit `grants` get their
    /// declaration; others get only what is granted.
    pub async fn load(
        self: &Arc<Self>,
        expected_name: &str,
        wasm: std::borrow::Cow<'static, [u8]>,
        sha256: &str,
        source: PluginSource,
        config: &PluginConfig,
    ) -> Result<LoadedPlugin, PluginError> {
        let fail = |e: LoadError| PluginError::load(expected_name, e);
        if config.memory_limit_mb as usize * 1024 * 1024 > self.max_memory_bytes {
            return Err(fail(LoadError::MemoryAboveStartUp {
                asked_mb: config.memory_limit_mb,
                max_mb: self.max_memory_bytes / (1024 * 1024),
            }));
        }
        let started = Instant::now();
        let super::engine::Compiled {
            component,
            from_cache,
            preinitialized,
        } = {
            let this = self.clone();
            let sha256 = sha256.to_string();
            tokio::task::spawn_blocking(move || {
                this.engine.load_component(&wasm, &sha256, &this.cache_dir)
            })
            .await
            .map_err(|e| fail(LoadError::Compile(e.to_string())))?
            .map_err(|e| fail(LoadError::Compile(format!("{e:#}"))))?
        };
        let (version, wasi_imports) = self.api_version(&component).map_err(fail)?;
        let link = |e: wasmtime::Error| {
            fail(LoadError::Link {
                version: version.to_string(),
                message: format!("{e:#}"),
            })
        };
        let memory_limit = (config.memory_limit_mb as usize) * 1024 * 1024;
        let deadline = Duration::from_secs(config.timeout_secs);
        let config_json = config.config.to_string();
        let instance = self.linker.instantiate_pre(&component).map_err(link)?;
        let exports = self
            .checked_exports(
                &instance,
                version,
                bootstrap_identity(expected_name, &config_json, memory_limit, deadline, None),
            )
            .await
            .map_err(link)?;
        let pre = Pre { instance, exports };

        // The manifest: kept from an earlier start with the same component, config and host,
        // or read from the guest with no capabilities at all (its error log kept to say why,
        // should the call fail).
        let kept_at = manifest_cache::entry_path(&self.cache_dir, sha256, version, &config_json);
        let manifest_from_cache;
        let model = match manifest_cache::read(&kept_at) {
            Some(model) => {
                manifest_from_cache = true;
                model
            }
            None => {
                manifest_from_cache = false;
                let model = self
                    .manifest_from_guest(&pre, expected_name, &config_json, memory_limit, deadline)
                    .await?;
                manifest_cache::write(&kept_at, sha256, &model);
                model
            }
        };
        let manifest = Manifest::compile(model, version).map_err(|e| fail(e.into()))?;
        if manifest.name != expected_name {
            return Err(fail(LoadError::NameMismatch {
                manifest: manifest.name,
                expected: expected_name.to_string(),
            }));
        }
        let granted = match (&config.grants, &source) {
            (Some(list), _) => Some(
                list.iter()
                    .map(|g| Capability::parse(g))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| fail(LoadError::Grant(e)))?,
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
            load_log: None,
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
            loaded_at: crate::time::now_rfc3339(),
            sha256: sha256.to_string(),
            from_cache,
            manifest_from_cache,
            preinitialized,
            wasi_imports,
            load_id: self.loads.fetch_add(1, Ordering::Relaxed),
            section: config.clone(),
            identity,
            pre,
            spare: SpareSlot::default(),
            runtime: self.clone(),
        })
    }

    /// The plugin interface's exports of the component `instance` prepares, once their
    /// types are proven for `version` on one instance of it, made in a store of `identity`
    /// and dropped (see [`super::exports`]).
    async fn checked_exports(
        &self,
        instance: &InstancePre<InstanceState>,
        version: ApiVersion,
        identity: Arc<PluginIdentity>,
    ) -> wasmtime::Result<Exports> {
        let mut store = self.new_store(identity);
        let first = instance.instantiate_async(&mut store).await?;
        match version {
            ApiVersion::V0_1 => exports::v0_1::checked(&mut store, &first),
            ApiVersion::V0_2 => exports::v0_2::checked(&mut store, &first),
        }
    }

    /// Asks a plugin for its manifest, with no capabilities at all; when the call fails, the
    /// guest's own error log says why, if it said anything.
    async fn manifest_from_guest(
        self: &Arc<Self>,
        pre: &Pre,
        expected_name: &str,
        config_json: &str,
        memory_limit: usize,
        deadline: Duration,
    ) -> Result<model::Manifest, PluginError> {
        let fail = |e: LoadError| PluginError::load(expected_name, e);
        let load_log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let bootstrap = bootstrap_identity(
            expected_name,
            config_json,
            memory_limit,
            deadline,
            Some(load_log.clone()),
        );
        let call = CallContext {
            request_id: "load".into(),
            principal: None,
            hosts: crate::remote::HostAccess::RegisteredOnly,
        };
        let answer = self
            .call_guest(
                Caller::Loading {
                    pre,
                    identity: bootstrap,
                },
                call,
                CallExtras::default(),
                GuestCall::Manifest,
            )
            .await
            .map_err(|e| {
                let said = load_log.lock().map(|l| l.join("; ")).unwrap_or_default();
                if said.is_empty() {
                    fail(LoadError::ManifestCall(Box::new(e)))
                } else {
                    fail(LoadError::Refused(said))
                }
            })?;
        let (GuestAnswer::Manifest(model), _) = answer else {
            return Err(fail(LoadError::Compile(
                "the manifest call answered something else".into(),
            )));
        };
        model.map_err(|p| fail(LoadError::Manifest(p.into())))
    }

    /// Makes the call in a fresh instance: the spare of the caller's plugin when it has one,
    /// else its `Pre` instantiated in a new store; converts the answer to the host's types
    /// and maps traps to [`PluginError`]s. The used store is dropped, and the plugin's next
    /// spare made, by a task that runs after the answer is on its way ([`recycle`]).
    async fn call_guest(
        &self,
        caller: Caller<'_>,
        call: CallContext,
        extras: CallExtras,
        op: GuestCall,
    ) -> Result<Answered, PluginError> {
        let (pre, identity, plugin) = match &caller {
            Caller::Loading { pre, identity } => (*pre, identity.clone(), None),
            Caller::Handler(p) | Caller::Parser(p) => (&p.pre, p.identity.clone(), Some(*p)),
        };
        let slots = match caller {
            Caller::Parser(_) => &self.parse_slots,
            Caller::Loading { .. } | Caller::Handler(_) => &self.handle_slots,
        };
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PluginError::Busy)?;
        let started = Instant::now();
        let (mut store, ready) = match plugin.and_then(|p| p.spare.take()) {
            Some(spare) => (spare.store, Some(spare.ready)),
            None => (self.new_store(identity.clone()), None),
        };
        let state = store.data_mut();
        state.call = call;
        // Only a handler's instance may collect (with its plugin's parsers); a parser's
        // may not start another collection.
        state.loaded = match caller {
            Caller::Handler(p) => Some(p.clone()),
            Caller::Loading { .. } | Caller::Parser(_) => None,
        };
        state.job = extras.job;
        state.body = extras.body;
        if extras.trace_answer {
            state.trace_answer();
        }
        let result = async {
            let ready = match ready {
                Some(ready) => ready,
                None => instantiate(pre, &mut store).await?,
            };
            start_clock(&mut store);
            // The deadline counts from the call, not from when a spare was made.
            store.set_epoch_deadline(1);
            match pre.exports.version() {
                ApiVersion::V0_2 => call_v0_2(&pre.exports, &ready, &mut store, op).await,
                ApiVersion::V0_1 => call_v0_1(&pre.exports, &ready, &mut store, op).await,
            }
        }
        .await;
        let result = result.map_err(|e| classify_trap(e, store.data(), &identity));
        let stopped = result.as_ref().err().and_then(|e| match e {
            PluginError::MemoryLimit { .. } => Some(StopReason::MemoryLimit),
            PluginError::Deadline { .. } => Some(StopReason::Timeout),
            PluginError::Trapped { .. } => Some(StopReason::Trapped),
            _ => None,
        });
        self.services
            .metrics
            .plugin_call(&identity.name, started.elapsed(), stopped);
        let reads = store.data_mut().take_answer_reads();
        recycle(store, permit, plugin.cloned());
        Ok((result?, reads))
    }

    /// A new store for an instance of the plugin `identity`: its limits, its deadline
    /// callback, no call yet.
    fn new_store(&self, identity: Arc<PluginIdentity>) -> Store<InstanceState> {
        let state = InstanceState::new(identity, self.services.clone(), CallContext::default());
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
        store
    }
}

/// Who a guest call is for; it decides the instance's `Pre`, its identity, whether a spare
/// may serve it, which instance budget it counts against and whether it may collect.
enum Caller<'a> {
    /// The manifest call at load, before there is a [`LoadedPlugin`]: no spare, no collecting.
    Loading {
        pre: &'a Pre,
        identity: Arc<PluginIdentity>,
    },
    /// A request to one of the plugin's routes: its instance may collect.
    Handler(&'a Arc<LoadedPlugin>),
    /// One of the plugin's parsers, for the collector: its own instance budget, no collecting.
    Parser(&'a Arc<LoadedPlugin>),
}

/// Drops a used store and its instance permit in a task of their own, which the worker runs
/// once the current request's answer is written (the memory reset and deallocation are then
/// off the request's path), and then makes `plugin`'s next spare if it has none. Outside a
/// runtime they are simply dropped here.
fn recycle(
    store: Store<InstanceState>,
    permit: OwnedSemaphorePermit,
    plugin: Option<Arc<LoadedPlugin>>,
) {
    let work = async move {
        drop(store);
        drop(permit);
        if let Some(plugin) = plugin {
            plugin.make_spare().await;
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn(work)),
        Err(_) => drop(work),
    }
}

/// Instantiates `pre` in `store`.
async fn instantiate(pre: &Pre, store: &mut Store<InstanceState>) -> wasmtime::Result<Ready> {
    pre.instance.instantiate_async(&mut *store).await
}

/// The identity of a plugin while it loads: its configured name, no manifest and no grants
/// yet; `load_log` keeps what the guest logs, to say why its manifest call failed.
fn bootstrap_identity(
    expected_name: &str,
    config_json: &str,
    memory_limit: usize,
    deadline: Duration,
    load_log: Option<Arc<std::sync::Mutex<Vec<String>>>>,
) -> Arc<PluginIdentity> {
    Arc::new(PluginIdentity {
        load_log,
        manifest: None,
        name: expected_name.to_string(),
        version: "?".into(),
        grants: Grants::default(),
        config_json: config_json.to_string(),
        memory_limit,
        deadline,
        read_dirs: Vec::new(),
    })
}

/// Starts the call's clocks once the instance exists (instantiation is not the guest's time).
fn start_clock(store: &mut Store<InstanceState>) {
    store.data_mut().call_started = Instant::now();
    store.data_mut().host_time = Duration::ZERO;
}

/// One call of an instance of one API version: call, convert the answer with that
/// version's conversions (`$conv`). The same steps for every version; only the generated
/// types differ.
macro_rules! call_version {
    ($name:ident, $bindings:ident, $conv:path) => {
        async fn $name(
            exports: &Exports,
            instance: &Instance,
            store: &mut Store<InstanceState>,
            op: GuestCall,
        ) -> wasmtime::Result<GuestAnswer> {
            use super::exports::$bindings as call;
            use $conv as conv;
            Ok(match op {
                GuestCall::Manifest => GuestAnswer::Manifest(conv::manifest_from_wit(
                    call::manifest(exports, store, instance).await?,
                )),
                GuestCall::Handle(request) => GuestAnswer::Handle(
                    call::handle(exports, store, instance, &conv::request_to_wit(request))
                        .await?
                        .map(conv::response_from_wit)
                        .map_err(conv::fault_from_wit),
                ),
                GuestCall::Parse {
                    name,
                    outputs,
                    args,
                } => {
                    let outputs: Vec<_> =
                        outputs.into_iter().map(conv::step_output_to_wit).collect();
                    GuestAnswer::Parse(
                        call::parse(exports, store, instance, &name, &outputs, &args)
                            .await?
                            .map_err(conv::fault_from_wit),
                    )
                }
            })
        }
    };
}

call_version!(call_v0_2, v0_2, host::plugin);
call_version!(call_v0_1, v0_1, host::v0_1);

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
    if id.load_log.is_some() {
        // At load the error is returned (and reported once by whoever loads it).
        tracing::debug!(%plugin, error = ?e, "plugin trapped while its manifest was read");
    } else {
        tracing::error!(%plugin, %version, request_id = %state.call.request_id, error = ?e, "plugin trapped");
    }
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
    /// When it was loaded, RFC 3339.
    pub loaded_at: String,
    /// SHA-256 (hex) of its component bytes.
    pub sha256: String,
    /// Whether the compiled artifact came from the cache.
    pub from_cache: bool,
    /// Whether the manifest came from the cache (no guest ran at load).
    pub manifest_from_cache: bool,
    /// Whether the component was pre-initialised ([`super::preinit`]).
    pub preinitialized: bool,
    /// The WASI interfaces the component imports: none for a guest built without WASI's
    /// standard library that reads no clock and no file; 13 or more for a `wasm32-wasip2`
    /// build, each made with every instance.
    pub wasi_imports: Vec<String>,
    /// Distinct for every load of every plugin (a reloaded plugin never shares stored
    /// answers with its predecessor).
    pub load_id: u64,
    /// The config section it was loaded with (a reload with the same bytes and the same
    /// section keeps this load).
    pub section: PluginConfig,
    identity: Arc<PluginIdentity>,
    pre: Pre,
    /// The fresh instance the next call takes (see [`super::spare`]).
    spare: SpareSlot<Spare>,
    runtime: Arc<PluginRuntime>,
}

impl LoadedPlugin {
    /// Handles one request in a fresh instance.
    pub async fn handle(
        self: &Arc<Self>,
        request: PluginRequest,
        call: CallContext,
    ) -> Result<PluginResponse, PluginError> {
        self.handle_with(request, call, CallExtras::default()).await
    }

    /// Handles one request whose body streams from the client (a `stream-body` route).
    pub async fn handle_streamed(
        self: &Arc<Self>,
        request: PluginRequest,
        call: CallContext,
        body: super::call::BodySource,
    ) -> Result<PluginResponse, PluginError> {
        let extras = CallExtras {
            body: Some(body),
            ..CallExtras::default()
        };
        self.handle_with(request, call, extras).await
    }

    /// Handles one request as the job `job` (its progress, log and cancel flag).
    pub async fn handle_job(
        self: &Arc<Self>,
        request: PluginRequest,
        call: CallContext,
        job: Arc<crate::jobs::JobHandle>,
    ) -> Result<PluginResponse, PluginError> {
        let extras = CallExtras {
            job: Some(job),
            ..CallExtras::default()
        };
        self.handle_with(request, call, extras).await
    }

    /// Handles a request to a `cacheable` route, recording what the call reads: the answer,
    /// and the collections it was built from when it read nothing else (see
    /// [`super::answer_cache`]).
    pub async fn handle_traced(
        self: &Arc<Self>,
        request: PluginRequest,
        call: CallContext,
    ) -> Result<(PluginResponse, Option<Vec<CachedRead>>), PluginError> {
        let extras = CallExtras {
            trace_answer: true,
            ..CallExtras::default()
        };
        self.handle_answered(request, call, extras).await
    }

    /// The stored answers of cacheable routes (shared by every plugin).
    pub fn answers(&self) -> &AnswerCache {
        &self.runtime.answers
    }

    async fn handle_with(
        self: &Arc<Self>,
        request: PluginRequest,
        call: CallContext,
        extras: CallExtras,
    ) -> Result<PluginResponse, PluginError> {
        Ok(self.handle_answered(request, call, extras).await?.0)
    }

    async fn handle_answered(
        self: &Arc<Self>,
        request: PluginRequest,
        call: CallContext,
        extras: CallExtras,
    ) -> Result<(PluginResponse, Option<Vec<CachedRead>>), PluginError> {
        let (answer, reads) = self
            .runtime
            .call_guest(
                Caller::Handler(self),
                call,
                extras,
                GuestCall::Handle(request),
            )
            .await?;
        match answer {
            GuestAnswer::Handle(result) => result.map(|r| (r, reads)).map_err(PluginError::Api),
            _ => Err(PluginError::Api(Fault::internal(
                "the guest answered another call",
            ))),
        }
    }

    /// Whether a fresh instance is waiting for this plugin's next call.
    pub fn has_spare(&self) -> bool {
        self.spare.is_full()
    }

    /// Makes this plugin's spare instance, unless it has one, one is being made, or the
    /// runtime's spares are at their cap. A spare that cannot be made is no error: the next
    /// call instantiates its own.
    async fn make_spare(self: &Arc<Self>) {
        let Some(making) = self.spare.begin(&self.runtime.spares) else {
            return;
        };
        let mut store = self.runtime.new_store(self.identity.clone());
        match instantiate(&self.pre, &mut store).await {
            Ok(ready) => making.fill(Spare { store, ready }),
            Err(e) => {
                tracing::debug!(plugin = %self.manifest.name, error = %e, "no spare instance")
            }
        }
    }

    /// The host services (database, SSH, collector).
    pub fn services(&self) -> &Arc<HostServices> {
        &self.runtime.services
    }

    /// The capabilities in force.
    pub fn grants(&self) -> &Grants {
        &self.identity.grants
    }

    /// The plugin API version it was built against.
    pub fn api_version(&self) -> ApiVersion {
        self.manifest.api_version
    }

    /// Runs the parser `name` in a fresh instance.
    pub async fn parse(
        self: &Arc<Self>,
        name: String,
        outputs: Vec<StepOutput>,
        args: String,
        call: CallContext,
    ) -> Result<String, PluginError> {
        let answer = self
            .runtime
            .call_guest(
                Caller::Parser(self),
                call,
                CallExtras::default(),
                GuestCall::Parse {
                    name,
                    outputs,
                    args,
                },
            )
            .await?
            .0;
        match answer {
            GuestAnswer::Parse(result) => result.map_err(PluginError::Api),
            _ => Err(PluginError::Api(Fault::internal(
                "the guest answered another call",
            ))),
        }
    }

    /// Collects for this plugin: needs `collector`, a declared parser, and every step allowed
    /// by the granter; then the collector runs it (or serves it from the cache) and this
    /// plugin's parser reads the outputs in a fresh instance.
    pub async fn collect(
        self: &Arc<Self>,
        spec: CollectSpec,
        call: &CallContext,
    ) -> Result<Outcome, Fault> {
        let granter = Granter::new(&self.identity, &call.request_id);
        granter.require(&Capability::Collector)?;
        if !self.manifest.parsers.contains(&spec.parser) {
            return Err(Fault::bad_request(format!(
                "parser `{}` is not declared in the manifest",
                spec.parser
            )));
        }
        let steps = spec
            .steps
            .into_iter()
            .map(|s| granter.step(s))
            .collect::<Result<Vec<_>, _>>()?;
        let request = collector::Request {
            plugin: self.manifest.name.clone(),
            data_type: spec.data_type,
            target: spec.target,
            params: spec.params,
            steps,
            parser: spec.parser.clone(),
            max_age: spec.max_age,
            force_refresh: spec.force_refresh,
            requester: call.principal.clone(),
            hosts: call.hosts,
        };
        let this = self.clone();
        let parse_call = call.clone();
        let (parser, args) = (spec.parser, spec.parser_args);
        self.services()
            .collector
            .collect(request, move |outputs| async move {
                this.parse(parser, outputs, args, parse_call)
                    .await
                    .map_err(Fault::from)
            })
            .await
            .map_err(Fault::from)
    }

    /// Starts a streamed response's command (argv or script) once the granter allowed it.
    pub async fn stream(
        &self,
        command: StreamCommand,
        call: &CallContext,
    ) -> Result<infrastructor_ssh::ExecStream, Fault> {
        let remote_command =
            Granter::new(&self.identity, &call.request_id).command(command.command)?;
        self.services()
            .remote
            .stream(&command.target, remote_command, command.sse, call.hosts)
            .await
            .map_err(Fault::from)
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
