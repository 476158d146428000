//! Infrastructor: a REST server that manages a fleet of Linux hosts over SSH. The host
//! (this crate) owns HTTP, auth, rate limits, storage, config and the WebAssembly plugin
//! runtime; every resource domain is a plugin (see `wit/since_v0.2.0`).

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod app;
pub mod builtin;
pub mod cli;
pub mod collector;
pub mod config;
pub mod fault;
pub mod http;
pub mod jobs;
pub mod mcp;
pub mod metrics;
pub mod plugin_check;
pub mod plugin_scaffold;
pub mod plugins;
pub mod poller;
pub mod reload;
pub mod remote;
pub mod services;
pub mod telemetry;
pub mod time;

pub use app::{App, AppState};
pub use config::Config;
