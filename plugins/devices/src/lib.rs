//! The built-in devices plugin, mounted at `/api/devices`: the device registry, the
//! connectivity status and host facts collected over SSH. Parsers are pure functions
//! ([`facts`]), unit-tested natively on real command outputs.

mod clock;
pub mod facts;
mod metrics;
pub mod parse;
mod ports;
mod registry_routes;
mod routes;

infrastructor_sdk::export_plugin!(routes::app);
