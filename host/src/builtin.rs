//! The built-in plugins, compiled to `wasm32-wasip2` by the build script and embedded.

/// One built-in plugin.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinPlugin {
    /// Its name.
    pub name: &'static str,
    /// The component bytes, embedded in the binary.
    pub wasm: &'static [u8],
    /// SHA-256 of `wasm` (hex), taken at build time.
    pub sha256: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));
