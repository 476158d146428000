//! The plugin runtime: wasmtime components, their manifests, capabilities and host imports.

pub mod bindings;
pub mod capability;
pub mod engine;
pub mod error;
pub mod host_api;
pub mod instance;
pub mod loader;
pub mod manifest;
pub mod runtime;

pub use error::PluginError;
pub use instance::CallContext;
pub use loader::PluginSet;
pub use runtime::{LoadedPlugin, PluginRuntime, PluginSource};
