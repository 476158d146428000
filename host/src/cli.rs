//! The command line: `serve`, `plugins list|new|check|reload`, `openapi`, `config show`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::LogFormat;

/// Infrastructor: manage a fleet of Linux hosts over SSH behind one REST API.
#[derive(Debug, Parser)]
#[command(name = "infrastructor", version, about)]
pub struct Cli {
    /// Configuration file (TOML or YAML); `INFRA_*` environment variables override it.
    #[arg(long, global = true, env = "INFRA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format (overrides `log.format`).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve {
        /// Listen address (overrides `server.listen`).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Reload the plugins whenever a `.wasm` file in `plugins.dir` or the configuration
        /// file changes (for development; SIGHUP and `plugins reload` work without it).
        #[arg(long)]
        watch_plugins: bool,
        /// How often `--watch-plugins` looks for changes, in milliseconds.
        #[arg(long, default_value_t = 1000, requires = "watch_plugins")]
        watch_interval_ms: u64,
    },
    /// Plugin commands.
    Plugins {
        /// What to do with plugins.
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Configuration commands.
    Config {
        /// What to do with the configuration.
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// `plugins` subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List plugins with their version, API version, source, SHA-256, mount, routes, load
    /// time and capabilities; and those skipped with their error.
    List,
    /// Load one component with the server's rules and the current config; print its name,
    /// version, API version, SHA-256, routes, scripts and capabilities (granted or not).
    /// Exits non-zero when the server would not load it.
    Check {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a new plugin crate (out of this repository) at `DIR/NAME`: one route running a
    /// remote command and parsing its output, native tests of the parser and the handler,
    /// and a README with the build, grant, pin and run steps. It passes `cargo test` and
    /// builds to a component (`cargo build --release --target wasm32-wasip2`) at once.
    New {
        /// The plugin's name, also its crate's and its mount's (`/api/NAME`): 1–64
        /// lower-case letters, digits, `-` or `_`, starting with a letter.
        name: String,
        /// The directory to create the crate in (the crate is `DIR/NAME`, which must not
        /// exist or be empty).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The SDK crate's directory (`plugins/sdk` of an Infrastructor checkout) to depend
        /// on by path. Default: this server's own source tree when it still exists, else the
        /// Infrastructor git repository at the tag of this server's version.
        #[arg(long)]
        sdk_path: Option<PathBuf>,
    },
    /// Ask the running server to reload its plugins (`POST /api/plugins/reload` with an
    /// admin key): it reads `[plugins]` and `plugins.dir` again and swaps without dropping
    /// requests. Prints what it did per plugin; exits non-zero when the server refused or
    /// a plugin kept its running version. (`kill -HUP PID` does the same.)
    Reload(ReloadArgs),
}

/// `plugins reload`'s options.
#[derive(Debug, clap::Args)]
pub struct ReloadArgs {
    /// The server (default: `server.listen` of the configuration, on this machine).
    #[arg(long)]
    pub url: Option<String>,
    /// An admin API key.
    #[arg(long, env = "INFRA_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration with secrets masked.
    Show,
}
