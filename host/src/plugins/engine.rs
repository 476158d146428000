//! The wasmtime engine shared by every plugin: configuration (pooling allocator, epoch
//! interruption, async), the epoch ticker, and the on-disk cache of compiled components.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; the granularity of deadlines and of cooperative yields.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Sizing of the engine.
#[derive(Debug, Clone)]
pub struct EngineLimits {
    /// Component instances alive at once (handle + parse instances together).
    pub instances: u32,
    /// The largest memory any plugin may have, in bytes.
    pub max_memory_bytes: usize,
}

/// The engine plus its epoch ticker, stopped on drop.
pub struct PluginEngine {
    engine: Engine,
    stop: Arc<AtomicBool>,
    /// The engine pre-initialisation runs on, made on first use.
    preinit: std::sync::OnceLock<Option<Engine>>,
    max_memory_bytes: usize,
}

/// A component ready for serving, and how it got so.
pub struct Compiled {
    /// The component.
    pub component: Component,
    /// Loaded from the artifact cache (nothing compiled).
    pub from_cache: bool,
    /// Its initialiser ran at load, so instances start from the state it left
    /// ([`super::preinit`]).
    pub preinitialized: bool,
}

impl PluginEngine {
    /// Builds the engine and starts the epoch ticker thread.
    pub fn new(limits: &EngineLimits) -> anyhow::Result<PluginEngine> {
        let mut pool = PoolingAllocationConfig::default();
        let n = limits.instances.max(1);
        // A component instance needs 3 core instances, 1 memory and 2 tables (measured);
        // leave headroom for components built differently.
        pool.total_component_instances(n)
            .total_core_instances(n * 4)
            .total_memories(n * 2)
            .total_tables(n * 4)
            .total_stacks(n)
            .max_memory_size(limits.max_memory_bytes)
            .max_memories_per_component(2)
            .max_tables_per_component(4)
            .max_core_instances_per_component(8)
            // Reset guests with memset instead of madvise: madvise takes the process's mm lock
            // and page-faults every page back in, which serialises concurrent requests. With
            // PAGEMAP_SCAN only the dirtied pages are reset, so keeping 8 MiB resident costs
            // what a request really touched.
            .linear_memory_keep_resident(8 << 20)
            .table_keep_resident(64 << 10)
            .async_stack_keep_resident(256 << 10)
            // What lies beyond is returned at once: a guest stopped at its memory limit gives
            // its memory back before the next request, not after 16 others.
            .decommit_batch_size(1)
            // Linux ≥ 6.7: reset only the pages a request really dirtied.
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .max_wasm_stack(1 << 20)
            .async_stack_size(2 << 20)
            .cranelift_opt_level(wasmtime::OptLevel::Speed);
        let engine = Engine::new(&config)?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = engine.clone();
        let stop_flag = stop.clone();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !stop_flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticker.increment_epoch();
                }
            })?;
        Ok(PluginEngine {
            engine,
            stop,
            preinit: std::sync::OnceLock::new(),
            max_memory_bytes: limits.max_memory_bytes,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles `wasm`, or loads the artifact cached under `cache_dir` by a previous run.
    /// A component exporting [`super::preinit::INIT_EXPORT`] is pre-initialised first (when
    /// that fails, it is compiled as it is, and the reason logged).
    ///
    /// The cache key is `sha256`, the SHA-256 of the wasm (hex) the caller already has, plus
    /// the engine's compatibility hash
    /// (settings such as epoch interruption are baked into compiled code) and the
    /// pre-initialisation scheme, so a changed plugin or engine configuration never loads a
    /// stale artifact. A cache that cannot be
    /// written is not an error: the component is simply compiled each start.
    pub fn load_component(
        &self,
        wasm: &[u8],
        sha256: &str,
        cache_dir: &Path,
    ) -> anyhow::Result<Compiled> {
        let path = self.cache_path(sha256, cache_dir);
        // Beside a pre-initialised artifact: an empty file saying so.
        let marker = path.with_extension("preinit");
        if path.exists() {
            match self.deserialize(&path) {
                Ok(component) => {
                    return Ok(Compiled {
                        component,
                        from_cache: true,
                        preinitialized: marker.exists(),
                    });
                }
                Err(e) => tracing::warn!(
                    artifact = %path.display(),
                    error = %e,
                    "cached plugin artifact unusable; recompiling"
                ),
            }
        }
        let initialised = super::preinit::exports_init(wasm)
            .then(|| self.preinitialize(wasm, sha256))
            .flatten();
        let preinitialized = initialised.is_some();
        let wasm = initialised.as_deref().unwrap_or(wasm);
        let artifact = self.engine.precompile_component(wasm)?;
        let cached = if preinitialized {
            write_atomically(&marker, b"")
        } else {
            Ok(())
        }
        .and_then(|()| write_atomically(&path, &artifact));
        let component = match cached {
            Ok(()) => self.deserialize(&path)?,
            Err(e) => {
                tracing::warn!(dir = %cache_dir.display(), error = %e, "cannot cache compiled plugin");
                Component::new(&self.engine, wasm)?
            }
        };
        Ok(Compiled {
            component,
            from_cache: false,
            preinitialized,
        })
    }

    /// The pre-initialised `wasm`, or `None` (logged) when it cannot be.
    fn preinitialize(&self, wasm: &[u8], sha256: &str) -> Option<Vec<u8>> {
        let engine = self.preinit.get_or_init(|| {
            super::preinit::engine()
                .inspect_err(|e| tracing::warn!(error = %e, "no pre-initialisation engine"))
                .ok()
        });
        let started = std::time::Instant::now();
        match super::preinit::preinitialize(engine.as_ref()?, wasm, self.max_memory_bytes) {
            Ok(initialised) => {
                tracing::info!(
                    component = %sha256,
                    ms = started.elapsed().as_secs_f64() * 1000.0,
                    "pre-initialised"
                );
                Some(initialised)
            }
            Err(e) => {
                tracing::warn!(component = %sha256, error = %e, "not pre-initialised; every instance builds its state");
                None
            }
        }
    }

    fn cache_path(&self, wasm_hash: &str, cache_dir: &Path) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        super::preinit::SCHEME.hash(&mut hasher);
        let engine_hash = hasher.finish();
        cache_dir.join(format!("{wasm_hash}-{engine_hash:016x}.cwasm"))
    }

    #[allow(unsafe_code)]
    fn deserialize(&self, path: &Path) -> wasmtime::Result<Component> {
        // SAFETY: the file was written by `precompile_component` of an engine with the same
        // compatibility hash (it is part of the file name) into the server's own cache
        // directory, which only the server writes; wasmtime additionally checks the header
        // and version of the artifact before using it.
        unsafe { Component::deserialize_file(&self.engine, path) }
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Writes `bytes` to `path` whole or not at all (a temp file beside it, then a rename).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("cache path has no parent"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("artifact"),
        uuid::Uuid::new_v4()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
