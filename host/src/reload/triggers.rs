//! What starts a reload besides `POST /api/plugins/reload`: SIGHUP, and, for development,
//! a change to a plugin file or the configuration file (`serve --watch-plugins`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::app::AppState;

/// Runs one reload and logs its outcome (the report's summary is logged by the reload).
async fn reload_and_log(state: &Arc<AppState>, cause: &str) {
    if let Err(e) = super::reload(state).await {
        tracing::warn!("plugin reload ({cause}) refused; the running plugins stay: {e}");
    }
}

/// Reloads on every SIGHUP until aborted (outside Unix: never).
pub fn spawn_on_sighup(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut hangups = match signal(SignalKind::hangup()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGHUP; reload with POST /api/plugins/reload");
                    return;
                }
            };
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading plugins");
                reload_and_log(&state, "SIGHUP").await;
            }
        }
        #[cfg(not(unix))]
        drop(state);
    })
}

/// What the watcher compares: each watched file's path, size and modification time.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// The `.wasm` files of `plugins.dir`, the files sections name, and `config_file`.
fn fingerprint(state: &AppState, config_file: Option<&PathBuf>) -> Fingerprint {
    let generation = state.generation();
    let config = &generation.config;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&config.dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("wasm"))
                .collect()
        })
        .unwrap_or_default();
    paths.extend(
        config
            .entries
            .values()
            .filter_map(|e| e.file.as_ref().map(|f| config.dir.join(f))),
    );
    paths.extend(config_file.cloned());
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).ok();
            let len = meta.as_ref().map_or(0, |m| m.len());
            let modified = meta.and_then(|m| m.modified().ok());
            (p, len, modified)
        })
        .collect()
}

/// Checks every `every` whether a plugin file or `config_file` changed, and reloads once
/// a change has stayed the same for one more check (a file still being written is not
/// loaded half-way).
pub fn spawn_watch(
    state: Arc<AppState>,
    config_file: Option<PathBuf>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = every.max(Duration::from_millis(50));
        let read = {
            let state = state.clone();
            move || {
                let state = state.clone();
                let config_file = config_file.clone();
                async move {
                    tokio::task::spawn_blocking(move || fingerprint(&state, config_file.as_ref()))
                        .await
                        .unwrap_or_default()
                }
            }
        };
        let mut loaded = read().await;
        let mut seen = loaded.clone();
        tracing::info!(
            every_ms = every.as_millis() as u64,
            "watching plugin files for changes"
        );
        loop {
            tokio::time::sleep(every).await;
            let now = read().await;
            if now != loaded && now == seen {
                tracing::info!("plugin files changed: reloading plugins");
                reload_and_log(&state, "file change").await;
                loaded = read().await;
                seen = loaded.clone();
                continue;
            }
            seen = now;
        }
    })
}
