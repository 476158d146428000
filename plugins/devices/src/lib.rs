//! The built-in devices plugin, mounted at `/api/devices`: the device registry, the
//! connectivity status and (next) host facts collected over SSH. Parsers are pure functions
//! in [`parse`], unit-tested natively on real command outputs.

mod clock;
mod registry_routes;
mod routes;

infrastructor_sdk::export_plugin!(routes::app);
