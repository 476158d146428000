//! The `infrastructor` binary.

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use infrastructor::cli::{Cli, Command, ConfigCommand, PluginsCommand};
use infrastructor::plugins::{PluginSet, PluginSource};
use infrastructor::{App, Config, plugin_scaffold, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("infrastructor: {}", once(&e));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Needs no configuration (a broken one must not stop it).
    if let Command::Plugins {
        command:
            PluginsCommand::New {
                name,
                dir,
                sdk_path,
            },
    } = &cli.command
    {
        return new_plugin(name, dir, sdk_path.as_deref());
    }
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(format) = cli.log_format {
        config.log.format = format;
    }
    match cli.command {
        Command::Serve {
            listen,
            watch_plugins,
            watch_interval_ms,
        } => {
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            telemetry::init(config.log.format, &config.log.level);
            let listen = config.server.listen;
            let mut app = App::build(config)
                .await?
                .config_file(cli.config.clone())
                .reload_on_sighup();
            if watch_plugins {
                app = app.watch_plugins(
                    cli.config.clone(),
                    std::time::Duration::from_millis(watch_interval_ms),
                );
            }
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
            tracing::info!(
                address = %listener.local_addr()?,
                plugins = app.state.plugins().loaded.len(),
                "infrastructor listening; API under /api, docs at /docs"
            );
            app.serve(listener, infrastructor::app::shutdown_signal())
                .await?;
            tracing::info!("stopped");
        }
        Command::Plugins {
            command: PluginsCommand::List,
        } => {
            telemetry::init(config.log.format, "error");
            let app = App::build(config).await?;
            print!("{}", plugin_list(&app.state.plugins()));
        }
        Command::Plugins {
            command:
                PluginsCommand::New {
                    name,
                    dir,
                    sdk_path,
                },
        } => new_plugin(&name, &dir, sdk_path.as_deref())?,
        Command::Plugins {
            command: PluginsCommand::Check { file, json },
        } => {
            telemetry::init(config.log.format, "error");
            let report = infrastructor::plugin_check::check(&config, &file).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.to_text());
            }
        }
        Command::Plugins {
            command: PluginsCommand::Reload(args),
        } => {
            let url = args
                .url
                .unwrap_or_else(|| infrastructor::reload::client::url_for(config.server.listen));
            let printed = infrastructor::reload::client::reload(&url, args.key.as_deref()).await?;
            print!("{}", printed.text);
            if printed.refused > 0 {
                anyhow::bail!(
                    "{} plugin(s) kept their running version or could not be loaded",
                    printed.refused
                );
            }
        }
        Command::Openapi => {
            telemetry::init(config.log.format, "warn");
            let app = App::build(config).await?;
            let document: serde_json::Value = serde_json::from_slice(&app.state.openapi())?;
            println!("{}", serde_json::to_string_pretty(&document)?);
        }
        Command::Config {
            command: ConfigCommand::Show,
        } => {
            print!("{}", toml::to_string_pretty(&config.masked())?);
        }
    }
    Ok(())
}

/// `plugins new`: writes the crate and prints what to do next.
fn new_plugin(name: &str, dir: &Path, sdk_path: Option<&Path>) -> anyhow::Result<()> {
    let sdk = match sdk_path {
        Some(path) => plugin_scaffold::SdkSource::path(path)?,
        None => plugin_scaffold::SdkSource::detect(),
    };
    let made = plugin_scaffold::create(&plugin_scaffold::NewPlugin {
        name: name.to_owned(),
        parent: dir.to_path_buf(),
        sdk,
    })?;
    print!("{}", made.summary());
    Ok(())
}

/// `plugins list`: one line per plugin (loaded, disabled, then skipped with its error).
fn plugin_list(set: &PluginSet) -> String {
    let source = |s: &PluginSource| match s {
        PluginSource::Builtin => "built-in".to_string(),
        PluginSource::File(p) => p.display().to_string(),
    };
    let mut out = String::new();
    for p in &set.loaded {
        out.push_str(&format!(
            "{:<16} {:<8} loaded    api {}  /api{:<16} {:>3} routes  {:>7.1} ms at {}  sha256 {}  {}  effective: {}\n",
            p.manifest.name,
            p.manifest.version,
            p.manifest.api_version,
            p.mount,
            p.manifest.routes.len(),
            p.load_time_ms,
            p.loaded_at,
            p.sha256,
            source(&p.source),
            p.effective.join(", ")
        ));
    }
    for d in &set.disabled {
        out.push_str(&format!(
            "{:<16} {:<8} disabled  {}\n",
            d.name,
            "-",
            source(&d.source)
        ));
    }
    for f in &set.failed {
        out.push_str(&format!(
            "{:<16} {:<8} FAILED    {}  sha256 {}  error: {}\n",
            f.name,
            "-",
            source(&f.source),
            f.sha256.as_deref().unwrap_or("-"),
            f.error
        ));
    }
    out
}

/// The error and its causes on one line, each cause only when the text so far does not
/// already say it (most errors here repeat their cause in their own message).
fn once(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
