//! One integration-test binary (as wasmtime does): every end-to-end suite is a module.

mod answer_cache;
mod auth_and_limits;
mod compose;
mod containers;
mod devices;
mod devices_host_facts;
mod devices_import;
mod docs_page;
mod edge_limits;
mod grants;
mod hostile;
mod jobs;
mod mcp;
mod metrics;
mod openapi;
mod plugin_kit;
mod plugin_scaffold;
mod plugin_versions;
mod proxy;
mod routing;
mod sandbox;
mod ssh;
mod sweep;
mod testbed;
mod vms;
mod zfs;
