//! The plugin runtime: wasmtime components, their manifests and grants, and the host side of
//! every supported plugin API version.
//!
//! | module | job |
//! |---|---|
//! | [`bindings`] | the generated bindings of each API version; version detection |
//! | [`exports`] | the plugin interface's exports of a component, type-checked once at load, called by index |
//! | [`host`] | the imports of the newest version, one file per WIT interface, the export conversions, and the older versions delegating to them |
//! | [`granter`] | the one door to a plugin's grants |
//! | [`manifest`] | the shared manifest model, checked and compiled for serving |
//! | [`manifest_cache`] | manifests kept beside the compiled artifacts (a warm start runs no guest) |
//! | [`runtime`] | loading (compile, version, manifest, grants) and calling plugins |
//! | [`spare`] | one fresh instance per plugin made between requests, and their cap |
//! | [`instance`] | the per-call store data: identity, limits, host time, WASI |
//! | [`engine`] | the wasmtime engine and its compile cache |
//! | [`preinit`] | pre-initialisation at load: the SDK's initialiser run once, its state every instance's start |
//! | [`loader`] | finding plugins and loading the enabled ones |
//! | [`jobs`] | plugin routes run as jobs: long-running routes and queued internal routes |
//! | [`call`] | a plugin call and its answer in the host's own types |
//! | [`error`] | load and call errors |

pub mod answer_cache;
pub mod answer_flight;
pub mod bindings;
pub mod call;
pub mod engine;
pub mod error;
pub mod exports;
pub mod granter;
mod host;
pub mod instance;
pub mod jobs;
pub mod loader;
pub mod manifest;
pub mod manifest_cache;
pub mod preinit;
pub mod runtime;
pub mod spare;

pub use call::{PluginRequest, PluginResponse, ResponseBody, StreamCommand};
pub use error::{LoadError, PluginError};
pub use instance::CallContext;
pub use loader::PluginSet;
pub use runtime::{CollectSpec, LoadedPlugin, PluginRuntime, PluginSource};
