//! Pre-initialisation of plugin components (Wizer), so no request pays for what every
//! instance would compute the same way.
//!
//! A component that exports [`INIT_EXPORT`] (every plugin built with the SDK: its
//! `export_plugin!` builds the plugin's `App` there) has that export run once, at load,
//! before the component is compiled for serving. Its linear memory and globals afterwards
//! become the component's initial state: every instance, still one fresh store per request,
//! starts with the `App` already built (copy-on-write pages of the compiled image), instead
//! of building its routes, parameters and schemas again on each call.
//!
//! The run is sandboxed like a call and more: every import traps (an initialiser that calls
//! the host cannot be snapshotted, and is not pre-initialised), memory is capped at the
//! engine's largest plugin memory, and fuel bounds the work. Any failure leaves the
//! component as it was: pre-initialisation is an optimisation, never a reason not to load.

use wasmtime::component::{Component, Instance, Linker, WasmList};
use wasmtime::{
    Config, Engine, OptLevel, RegallocAlgorithm, Store, StoreLimits, StoreLimitsBuilder,
};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

/// The export a component runs once at load to pre-initialise itself (Wizer's default).
pub const INIT_EXPORT: &str = "wizer-initialize";

/// Bumped when what a pre-initialised artifact contains changes (part of the compile cache
/// key, so an artifact made by another scheme is never loaded).
pub const SCHEME: u32 = 1;

/// Work an initialiser may do: about a second of guest code on this class of machine, far
/// above what building an `App` takes (well under a millisecond).
const FUEL: u64 = 2_000_000_000;

/// Why a component was not pre-initialised.
#[derive(Debug, thiserror::Error)]
pub enum PreinitError {
    /// Wizer cannot instrument or snapshot this component's shape.
    #[error("the component cannot be snapshotted: {0:#}")]
    Unsupported(wasmtime::Error),
    /// The instrumented component does not compile or instantiate.
    #[error("the instrumented component does not run: {0:#}")]
    Instantiate(wasmtime::Error),
    /// The initialiser trapped, called the host, ran out of fuel or memory.
    #[error("`{INIT_EXPORT}` failed (it may not call the host): {0:#}")]
    Init(wasmtime::Error),
}

/// True when `wasm` is a component exporting [`INIT_EXPORT`] at its top level (a scan of its
/// sections; nothing is compiled).
pub fn exports_init(wasm: &[u8]) -> bool {
    super::bindings::top_level_names(wasm, super::bindings::Names::Exports)
        .iter()
        .any(|name| name == INIT_EXPORT)
}

/// The engine pre-initialisation runs on: the instrumented component runs once, so it is
/// compiled for compile speed, and fuel (not epochs) bounds it, with no ticker to run.
pub fn engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .cranelift_opt_level(OptLevel::None)
        .cranelift_regalloc_algorithm(RegallocAlgorithm::SinglePass)
        .max_wasm_stack(1 << 20)
        .async_stack_size(2 << 20);
    Engine::new(&config)
}

/// Runs `wasm`'s [`INIT_EXPORT`] on `engine` (from [`engine`]) with at most
/// `max_memory_bytes` of linear memory, and returns the component with the state it left as
/// its initial state.
pub fn preinitialize(
    engine: &Engine,
    wasm: &[u8],
    max_memory_bytes: usize,
) -> Result<Vec<u8>, PreinitError> {
    futures::executor::block_on(run(engine, wasm, max_memory_bytes))
}

async fn run(
    engine: &Engine,
    wasm: &[u8],
    max_memory_bytes: usize,
) -> Result<Vec<u8>, PreinitError> {
    let mut wizer = Wizer::new();
    // Kept: removing it leaves the component's lift of the core export dangling (the core
    // module's export is removed, the canonical lift that names it is not). Calling it again
    // is harmless (the SDK's initialiser runs once per instance).
    wizer.keep_init_func(true);
    let (context, instrumented) = wizer
        .instrument_component(wasm)
        .map_err(PreinitError::Unsupported)?;
    let component = Component::new(engine, &instrumented).map_err(PreinitError::Instantiate)?;
    let mut linker = Linker::<StoreLimits>::new(engine);
    linker
        .define_unknown_imports_as_traps(&component)
        .map_err(PreinitError::Instantiate)?;
    let limits = StoreLimitsBuilder::new()
        .memory_size(max_memory_bytes)
        .instances(64)
        .build();
    let mut store = Store::new(engine, limits);
    store.limiter(|l| l);
    store.set_fuel(FUEL).map_err(PreinitError::Instantiate)?;
    let instance = linker
        .instantiate_async(&mut store, &component)
        .await
        .map_err(PreinitError::Instantiate)?;
    let init = instance
        .get_typed_func::<(), ()>(&mut store, INIT_EXPORT)
        .map_err(PreinitError::Init)?;
    init.call_async(&mut store, ())
        .await
        .map_err(PreinitError::Init)?;
    let mut state = Snapshotted {
        store: &mut store,
        instance,
    };
    wizer
        .snapshot_component(&context, &mut state)
        .await
        .map_err(PreinitError::Unsupported)
}

/// The initialised instance, read by Wizer through the accessor functions its
/// instrumentation added (each returns one global's value or one memory's bytes).
struct Snapshotted<'a> {
    store: &'a mut Store<StoreLimits>,
    instance: Instance,
}

impl Snapshotted<'_> {
    /// Calls the accessor `func` of the exported instance `instance`. The accessors exist
    /// because instrumentation added them, with these types; a missing or mistyped one is a
    /// Wizer bug, not input, so it panics (on the blocking thread of the load, which then
    /// fails as a compile error).
    async fn call<R, T>(
        &mut self,
        instance: &str,
        func: &str,
        read: impl FnOnce(&Store<StoreLimits>, R) -> T,
    ) -> T
    where
        R: wasmtime::component::Lift + wasmtime::component::ComponentType + Send + Sync + 'static,
    {
        #[allow(clippy::expect_used)]
        let answer = {
            let (_, exported) = self
                .instance
                .get_export(&mut *self.store, None, instance)
                .expect("wizer's accessor instance");
            let (_, index) = self
                .instance
                .get_export(&mut *self.store, Some(&exported), func)
                .expect("wizer's accessor");
            let typed = self
                .instance
                .get_typed_func::<(), (R,)>(&mut *self.store, index)
                .expect("wizer's accessor type");
            typed
                .call_async(&mut *self.store, ())
                .await
                .expect("wizer's accessor runs")
                .0
        };
        read(self.store, answer)
    }
}

impl ComponentInstanceState for Snapshotted<'_> {
    async fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) {
        self.call(instance, func, |store, list: WasmList<u8>| {
            contents(list.as_le_slice(store))
        })
        .await
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.call(instance, func, |_, v: i32| v).await
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.call(instance, func, |_, v: i64| v).await
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.call(instance, func, |_, v: f32| v.to_bits()).await
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.call(instance, func, |_, v: f64| v.to_bits()).await
    }
}
