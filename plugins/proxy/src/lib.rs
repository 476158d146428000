//! The built-in proxy plugin, mounted at `/api/proxies`: SWAG (linuxserver's nginx reverse
//! proxy) on managed hosts. It finds SWAG ([`detect`]: the container and its `/config`
//! mount, or configured search roots), keeps a record per conf synced from the files in one
//! remote run ([`sync`], [`listing`], [`records`]), reads content, samples and templates over
//! SSH, flags confs older than their sample, and changes confs ([`edit`], [`render`]) with an
//! atomic write checked by `nginx -t` inside the container and undone when refused.

mod configs;
pub mod detect;
mod detection;
mod edit;
#[cfg(test)]
mod host_tests;
pub mod listing;
mod manifest;
pub mod names;
pub mod records;
pub mod remote;
pub mod render;
mod samples;
mod scan;
mod settings;
mod summary;
pub mod sync;

infrastructor_sdk::export_plugin!(manifest::app);

/// Property tests (`tests/props.rs`), compiled into this crate's unit-test binary: one test
/// binary per crate, and no second build of the library for an integration test.
#[cfg(test)]
#[path = "../tests/props.rs"]
mod props;
