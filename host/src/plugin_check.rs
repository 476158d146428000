//! `infrastructor plugins check FILE.wasm`: loads one component with the server's rules (the
//! config's section for it, its pin, grants, limits, reserved mounts, routing and OpenAPI)
//! in a throwaway server (private temporary database and compile cache, no listener, no
//! poller) and reports what it is and what the config grants it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::app::{App, BuildError};
use crate::config::Config;
use crate::plugins::loader::{self, Discovered, PluginBinary};
use crate::plugins::{LoadError, PluginError, PluginSource};

/// Why a check failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server would not load it (or could not start its runtime).
    #[error("{0}")]
    Load(#[from] BuildError),
}

/// One declared capability and whether the config grants it.
#[derive(Debug, Serialize)]
pub struct CapabilityCheck {
    /// The capability as declared.
    pub capability: String,
    /// Whether it is in force with the current config.
    pub granted: bool,
}

/// One route, as mounted.
#[derive(Debug, Serialize)]
pub struct RouteCheck {
    /// `GET`…
    pub method: String,
    /// Full path.
    pub path: String,
    /// Operation id.
    pub operation_id: String,
    /// `read`, `write` or `admin`.
    pub scope: String,
    /// Runs only as a queued job (not mounted).
    pub internal: bool,
}

/// One declared script.
#[derive(Debug, Serialize)]
pub struct ScriptCheck {
    /// Its name.
    pub name: String,
    /// The programs it runs.
    pub programs: Vec<String>,
}

/// What `plugins check` found.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// Plugin API version it was built against.
    pub api_version: String,
    /// SHA-256 (hex) of the file (what `plugins.NAME.sha256` pins).
    pub sha256: String,
    /// Whether its initialiser ran at load, so each request starts with its `App` built;
    /// false when the component has no initialiser or its `App` calls the host.
    pub preinitialized: bool,
    /// The WASI interfaces it imports (each one is made with every instance: a
    /// `wasm32-wasip2` build imports its standard library's 13 or more, used or not).
    pub wasi_imports: Vec<String>,
    /// The file checked.
    pub file: PathBuf,
    /// The config section that applies (`plugins.NAME`).
    pub section: String,
    /// Where its routes would be.
    pub mount: String,
    /// Its routes.
    pub routes: Vec<RouteCheck>,
    /// Its scripts.
    pub scripts: Vec<ScriptCheck>,
    /// Declared capabilities and whether the config grants each.
    pub capabilities: Vec<CapabilityCheck>,
    /// Milliseconds to compile and load it.
    pub load_time_ms: f64,
}

/// Loads `file` as the server would, with `config`'s section for it: the section whose
/// `file` names it, else the one of its file stem, else (when the stem is not the name the
/// manifest gives) the manifest's name.
pub async fn check(config: &Config, file: &Path) -> Result<CheckReport, CheckError> {
    let wasm = std::fs::read(file).map_err(|source| CheckError::Read {
        path: file.display().to_string(),
        source,
    })?;
    let by_section = loader::section_naming(&config.plugins, file);
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let first = by_section.clone().unwrap_or(stem);
    let scratch =
        std::env::temp_dir().join(format!("infrastructor-check-{}", uuid::Uuid::new_v4()));
    let result = match build(config, file, &wasm, &first, &scratch).await {
        Err(CheckError::Load(BuildError::Plugin(PluginError::Load {
            source: LoadError::NameMismatch { manifest, .. },
            ..
        }))) if by_section.is_none() => build(config, file, &wasm, &manifest, &scratch).await,
        other => other,
    };
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

async fn build(
    config: &Config,
    file: &Path,
    wasm: &[u8],
    name: &str,
    scratch: &Path,
) -> Result<CheckReport, CheckError> {
    let mut config = config.clone();
    config.database.path = scratch.join("check.db");
    config.plugins.cache_dir = scratch.join("cache");
    let entry = config.plugins.entries.entry(name.to_string()).or_default();
    entry.required = true;
    entry.enabled = true;
    let discovered = Discovered {
        binaries: vec![PluginBinary::new(
            name,
            wasm.to_vec(),
            PluginSource::File(file.to_path_buf()),
        )],
        failed: Vec::new(),
    };
    let app = App::build_with(config, discovered).await?;
    let plugins = app.state.plugins();
    let Some(p) = plugins.loaded.first() else {
        return Err(CheckError::Load(BuildError::Runtime(
            "the plugin was not loaded".into(),
        )));
    };
    let m = &p.manifest;
    let report = CheckReport {
        name: m.name.clone(),
        version: m.version.clone(),
        api_version: m.api_version.to_string(),
        sha256: p.sha256.clone(),
        preinitialized: p.preinitialized,
        wasi_imports: p.wasi_imports.clone(),
        file: file.to_path_buf(),
        section: format!("plugins.{name}"),
        mount: format!("/api{}", p.mount),
        routes: m
            .routes
            .iter()
            .map(|r| RouteCheck {
                method: r.method.as_str().to_owned(),
                path: format!("/api{}{}", p.mount, r.path),
                operation_id: r.operation_id.clone(),
                scope: r.scope.as_str().to_owned(),
                internal: r.internal,
            })
            .collect(),
        scripts: m
            .scripts
            .iter()
            .map(|s| ScriptCheck {
                name: s.name.clone(),
                programs: s.programs.clone(),
            })
            .collect(),
        capabilities: m
            .capabilities
            .iter()
            .map(|c| CapabilityCheck {
                capability: c.to_string(),
                granted: p.grants().list().contains(c),
            })
            .collect(),
        load_time_ms: p.load_time_ms,
    };
    Ok(report)
}

impl CheckReport {
    /// The report as lines of text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(format!("plugin       {} {}", self.name, self.version));
        line(format!("api version  {}", self.api_version));
        line(format!("sha256       {}", self.sha256));
        line(format!(
            "start        {}",
            if self.preinitialized {
                "pre-initialised (its App is built once, at load)"
            } else {
                "not pre-initialised (every request builds its App: it calls the host while building, or has no initialiser)"
            }
        ));
        line(format!("wasi         {}", wasi_summary(&self.wasi_imports)));
        line(format!("file         {}", self.file.display()));
        line(format!("config       [{}]", self.section));
        line(format!("mount        {}", self.mount));
        line(format!("load time    {:.1} ms", self.load_time_ms));
        line(format!("routes       {}", self.routes.len()));
        for r in &self.routes {
            let note = if r.internal { "  (internal job)" } else { "" };
            line(format!(
                "  {:<6} {:<40} {:<24} {}{note}",
                r.method, r.path, r.operation_id, r.scope
            ));
        }
        line(format!("scripts      {}", self.scripts.len()));
        for s in &self.scripts {
            line(format!("  {:<24} runs {}", s.name, s.programs.join(", ")));
        }
        line(format!("capabilities {}", self.capabilities.len()));
        for c in &self.capabilities {
            let state = if c.granted {
                "granted".to_string()
            } else {
                format!("NOT granted (add it to {}.grants)", self.section)
            };
            line(format!("  {:<40} {state}", c.capability));
        }
        out
    }
}

/// One line on a component's WASI imports, with the way to fewer when it links WASI's whole
/// standard library (a `wasm32-wasip2` build imports `wasi:cli/…`, whatever it calls).
fn wasi_summary(imports: &[String]) -> String {
    if imports.is_empty() {
        return "none".to_owned();
    }
    let names = imports.join(", ");
    let count = match imports.len() {
        1 => "1 interface".to_owned(),
        n => format!("{n} interfaces"),
    };
    if imports.iter().any(|i| i.starts_with("wasi:cli/")) {
        format!(
            "{count} (WASI's standard library, made with every instance whether used or not; \
             docs/writing-a-plugin.md, section 4, builds one that imports only what it uses): {names}"
        )
    } else {
        format!("{count}: {names}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasi_imports_are_summed_up_with_the_way_to_fewer() {
        assert_eq!(wasi_summary(&[]), "none");
        let clocks = ["wasi:clocks/wall-clock@0.2.12".to_owned()];
        assert_eq!(
            wasi_summary(&clocks),
            "1 interface: wasi:clocks/wall-clock@0.2.12"
        );
        let std = [
            "wasi:cli/environment@0.2.6".to_owned(),
            "wasi:io/streams@0.2.6".to_owned(),
        ];
        let line = wasi_summary(&std);
        assert!(
            line.starts_with("2 interfaces (WASI's standard library"),
            "{line}"
        );
        assert!(line.contains("section 4"), "{line}");
        assert!(
            line.ends_with("wasi:cli/environment@0.2.6, wasi:io/streams@0.2.6"),
            "{line}"
        );
    }
}
