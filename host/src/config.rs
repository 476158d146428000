//! Configuration: built-in defaults ← a TOML or YAML file ← `INFRA_*` environment variables.
//!
//! Nesting in environment variables uses `__`: `INFRA_SERVER__LISTEN=0.0.0.0:9101`,
//! `INFRA_PLUGINS__DEVICES__ENABLED=false`. Every key is documented in
//! `config/infrastructor.toml`. An invalid configuration stops start-up with a message that
//! names the offending key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml, Yaml};
use serde::{Deserialize, Serialize};

use infrastructor_manifest::Capability;

/// Prefix of the environment variables that override the configuration.
pub const ENV_PREFIX: &str = "INFRA_";

/// A configuration problem, naming the key it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file, or a value in it or in the environment, could not be read as the expected type.
    #[error("invalid configuration: {0}")]
    Parse(String),
    /// A value parsed but is not acceptable.
    #[error("invalid configuration: `{key}`: {message}")]
    Invalid {
        /// Dotted path of the key (`auth.keys[0].scope`).
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// The file's extension is neither TOML nor YAML.
    #[error("unsupported config file `{0}`: use a .toml, .yaml or .yml file")]
    UnsupportedFormat(String),
    /// The file does not exist.
    #[error("config file `{0}` not found")]
    Missing(String),
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP server settings.
    pub server: ServerConfig,
    /// The embedded SQLite database.
    pub database: DatabaseConfig,
    /// Bearer-token authentication.
    pub auth: AuthConfig,
    /// The global per-client rate limit.
    pub rate_limit: RateLimitConfig,
    /// The SSH client used for every remote command.
    pub ssh: SshConfig,
    /// The unified collector's cache and history retention.
    pub collector: CollectorConfig,
    /// The background poller.
    pub poller: PollerConfig,
    /// Logging.
    pub log: LogConfig,
    /// Plugin runtime settings and per-plugin sections.
    pub plugins: PluginsConfig,
    /// Jobs: long-running routes and queued internal routes.
    pub jobs: JobsConfig,
    /// The Prometheus/OpenMetrics endpoint `GET /metrics`.
    pub metrics: MetricsConfig,
    /// The MCP endpoint (`/mcp`).
    pub mcp: crate::mcp::McpConfig,
}

/// `GET /metrics`: on its own address without authentication (`listen`), or else on the
/// main listener for any API key (`read` scope).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Count and serve metrics; off, no HTTP metrics layer runs and `/metrics` is 404.
    pub enabled: bool,
    /// A separate address serving only `/metrics`, without authentication (a loopback or
    /// private scrape address). Unset: `/metrics` is on the main listener and needs a key.
    pub listen: Option<SocketAddr>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: None,
        }
    }
}

/// Jobs: how many run at once, how long a client may wait inline, how long finished ones
/// are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Jobs running at once across the server; further jobs wait `queued`.
    pub max_running: u32,
    /// Jobs running at once against one device (a route's `hostname` path parameter).
    pub max_per_device: u32,
    /// Longest `?wait=SECONDS` a client may ask for on a long-running route.
    pub max_wait_secs: u64,
    /// Finished jobs (with their events) are deleted this many hours after they finished.
    pub retention_hours: u64,
    /// At most this many finished jobs are kept, the newest.
    pub max_retained: u32,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            max_running: 4,
            max_per_device: 2,
            max_wait_secs: 60,
            retention_hours: 168,
            max_retained: 1000,
        }
    }
}

/// HTTP server settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Debug mode: enables `GET /api/test-error` and error details in responses.
    pub debug: bool,
    /// Largest accepted request body; bigger bodies get 413.
    pub body_limit_bytes: usize,
    /// Origins allowed by CORS; empty = no CORS headers; `"*"` = any origin.
    pub cors_origins: Vec<String>,
    /// Largest streamed body (routes that feed the body to a remote command, never
    /// buffering it); 0 = no limit. Bigger uploads are cut off with 413 and the command is
    /// killed.
    pub max_stream_body_bytes: u64,
    /// A streamed upload that sends nothing for this long is cut off and its command killed.
    pub body_idle_secs: u64,
    /// Open client connections at most; at the cap new ones wait in the kernel's backlog.
    /// Keep it below the process's file-descriptor limit minus what SSH and the database use.
    pub max_connections: usize,
    /// A client must send a whole request head within this long (and a keep-alive connection
    /// idles at most this long), else its connection is closed.
    pub header_read_timeout_secs: u64,
    /// A JSON request body must arrive whole within this long, else 408.
    pub body_read_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9101)),
            debug: false,
            body_limit_bytes: 2 * 1024 * 1024,
            cors_origins: Vec::new(),
            max_stream_body_bytes: 0,
            body_idle_secs: 30,
            max_connections: 1024,
            header_read_timeout_secs: 15,
            body_read_timeout_secs: 30,
        }
    }
}

/// The embedded SQLite database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Path of the database file; its directory is created when missing.
    pub path: PathBuf,
    /// Connections in the pool.
    pub pool_size: u32,
    /// How often cache-hit counts are written and the WAL is checkpointed and truncated
    /// (`wal_checkpoint(TRUNCATE)`), in seconds.
    pub checkpoint_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("data/infrastructor.db"),
            pool_size: 8,
            checkpoint_secs: 60,
        }
    }
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// GET routes only.
    Read,
    /// Every route except admin routes.
    Write,
    /// Every route.
    Admin,
}

impl Scope {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

/// Bearer-token authentication. No key configured = dev mode (open, warned at start-up).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The accepted keys.
    pub keys: Vec<ApiKeyConfig>,
}

/// One API key: give either `key` (the token itself) or `key_sha256` (hex SHA-256 of it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Shown in logs and handed to plugins as the principal; never the secret.
    pub name: String,
    /// The token in plain text (at least 10 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The lower-case hex SHA-256 of the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_sha256: Option<String>,
    /// What the key may do.
    #[serde(default = "default_scope")]
    pub scope: Scope,
}

fn default_scope() -> Scope {
    Scope::Read
}

/// The global per-client rate limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Turn every limit (global and per route) on or off.
    pub enabled: bool,
    /// Requests per minute per API key (per client address in dev mode), on every route.
    pub per_minute: u32,
    /// Requests per minute per client address without a valid key (public routes and
    /// refused credentials): kept apart, so such a flood never spends a key's budget.
    pub unauthenticated_per_minute: u32,
    /// A header naming the client address (`x-forwarded-for`, `x-real-ip`), believed only
    /// from `trusted_proxies`. Unset: the peer address is the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip_header: Option<String>,
    /// Reverse proxies whose `client_ip_header` is believed (exact addresses).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            per_minute: 600,
            unauthenticated_per_minute: 120,
            client_ip_header: None,
            trusted_proxies: Vec::new(),
        }
    }
}

/// How unknown and changed host keys are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyPolicy {
    /// Unknown or changed key: refuse.
    Strict,
    /// Unknown key: record it; changed key: refuse.
    AcceptNew,
    /// Accept anything (warned at every connect).
    Off,
}

/// The largest `ssh.max_command_bytes` accepted: below Linux's 128 KiB limit on one
/// argument (`MAX_ARG_STRLEN`), since the whole command reaches the remote shell as one.
pub const MAX_COMMAND_BYTES: usize = 120 * 1024;

/// The SSH client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshConfig {
    /// User for hosts that are not registered devices (or have no user).
    pub default_user: String,
    /// Port for hosts that are not registered devices (or have no port).
    pub default_port: u16,
    /// Private keys tried in order (after a device's own identity file).
    pub identity_files: Vec<PathBuf>,
    /// Directories every identity file (configured or a device's) must be in; empty means
    /// the directories of `identity_files` plus `~/.ssh`. Files elsewhere, larger than
    /// 64 KiB or not regular files are refused at connect (503 naming the file).
    pub identity_dirs: Vec<PathBuf>,
    /// Passphrase for encrypted identity files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_passphrase: Option<String>,
    /// The known_hosts file host keys are checked against.
    pub known_hosts: PathBuf,
    /// `strict`, `accept-new` or `off`.
    pub host_key_policy: HostKeyPolicy,
    /// Time allowed to connect and authenticate.
    pub connect_timeout_secs: u64,
    /// Default per-command timeout when a caller gives none.
    pub command_timeout_secs: u64,
    /// Concurrent commands (channels) per connection; keep below sshd's MaxSessions (10):
    /// one more channel is kept for stopping commands given up on (timed out, over the output
    /// cap, or their caller gone), so their kills never wait behind them.
    pub max_sessions_per_connection: u32,
    /// Idle connections close after this long.
    pub idle_secs: u64,
    /// Output cap per stream of one command.
    pub max_output_bytes: usize,
    /// Longest command text sent to a device in one exec request (the quoted argv, or a
    /// script with its arguments). Longer commands are refused with 413 before anything is
    /// sent: sshd drops the whole shared connection on an oversized request, and kernels
    /// refuse a single argument over 128 KiB. At most 120 KiB.
    pub max_command_bytes: usize,
    /// Let API callers name hosts that are not registered devices. Off by default; when on,
    /// such hosts need a `write` key, and their host key is recorded (under `accept-new`)
    /// only by a request that changes something, never by a read.
    pub allow_unregistered_hosts: bool,
    /// Longest a host-to-host pipe (`ssh.pipe`) may run, whatever the plugin asks.
    pub max_pipe_secs: u64,
    /// A host-to-host pipe that moves no byte for this long while its source runs (a source
    /// that stopped writing without ending, or a sink that stopped reading) is stopped, both
    /// sides killed; 0 turns the check off (`max_pipe_secs` still applies).
    pub pipe_idle_secs: u64,
}

impl Default for SshConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
        Self {
            default_user: "root".into(),
            default_port: 22,
            identity_files: Vec::new(),
            identity_dirs: Vec::new(),
            key_passphrase: None,
            known_hosts: home.join(".ssh/known_hosts"),
            host_key_policy: HostKeyPolicy::Strict,
            connect_timeout_secs: 10,
            command_timeout_secs: 60,
            max_sessions_per_connection: 8,
            idle_secs: 300,
            max_output_bytes: 16 * 1024 * 1024,
            max_command_bytes: 64 * 1024,
            allow_unregistered_hosts: false,
            max_pipe_secs: 48 * 3600,
            pipe_idle_secs: 15 * 60,
        }
    }
}

/// The unified collector.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectorConfig {
    /// Snapshots older than this are deleted.
    pub retention_days: u32,
    /// At most this many snapshots are kept per cache key.
    pub retention_per_key: u32,
    /// Cache entries kept in memory at most.
    pub cache_entries: usize,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            retention_days: 30,
            retention_per_key: 1000,
            cache_entries: 10_000,
        }
    }
}

/// The background poller.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollerConfig {
    /// Run plugins' periodic collectors for monitored devices.
    pub enabled: bool,
    /// Collections running at once, across all devices.
    pub max_concurrency: usize,
    /// First back-off after a connection failure; doubles per consecutive failure.
    pub backoff_base_ms: u64,
    /// Longest back-off.
    pub backoff_max_ms: u64,
    /// How often the list of monitored devices is re-read.
    pub refresh_secs: u64,
    /// Scheduler granularity.
    pub tick_ms: u64,
}

impl Default for PollerConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_concurrency: 8,
            backoff_base_ms: 30_000,
            backoff_max_ms: 300_000,
            refresh_secs: 30,
            tick_ms: 500,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `pretty` or `json`.
    pub format: LogFormat,
    /// A tracing filter (`info`, `infrastructor=debug,tower_http=info`); `RUST_LOG` wins.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info".into(),
        }
    }
}

/// Plugin runtime settings, and one section per plugin name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginsConfig {
    /// Directory of third-party `.wasm` plugins (loaded when it exists).
    pub dir: PathBuf,
    /// Where compiled plugin artifacts and the manifests plugins answered are cached.
    pub cache_dir: PathBuf,
    /// Plugin instances alive at once (requests beyond wait).
    pub max_instances: u32,
    /// Memory for stored answers of `cacheable` routes, replayed while the collections they
    /// were built from are unchanged (0 turns the answer cache off).
    pub answer_cache_mb: u32,
    /// Per-plugin sections: `[plugins.devices]`.
    #[serde(flatten)]
    pub entries: BTreeMap<String, PluginConfig>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("plugins.d"),
            cache_dir: PathBuf::from("data/cache"),
            max_instances: 256,
            answer_cache_mb: 64,
            entries: BTreeMap::new(),
        }
    }
}

impl PluginsConfig {
    /// The section for `name`, or the defaults when there is none.
    pub fn entry(&self, name: &str) -> PluginConfig {
        self.entries.get(name).cloned().unwrap_or_default()
    }
}

/// One plugin's section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginConfig {
    /// Load and mount the plugin.
    pub enabled: bool,
    /// Mount under `/api` instead of the plugin's default (`/hosts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount: Option<String>,
    /// Capabilities granted. Absent: built-in plugins get what they declare, third-party
    /// plugins get nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<String>>,
    /// Memory cap of one instance.
    pub memory_limit_mb: u32,
    /// CPU-time deadline of one call (time awaiting host imports does not count).
    pub timeout_secs: u64,
    /// Plugin-specific settings, handed to the plugin by the `config` import.
    pub config: serde_json::Value,
    /// A third-party plugin that fails to load (or is refused) stops start-up instead of
    /// being skipped. Built-in plugins are always required.
    pub required: bool,
    /// The SHA-256 (hex) of the component the operator reviewed: a component whose hash
    /// differs is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The plugin's `.wasm` file, relative to `plugins.dir` (default: `NAME.wasm`); its
    /// file name then need not be the plugin's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

impl Default for PluginConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            mount: None,
            grants: None,
            memory_limit_mb: 64,
            timeout_secs: 30,
            config: serde_json::Value::Object(Default::default()),
            required: false,
            sha256: None,
            file: None,
        }
    }
}

/// Checks a `plugins.NAME.file` value: a relative path of a `.wasm` file that stays inside
/// `plugins.dir` (no `..`, no root).
pub fn validate_plugin_file(file: &Path) -> Result<(), String> {
    use std::path::Component;
    if file.extension().and_then(|e| e.to_str()) != Some("wasm") {
        return Err("must name a `.wasm` file".into());
    }
    if !file
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err("must be a path relative to plugins.dir that stays inside it".into());
    }
    Ok(())
}

/// Checks a `plugins.NAME.sha256` value: 64 hexadecimal digits.
pub fn validate_sha256(hash: &str) -> Result<(), String> {
    if hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err("must be 64 hexadecimal digits (the SHA-256 of the .wasm file)".into())
    }
}

impl Config {
    /// Loads defaults ← `file` (when given) ← `INFRA_*` environment variables, then validates.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Missing(path.display().to_string()));
            }
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default()
                .to_ascii_lowercase();
            figment = match ext.as_str() {
                "toml" => figment.merge(Toml::file_exact(path)),
                "yaml" | "yml" => figment.merge(Yaml::file_exact(path)),
                _ => return Err(ConfigError::UnsupportedFormat(path.display().to_string())),
            };
        }
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|key| key != "config")
                .split("__"),
        );
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Parse(describe_figment_error(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.server.body_limit_bytes == 0 {
            return Err(invalid("server.body_limit_bytes", "must be greater than 0"));
        }
        if self.database.pool_size == 0 {
            return Err(invalid("database.pool_size", "must be greater than 0"));
        }
        if self.rate_limit.unauthenticated_per_minute == 0 {
            return Err(invalid(
                "rate_limit.unauthenticated_per_minute",
                "must be greater than 0",
            ));
        }
        if let Some(h) = &self.rate_limit.client_ip_header
            && http::HeaderName::from_bytes(h.as_bytes()).is_err()
        {
            return Err(invalid("rate_limit.client_ip_header", "not a header name"));
        }
        if self.rate_limit.per_minute == 0 {
            return Err(invalid("rate_limit.per_minute", "must be greater than 0"));
        }
        if self.mcp.max_sessions == 0 || self.mcp.session_idle_secs == 0 {
            return Err(invalid(
                "mcp",
                "max_sessions and session_idle_secs must be greater than 0",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, key) in self.auth.keys.iter().enumerate() {
            let at = |field: &str| format!("auth.keys[{i}].{field}");
            if key.name.trim().is_empty() {
                return Err(invalid(at("name"), "must not be empty"));
            }
            if !names.insert(key.name.as_str()) {
                return Err(invalid(
                    at("name"),
                    format!("duplicate key name `{}`", key.name),
                ));
            }
            match (&key.key, &key.key_sha256) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(invalid(
                        at("key"),
                        "give exactly one of `key` and `key_sha256`",
                    ));
                }
                (Some(plain), None) if plain.chars().count() < 10 => {
                    return Err(invalid(at("key"), "must be at least 10 characters"));
                }
                (None, Some(hash))
                    if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) =>
                {
                    return Err(invalid(
                        at("key_sha256"),
                        "must be 64 hexadecimal characters",
                    ));
                }
                _ => {}
            }
        }
        let ssh = &self.ssh;
        if ssh.connect_timeout_secs == 0 {
            return Err(invalid(
                "ssh.connect_timeout_secs",
                "must be greater than 0",
            ));
        }
        if ssh.command_timeout_secs == 0 {
            return Err(invalid(
                "ssh.command_timeout_secs",
                "must be greater than 0",
            ));
        }
        if !(1..=64).contains(&ssh.max_sessions_per_connection) {
            return Err(invalid(
                "ssh.max_sessions_per_connection",
                "must be between 1 and 64",
            ));
        }
        if self.database.checkpoint_secs == 0 {
            return Err(invalid(
                "database.checkpoint_secs",
                "must be greater than 0",
            ));
        }
        if ssh.max_output_bytes == 0 {
            return Err(invalid("ssh.max_output_bytes", "must be greater than 0"));
        }
        if !(1024..=MAX_COMMAND_BYTES).contains(&ssh.max_command_bytes) {
            return Err(invalid(
                "ssh.max_command_bytes",
                format!("must be between 1024 and {MAX_COMMAND_BYTES}"),
            ));
        }
        if ssh.default_user.is_empty() {
            return Err(invalid("ssh.default_user", "must not be empty"));
        }
        if self.poller.max_concurrency == 0 {
            return Err(invalid("poller.max_concurrency", "must be greater than 0"));
        }
        if self.plugins.max_instances == 0 {
            return Err(invalid("plugins.max_instances", "must be greater than 0"));
        }
        if self.plugins.answer_cache_mb > 4096 {
            return Err(invalid("plugins.answer_cache_mb", "must be at most 4096"));
        }
        if self.jobs.max_running == 0 {
            return Err(invalid("jobs.max_running", "must be greater than 0"));
        }
        if self.jobs.max_per_device == 0 {
            return Err(invalid("jobs.max_per_device", "must be greater than 0"));
        }
        if self.server.max_connections == 0 {
            return Err(invalid("server.max_connections", "must be greater than 0"));
        }
        if self.server.header_read_timeout_secs == 0 {
            return Err(invalid(
                "server.header_read_timeout_secs",
                "must be greater than 0",
            ));
        }
        if self.server.body_read_timeout_secs == 0 {
            return Err(invalid(
                "server.body_read_timeout_secs",
                "must be greater than 0",
            ));
        }
        if self.server.body_idle_secs == 0 {
            return Err(invalid("server.body_idle_secs", "must be greater than 0"));
        }
        if let Some(listen) = self.metrics.listen
            && listen.port() != 0
            && listen == self.server.listen
        {
            return Err(invalid(
                "metrics.listen",
                "must differ from server.listen (unset it to serve /metrics on the main listener)",
            ));
        }
        if self.ssh.max_pipe_secs == 0 {
            return Err(invalid("ssh.max_pipe_secs", "must be greater than 0"));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(invalid("log.level", e.to_string()));
        }
        for (name, entry) in &self.plugins.entries {
            let at = |field: &str| format!("plugins.{name}.{field}");
            if !is_plugin_name(name) {
                return Err(invalid(
                    format!("plugins.{name}"),
                    "plugin names are lower-case letters, digits, `-` and `_`",
                ));
            }
            if let Some(mount) = &entry.mount {
                validate_mount(mount).map_err(|m| invalid(at("mount"), m))?;
            }
            if let Some(grants) = &entry.grants {
                for (j, grant) in grants.iter().enumerate() {
                    Capability::parse(grant)
                        .map_err(|m| invalid(format!("plugins.{name}.grants[{j}]"), m))?;
                }
            }
            if !(1..=4096).contains(&entry.memory_limit_mb) {
                return Err(invalid(at("memory_limit_mb"), "must be between 1 and 4096"));
            }
            if !(1..=3600).contains(&entry.timeout_secs) {
                return Err(invalid(at("timeout_secs"), "must be between 1 and 3600"));
            }
            if !entry.config.is_object() {
                return Err(invalid(at("config"), "must be a table"));
            }
            if let Some(hash) = &entry.sha256 {
                validate_sha256(hash).map_err(|m| invalid(at("sha256"), m))?;
            }
            if let Some(file) = &entry.file {
                validate_plugin_file(file).map_err(|m| invalid(at("file"), m))?;
            }
        }
        Ok(())
    }

    /// The configuration with every secret replaced by `***`, for display.
    pub fn masked(&self) -> Config {
        let mut copy = self.clone();
        for key in &mut copy.auth.keys {
            if key.key.is_some() {
                key.key = Some("***".into());
            }
        }
        if copy.ssh.key_passphrase.is_some() {
            copy.ssh.key_passphrase = Some("***".into());
        }
        copy
    }
}

pub use infrastructor_manifest::{is_plugin_name, validate_mount};

fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let mut kind = e.kind.to_string();
            if let figment::error::Kind::UnknownField(field, _) = &e.kind {
                kind = format!("unknown key `{field}`");
            }
            if key.is_empty() {
                kind
            } else {
                format!("`{key}`: {kind}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail closures return figment::Error
mod tests {
    use super::*;
    use figment::Jail;

    fn load(file: Option<&str>) -> Result<Config, ConfigError> {
        Config::load(file.map(Path::new))
    }

    #[test]
    fn defaults_are_valid() {
        Jail::expect_with(|_| {
            let c = load(None).expect("defaults");
            assert_eq!(c.server.listen.to_string(), "127.0.0.1:9101");
            assert_eq!(c.rate_limit.per_minute, 600);
            assert!(c.auth.keys.is_empty());
            Ok(())
        });
    }

    #[test]
    fn env_overrides_file_which_overrides_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "[server]\nlisten = \"127.0.0.1:7000\"\ndebug = true\n[rate_limit]\nper_minute = 5\n",
            )?;
            jail.set_env("INFRA_SERVER__LISTEN", "127.0.0.1:8000");
            jail.set_env("INFRA_PLUGINS__HELLO__ENABLED", "false");
            jail.set_env("INFRA_PLUGINS__HELLO__GRANTS", "[\"storage\"]");
            let c = load(Some("c.toml")).expect("load");
            assert_eq!(c.server.listen.to_string(), "127.0.0.1:8000");
            assert!(c.server.debug, "file value kept where env is silent");
            assert_eq!(c.rate_limit.per_minute, 5);
            let hello = c.plugins.entry("hello");
            assert!(!hello.enabled);
            assert_eq!(hello.grants, Some(vec!["storage".to_string()]));
            Ok(())
        });
    }

    #[test]
    fn yaml_files_load() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "c.yaml",
                "server:\n  debug: true\nauth:\n  keys:\n    - name: ops\n      key: abcdefghijkl\n      scope: admin\n",
            )?;
            let c = load(Some("c.yaml")).expect("load");
            assert!(c.server.debug);
            assert_eq!(c.auth.keys[0].scope, Scope::Admin);
            Ok(())
        });
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[server]\nlisten = \"nope\"\n", "server.listen"),
            ("[server]\nlisen = \"x\"\n", "lisen"),
            (
                "[[auth.keys]]\nname = \"a\"\nkey = \"short\"\n",
                "auth.keys[0].key",
            ),
            (
                "[[auth.keys]]\nname = \"a\"\nkey_sha256 = \"xyz\"\n",
                "auth.keys[0].key_sha256",
            ),
            (
                "[[auth.keys]]\nname = \"a\"\nkey = \"abcdefghijkl\"\nscope = \"god\"\n",
                "scope",
            ),
            ("[plugins.x]\nmount = \"nope\"\n", "plugins.x.mount"),
            ("[plugins.x]\ngrants = [\"exec:\"]\n", "plugins.x.grants[0]"),
            (
                "[plugins.x]\nmemory_limit_mb = 0\n",
                "plugins.x.memory_limit_mb",
            ),
            ("[rate_limit]\nper_minute = 0\n", "rate_limit.per_minute"),
            ("[plugins.x]\nsha256 = \"abc\"\n", "plugins.x.sha256"),
            (
                "[plugins.x]\nfile = \"../elsewhere/x.wasm\"\n",
                "plugins.x.file",
            ),
            ("[plugins.x]\nfile = \"/etc/x.wasm\"\n", "plugins.x.file"),
            ("[plugins.x]\nfile = \"x.so\"\n", "plugins.x.file"),
        ];
        for (body, key) in cases {
            Jail::expect_with(|jail| {
                jail.create_file("c.toml", body)?;
                let err = load(Some("c.toml")).expect_err(body).to_string();
                assert!(err.contains(key), "`{err}` should name `{key}`");
                Ok(())
            });
        }
    }

    #[test]
    fn plugin_file_and_pin_are_checked() {
        assert_eq!(validate_plugin_file(Path::new("x.wasm")), Ok(()));
        assert_eq!(validate_plugin_file(Path::new("vendor/x-1.2.wasm")), Ok(()));
        for bad in ["../x.wasm", "a/../../x.wasm", "/x.wasm", "x.wat", "x"] {
            assert!(validate_plugin_file(Path::new(bad)).is_err(), "{bad}");
        }
        let hash = "ab".repeat(32);
        assert_eq!(validate_sha256(&hash), Ok(()));
        assert_eq!(validate_sha256(&hash.to_uppercase()), Ok(()));
        assert!(validate_sha256(&hash[1..]).is_err());
        assert!(validate_sha256(&format!("{}zz", &hash[2..])).is_err());
        Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                &format!(
                    "[plugins.x]\nfile = \"vendor/x-1.wasm\"\nsha256 = \"{hash}\"\nrequired = true\n"
                ),
            )?;
            let c = load(Some("c.toml")).expect("valid");
            let x = c.plugins.entry("x");
            assert_eq!(x.file.as_deref(), Some(Path::new("vendor/x-1.wasm")));
            assert_eq!(x.sha256.as_deref(), Some(hash.as_str()));
            assert!(x.required);
            assert!(!c.plugins.entry("y").required);
            Ok(())
        });
    }

    #[test]
    fn env_errors_name_the_key() {
        Jail::expect_with(|jail| {
            jail.set_env("INFRA_SERVER__LISTEN", "bogus");
            let err = load(None).expect_err("bad listen").to_string();
            assert!(err.contains("server.listen"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn masked_hides_secrets() {
        let mut c = Config::default();
        c.auth.keys.push(ApiKeyConfig {
            name: "ops".into(),
            key: Some("supersecretvalue".into()),
            key_sha256: None,
            scope: Scope::Admin,
        });
        c.ssh.key_passphrase = Some("hunter2hunter2".into());
        let shown = toml::to_string(&c.masked()).expect("toml");
        assert!(!shown.contains("supersecretvalue"));
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("***"));
    }
}
