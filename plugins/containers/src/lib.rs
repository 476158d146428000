//! The built-in containers plugin, mounted at `/api/containers`: Docker containers on managed
//! hosts — the inventory (live per host and from the database across hosts), inspect, logs
//! (both streams, or followed as Server-Sent Events), start/stop/restart/remove, resource
//! stats and exec. Every docker call is argv; parsers are pure functions ([`parse`]),
//! unit-tested natively on real docker outputs.

mod docker;
mod exec;
#[cfg(test)]
mod host_tests;
mod inventory;
mod lifecycle;
mod logs;
mod manifest;
pub mod parse;
mod stats;

infrastructor_sdk::export_plugin!(manifest::app);

/// Property tests (`tests/props.rs`), compiled into this crate's unit-test binary: one test
/// binary per crate, and no second build of the library for an integration test.
#[cfg(test)]
#[path = "../tests/props.rs"]
mod props;
