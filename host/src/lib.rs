//! Infrastructor: a REST server that manages a fleet of Linux hosts over SSH. The host
//! (this crate) owns HTTP, auth, rate limits, storage, config and the WebAssembly plugin
//! runtime; every resource domain is a plugin (see `wit/plugin.wit`).

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod app;
pub mod auth;
pub mod builtin;
pub mod cli;
pub mod collector;
pub mod common;
pub mod config;
pub mod http;
pub mod openapi;
pub mod plugins;
pub mod poller;
pub mod ratelimit;
pub mod remote;
pub mod services;
pub mod telemetry;
pub mod time;

pub use app::{App, AppState};
pub use config::Config;
