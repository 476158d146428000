//! The host-call layer: the one place the SDK's modules reach the host's imports.
//!
//! In a guest (`wasm32`) these are the WIT imports themselves, so nothing is added to plugin
//! binaries. Natively (unit tests) every function has the same signature but is answered by
//! the [`Host`] installed for the current thread (the `testing` feature's mock host); a call
//! with none installed panics with a message saying how to install one, instead of the
//! abort an unlinked import would cause.

#[cfg(target_arch = "wasm32")]
pub(crate) use crate::bindings::infrastructor::plugin::{
    collector, config, jobs, log, registry, ssh, storage,
};

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::*;
