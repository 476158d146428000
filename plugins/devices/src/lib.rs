//! The built-in devices plugin, mounted at `/api/devices`: the device registry, the
//! connectivity status and host facts collected over SSH. Parsers are pure functions
//! ([`parse`]), unit-tested natively on real command outputs.

mod analyze;
mod clock;
mod crud;
mod device;
mod drive_stats;
mod drives;
#[cfg(test)]
mod host_tests;
mod import;
mod logs;
mod manifest;
mod metrics;
pub mod parse;
mod ports;
mod sections;
mod views;

infrastructor_sdk::export_plugin!(manifest::app);

/// Property tests (`tests/props.rs`), compiled into this crate's unit-test binary: one test
/// binary per crate, and no second build of the library for an integration test.
#[cfg(test)]
#[path = "../tests/props.rs"]
mod props;
