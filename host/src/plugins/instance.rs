//! The per-request store data of a plugin instance: identity, grants, limits, the time
//! spent in host imports (excluded from the deadline) and a minimal WASI context, made when
//! the guest first uses it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::clocks::{MonotonicClock, WallClock};
use wasmtime_wasi::{
    FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

use infrastructor_manifest::{Capability, Grants};

use super::answer_cache::AnswerTrace;
use super::manifest::Manifest;
use crate::services::HostServices;

/// What an instance knows about the plugin it runs.
pub struct PluginIdentity {
    /// Checked manifest (None while `manifest()` itself is being called at load).
    pub manifest: Option<Manifest>,
    /// Name (from config/file name until the manifest is known).
    pub name: String,
    /// Version.
    pub version: String,
    /// Capabilities in force.
    pub grants: Grants,
    /// The plugin's config section as JSON.
    pub config_json: String,
    /// Memory cap in bytes.
    pub memory_limit: usize,
    /// CPU-time deadline of one call.
    pub deadline: Duration,
    /// Host directories granted read-only (`read-dir:KEY`): (guest path `/KEY`, host path).
    pub read_dirs: Vec<(String, std::path::PathBuf)>,
    /// While the manifest is read at load: the guest's warn and error log lines, kept (not
    /// logged) to say why a failed load failed.
    pub load_log: Option<Arc<std::sync::Mutex<Vec<String>>>>,
}

/// Who and what a call is for.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The request id (`X-Request-ID`), or a label such as `load` or `poller`.
    pub request_id: String,
    /// The API key name, when auth is on.
    pub principal: Option<String>,
    /// What the call may do with hosts that are not registered devices.
    pub hosts: crate::remote::HostAccess,
}

/// Store data of one instance.
pub struct InstanceState {
    /// The plugin.
    pub plugin: Arc<PluginIdentity>,
    /// Host services the imports use.
    pub services: Arc<HostServices>,
    /// The call's context.
    pub call: CallContext,
    /// When the current export call started.
    pub call_started: Instant,
    /// Time spent awaiting host imports during the current call.
    pub host_time: Duration,
    /// Set when the deadline stopped the guest.
    pub deadline_hit: bool,
    /// The loaded plugin itself (for the collector, which runs its parser in a new
    /// instance); `None` while the manifest is read at load.
    pub loaded: Option<Arc<super::LoadedPlugin>>,
    /// The job this call runs as, if any.
    pub job: Option<Arc<crate::jobs::JobHandle>>,
    /// The streamed request body, until `ssh.exec-with-body` takes it.
    pub body: Option<super::call::BodySource>,
    /// What a call to a `cacheable` route read (see [`super::answer_cache`]); `None` for
    /// other calls.
    pub answer: Option<AnswerTrace>,
    /// Set when the guest read a real clock (a plugin granted `clock`).
    clock_read: Arc<AtomicBool>,
    pub(crate) limiter: MemoryLimiter,
    /// Made on the guest's first WASI call: most calls make none, and building one costs
    /// about as much as the rest of the store.
    wasi: Option<WasiCtx>,
    table: ResourceTable,
}

impl InstanceState {
    /// Fresh state for one instance.
    pub fn new(
        plugin: Arc<PluginIdentity>,
        services: Arc<HostServices>,
        call: CallContext,
    ) -> Self {
        let limiter = MemoryLimiter {
            limit: plugin.memory_limit,
            hit: false,
        };
        InstanceState {
            plugin,
            services,
            call,
            call_started: Instant::now(),
            host_time: Duration::ZERO,
            deadline_hit: false,
            loaded: None,
            job: None,
            body: None,
            answer: None,
            clock_read: Arc::new(AtomicBool::new(false)),
            limiter,
            wasi: None,
            table: ResourceTable::new(),
        }
    }

    /// Starts recording what this call reads, for a `cacheable` route. A plugin granted
    /// read-only directories is tainted at once: what it reads there cannot be checked.
    pub fn trace_answer(&mut self) {
        let trace = AnswerTrace::default();
        if !self.plugin.read_dirs.is_empty() {
            trace.taint();
        }
        self.answer = Some(trace);
    }

    /// Marks the call as having read something a stored answer cannot be checked against.
    pub fn taint_answer(&self) {
        if let Some(trace) = &self.answer {
            trace.taint();
        }
    }

    /// The recorded reads of a pure call (taken), `None` for an impure or untraced one.
    pub fn take_answer_reads(&mut self) -> Option<Vec<crate::collector::CachedRead>> {
        let trace = self.answer.take()?;
        if self.clock_read.load(Ordering::Relaxed) {
            trace.taint();
        }
        trace.into_reads()
    }

    /// True when the memory limit stopped the guest.
    pub fn memory_limit_hit(&self) -> bool {
        self.limiter.hit
    }

    /// Guest CPU time of the current call: wall time minus time in host imports.
    pub fn guest_time(&self) -> Duration {
        self.call_started.elapsed().saturating_sub(self.host_time)
    }
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let ctx = self
            .wasi
            .get_or_insert_with(|| wasi_ctx(&self.plugin, &self.clock_read));
        WasiCtxView {
            ctx,
            table: &mut self.table,
        }
    }
}

/// The WASI context of an instance of `plugin`: its clocks (real and watched when granted
/// `clock`, else frozen) and its granted read-only directories; nothing else (no
/// environment, arguments, stdio, network).
fn wasi_ctx(plugin: &PluginIdentity, clock_read: &Arc<AtomicBool>) -> WasiCtx {
    let mut wasi = WasiCtxBuilder::new();
    if plugin.grants.has(&Capability::Clock) {
        wasi.wall_clock(WatchedClock::new(WallClock::new(), clock_read))
            .monotonic_clock(WatchedClock::new(MonotonicClock::new(), clock_read));
    } else {
        wasi.wall_clock(FrozenClock).monotonic_clock(FrozenClock);
    }
    for (guest, host) in &plugin.read_dirs {
        if let Err(e) = wasi.preopened_dir(host, guest, FsPerms::ReadOnly) {
            // The guest then sees no such directory and answers accordingly.
            tracing::warn!(
                plugin = %plugin.name,
                dir = %host.display(),
                error = %e,
                "cannot open a granted read-only directory"
            );
        }
    }
    wasi.build()
}

/// Caps linear memory growth; records that it did so the host can say why the guest stopped.
pub(crate) struct MemoryLimiter {
    limit: usize,
    hit: bool,
}

/// The error a memory grow past the limit traps with.
#[derive(Debug, thiserror::Error)]
#[error("memory limit exceeded")]
pub struct MemoryLimitExceeded;

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.hit = true;
            return Err(MemoryLimitExceeded.into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The real clocks, noting that they were read (an answer that read the time cannot be
/// replayed).
struct WatchedClock<C> {
    clock: C,
    read: Arc<AtomicBool>,
}

impl<C> WatchedClock<C> {
    fn new(clock: C, read: &Arc<AtomicBool>) -> Self {
        WatchedClock {
            clock,
            read: read.clone(),
        }
    }
}

impl<C: HostWallClock> HostWallClock for WatchedClock<C> {
    fn resolution(&self) -> Duration {
        self.clock.resolution()
    }
    fn now(&self) -> Duration {
        self.read.store(true, Ordering::Relaxed);
        self.clock.now()
    }
}

impl<C: HostMonotonicClock> HostMonotonicClock for WatchedClock<C> {
    fn resolution(&self) -> u64 {
        self.clock.resolution()
    }
    fn now(&self) -> u64 {
        self.read.store(true, Ordering::Relaxed);
        self.clock.now()
    }
}

/// A clock that always reads zero, for plugins not granted `clock`.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}
