//! The `infrastructor` binary.

use std::process::ExitCode;

use clap::Parser;
use infrastructor::cli::{Cli, Command, ConfigCommand, PluginsCommand};
use infrastructor::{App, Config, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("infrastructor: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(format) = cli.log_format {
        config.log.format = format;
    }
    match cli.command {
        Command::Serve { listen } => {
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            telemetry::init(config.log.format, &config.log.level);
            let listen = config.server.listen;
            let app = App::build(config).await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
            tracing::info!(
                address = %listener.local_addr()?,
                plugins = app.state.plugins.loaded.len(),
                "infrastructor listening; API under /api, docs at /docs"
            );
            app.serve(listener, infrastructor::app::shutdown_signal())
                .await?;
            tracing::info!("stopped");
        }
        Command::Plugins {
            command: PluginsCommand::List,
        } => {
            telemetry::init(config.log.format, "warn");
            let app = App::build(config).await?;
            for p in &app.state.plugins.loaded {
                println!(
                    "{:<16} {:<8} enabled   /api{:<20} {:>3} routes  {:>7.1} ms  effective: {}",
                    p.manifest.name,
                    p.manifest.version,
                    p.mount,
                    p.manifest.routes.len(),
                    p.load_time_ms,
                    p.effective.join(", ")
                );
            }
            for d in &app.state.plugins.disabled {
                println!("{:<16} {:<8} disabled", d.name, "-");
            }
        }
        Command::Openapi => {
            telemetry::init(config.log.format, "warn");
            let app = App::build(config).await?;
            let document: serde_json::Value = serde_json::from_slice(&app.state.openapi)?;
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
