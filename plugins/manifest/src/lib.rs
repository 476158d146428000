//! The Infrastructor plugin manifest: the model of what a plugin declares (routes, parameters,
//! scripts, periodic collectors, capabilities, quotas) and the one set of rules it must obey.
//!
//! The guest SDK builds a [`Manifest`] and checks it with [`Manifest::validate`] before it
//! converts it to the plugin API's types; the host converts what a plugin returns back into a
//! [`Manifest`] and calls the same function at load. A plugin that passes the SDK's check
//! therefore loads, and both sides give the same reasons when it does not.
//!
//! The crate has no dependency beyond serde (and, with the `regex` feature, the regex engine
//! the host uses for parameter patterns), so it builds for `wasm32-wasip2` and natively.

mod capability;
mod manifest;
mod names;
mod quota;
pub mod request;
mod route;
pub mod value;

pub use capability::{ArgPattern, Capability, ExecPattern, Grants};
pub use manifest::{Command, Manifest, PeriodicCollector, Problems, Script, Step};
pub use names::{is_plugin_name, validate_mount};
pub use quota::Quota;
pub use route::{
    ErrorStatus, Method, Param, ParamKind, ParamLocation, Route, Scope, normalise_template,
    template_params,
};

/// Property tests (`tests/props.rs`), compiled into this crate's unit-test binary: one test
/// binary per crate, and no second build of the library for an integration test.
#[cfg(test)]
#[path = "../tests/props.rs"]
mod props;
