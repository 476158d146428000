//! The built-in compose plugin, mounted at `/api/compose`: a compose file adapted to a device
//! ([`transform`]: appdata paths, free ports from a real scan, networks added, SWAG confs
//! from [`swag`]), deployed as a job with validation on the device, an atomic replace, a
//! backup and rollback (`deploy`), port and network scans (`scan`), and the projects
//! already on a device (`projects`). Every remote command is argv or a manifest script
//! with positional arguments.

mod cli;
mod defaults;
mod deploy;
mod device;
#[cfg(test)]
mod host_tests;
mod manifest;
mod modify;
mod paths;
mod projects;
mod scan;
mod stack;
pub mod swag;
pub mod transform;

infrastructor_sdk::export_plugin!(manifest::app);

/// Property tests (`tests/props.rs`), compiled into this crate's unit-test binary: one test
/// binary per crate, and no second build of the library for an integration test.
#[cfg(test)]
#[path = "../tests/props.rs"]
mod props;
