//! The built-in devices plugin, mounted at `/api/devices`: the device registry, the
//! connectivity status and host facts collected over SSH. Parsers are pure functions
//! ([`parse`]), unit-tested natively on real command outputs.

mod analyze;
mod clock;
mod drive_stats;
mod drives;
mod import;
mod logs;
mod metrics;
pub mod parse;
mod ports;
mod registry_routes;
mod routes;
mod sections;

infrastructor_sdk::export_plugin!(routes::app);
