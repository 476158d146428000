//! Errors of the plugin runtime: why a plugin could not load, and why a call failed.

use super::bindings::VersionError;
use super::manifest::ManifestError;
use crate::fault::{Fault, FaultKind};

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A section asks for more instance memory than the engine's pool was sized for at
    /// start-up.
    #[error(
        "memory_limit_mb = {asked_mb} exceeds the {max_mb} MB the server started with (the largest memory_limit_mb configured at start-up); restart the server to raise it"
    )]
    MemoryAboveStartUp {
        /// What the section asks.
        asked_mb: u32,
        /// The start-up maximum.
        max_mb: usize,
    },
    /// The plugin directory or a `.wasm` file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file name is not a plugin name.
    #[error(
        "the file name `{0}` is not a plugin name (lower-case letters, digits, `-`, `_`): rename it NAME.wasm, or name it in config with plugins.NAME.file"
    )]
    FileName(String),
    /// Config requires a plugin that exists nowhere.
    #[error(
        "plugins.{plugin}.required is set but there is no built-in `{plugin}` and no {path} (set plugins.{plugin}.file to name its file)"
    )]
    Missing {
        /// The plugin.
        plugin: String,
        /// Where its file was looked for.
        path: String,
    },
    /// The component's hash is not the one config pins.
    #[error("refused: its SHA-256 is {found} but plugins.{plugin}.sha256 pins {expected}")]
    HashMismatch {
        /// The plugin.
        plugin: String,
        /// The pinned hash.
        expected: String,
        /// The component's hash.
        found: String,
    },
    /// wasmtime could not compile or deserialise the component.
    #[error("cannot compile it: {0}")]
    Compile(String),
    /// The component speaks no plugin API version this host serves.
    #[error("{0}")]
    Version(#[from] VersionError),
    /// The component's imports cannot be satisfied (typically: built with a newer SDK or
    /// toolchain than this server's).
    #[error(
        "it needs host functions that this server's plugin API {version} does not provide (was it built with a newer SDK than this server's?): {message}"
    )]
    Link {
        /// The API version it names.
        version: String,
        /// wasmtime's message.
        message: String,
    },
    /// Its manifest breaks the rules.
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    /// Its manifest names it differently from its file or config section.
    #[error(
        "its manifest calls it `{manifest}`, not `{expected}`: name the file {manifest}.wasm, or set plugins.{manifest}.file to its file name"
    )]
    NameMismatch {
        /// The name in the manifest.
        manifest: String,
        /// The name it was loaded under (file stem or config section).
        expected: String,
    },
    /// A configured grant does not parse.
    #[error("grant {0}")]
    Grant(String),
    /// Its mount is one of the host's own.
    #[error("mount `{0}` is reserved for the host's own routes")]
    ReservedMount(String),
    /// Its mount is taken by another plugin.
    #[error("mount `{mount}` is already used by plugin `{other}`; set plugins.{plugin}.mount")]
    MountTaken {
        /// The mount.
        mount: String,
        /// The plugin already there.
        other: String,
        /// This plugin.
        plugin: String,
    },
    /// Reading the manifest failed inside the guest.
    #[error("reading its manifest failed: {0}")]
    ManifestCall(Box<PluginError>),
    /// Reading the manifest failed inside the guest, which said why (its own error log,
    /// e.g. the SDK's list of manifest problems).
    #[error("{0}")]
    Refused(String),
}

/// Why a plugin call or load failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin returned an error of the plugin API (mapped to its HTTP status).
    #[error("{0}")]
    Api(Fault),
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
    #[error("the plugin runtime is at capacity; retry shortly")]
    Busy,
    /// The plugin could not be loaded.
    #[error("cannot load plugin `{plugin}`: {source}")]
    Load {
        /// Plugin name (or file name when the manifest is unknown).
        plugin: String,
        /// What went wrong.
        source: LoadError,
    },
}

impl PluginError {
    /// The HTTP status and error code of this failure: the plugin's own error by its kind,
    /// a trap 500 `PLUGIN_FAILED`, a deadline 504 `PLUGIN_DEADLINE`, the memory limit 500
    /// `PLUGIN_MEMORY_LIMIT`, a full runtime 503, a load failure 500.
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            PluginError::Api(f) => {
                let status = f.kind.status();
                (status, crate::fault::code_for_status(status))
            }
            PluginError::Trapped { .. } => (500, "PLUGIN_FAILED"),
            PluginError::Deadline { .. } => (504, "PLUGIN_DEADLINE"),
            PluginError::MemoryLimit { .. } => (500, "PLUGIN_MEMORY_LIMIT"),
            PluginError::Busy => (503, "SERVICE_UNAVAILABLE"),
            PluginError::Load { .. } => (500, "INTERNAL_ERROR"),
        }
    }

    /// A load error of `plugin`.
    pub fn load(plugin: impl Into<String>, source: impl Into<LoadError>) -> Self {
        PluginError::Load {
            plugin: plugin.into(),
            source: source.into(),
        }
    }
}

impl From<PluginError> for Fault {
    /// The plugin's own error as it is; a deadline as a timeout; anything else internal.
    fn from(e: PluginError) -> Fault {
        match e {
            PluginError::Api(f) => f,
            e @ PluginError::Deadline { .. } => Fault::new(FaultKind::Timeout, e.to_string()),
            other => Fault::internal(other.to_string()),
        }
    }
}
