//! Errors of the plugin runtime.

use super::bindings::WitError;

/// Why a plugin call or load failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin returned an error of the plugin API (mapped to its HTTP status).
    #[error("{0:?}")]
    Api(WitError),
    /// The plugin trapped (panicked, hit `unreachable`, a bad memory access…).
    #[error("plugin `{plugin}` {version} failed while handling the request: {reason}")]
    Trapped {
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
        /// A short, user-safe reason.
        reason: String,
    },
    /// The plugin ran past its CPU-time deadline and was stopped.
    #[error("plugin `{plugin}` {version} ran past its {seconds} s deadline and was stopped")]
    Deadline {
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
        /// The deadline.
        seconds: u64,
    },
    /// The plugin tried to grow its memory past its limit and was stopped.
    #[error("plugin `{plugin}` {version} exceeded its {limit_mb} MiB memory limit and was stopped")]
    MemoryLimit {
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
        /// The limit.
        limit_mb: u32,
    },
    /// Too many instances are alive; try again.
    #[error("plugin runtime is at capacity")]
    Busy,
    /// The plugin could not be loaded (bad wasm, bad manifest, conflicting routes…).
    #[error("cannot load plugin `{plugin}`: {message}")]
    Load {
        /// Plugin name (or file name when the manifest is unknown).
        plugin: String,
        /// What went wrong.
        message: String,
    },
}

impl PluginError {
    /// Shorthand for a load error.
    pub fn load(plugin: impl Into<String>, message: impl std::fmt::Display) -> Self {
        PluginError::Load {
            plugin: plugin.into(),
            message: message.to_string(),
        }
    }
}
