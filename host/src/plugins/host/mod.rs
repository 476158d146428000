//! The host side of the plugin API: one file per WIT interface of the newest version, each
//! implementing that interface's `Host` trait on [`InstanceState`] by calling host services,
//! plus the conversions of the exports ([`plugin`]) and the older versions that delegate to
//! these ([`v0_1`]). These files are the only place where WIT types meet host services.
//!
//! Every import asks the [`Granter`](super::granter::Granter) first. Time spent awaiting an
//! import is added to `host_time`, so waiting on SSH or the database never counts against a
//! plugin's CPU deadline.

mod collector;
mod config;
mod jobs;
mod log;
pub mod plugin;
mod registry;
mod ssh;
mod storage;
mod types;
pub mod v0_1;

use std::future::Future;
use std::time::Instant;

use super::granter::Granter;
use super::instance::InstanceState;

pub use types::{from_wit_error, to_wit_error};

impl InstanceState {
    /// Runs `fut`, adding its duration to the time spent in host imports.
    pub(crate) async fn timed<T>(&mut self, fut: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let out = fut.await;
        self.host_time += started.elapsed();
        out
    }

    /// The granter of this instance's plugin for the current call.
    pub(crate) fn granter(&self) -> Granter<'_> {
        Granter::new(&self.plugin, &self.call.request_id)
    }
}
