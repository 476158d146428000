//! `log`: structured log events tagged with the plugin, its version and the request id.

use crate::plugins::bindings::v0_2::infrastructor::plugin::{log, types};
use crate::plugins::instance::InstanceState;

impl log::Host for InstanceState {
    async fn log(&mut self, level: log::Level, message: String, fields: Vec<types::Pair>) {
        if let Some(kept) = &self.plugin.load_log
            && matches!(level, log::Level::Warn | log::Level::Error)
        {
            // One line, without the fields (a panic's location points into the SDK).
            let line = message
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            if let Ok(mut kept) = kept.lock()
                && kept.len() < 16
            {
                kept.push(line.chars().take(4096).collect());
            }
            return;
        }
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
