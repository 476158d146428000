//! The built-in zfs plugin, mounted at `/api/zfs`: pools, datasets, properties, snapshots
//! and clones, send/receive streamed between devices through the server ([`transfer`]),
//! diff, health, scrubs followed as jobs ([`scrub`]), ARC statistics, events, a report from
//! one batched run and advice ([`report`]). It reads OpenZFS 2.x (`-p` exact numbers, `-j`
//! JSON from 2.3) and the old zfs-fuse ([`tools`] detects which); the parsers ([`parse`])
//! are pure and tested on `tests/fixtures/zfs`. Every name is checked against ZFS's rules
//! ([`names`]) and passed as argv.

mod datasets;
mod health;
#[cfg(test)]
mod host_tests;
mod manifest;
pub mod names;
pub mod parse;
mod pools;
mod report;
pub mod run;
mod scrub;
mod snapshots;
pub mod tools;
pub mod transfer;

infrastructor_sdk::export_plugin!(manifest::app);

/// Property tests (`tests/props.rs`), compiled into this crate's unit-test binary: one test
/// binary per crate, and no second build of the library for an integration test.
#[cfg(test)]
#[path = "../tests/props.rs"]
mod props;
