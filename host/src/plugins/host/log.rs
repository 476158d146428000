//! `log`: structured log events tagged with the plugin, its version and the request id.

use crate::plugins::bindings::v0_2::infrastructor::plugin::{log, types};
use crate::plugins::instance::InstanceState;

impl log::Host for InstanceState {
    async fn log(&mut self, level: log::Level, message: String, fields: Vec<types::Pair>) {
        let plugin = self.plugin.name.as_str();
        let version = self.plugin.version.as_str();
        let request_id = self.call.request_id.as_str();
        let fields: String = fields
            .iter()
            .map(|p| format!("{}={:?}", p.name, p.value))
            .collect::<Vec<_>>()
            .join(" ");
        macro_rules! emit {
            ($lvl:ident) => {
                tracing::$lvl!(target: "plugin", plugin, version, request_id, fields = %fields, "{message}")
            };
        }
        match level {
            log::Level::Trace => emit!(trace),
            log::Level::Debug => emit!(debug),
            log::Level::Info => emit!(info),
            log::Level::Warn => emit!(warn),
            log::Level::Error => emit!(error),
        }
    }
}
