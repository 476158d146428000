//! Finds plugins (built into the binary, or `.wasm` files in `plugins.dir`), applies the
//! per-plugin config (enabled, mount, grants, limits) and loads the enabled ones.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::{LoadError, PluginError};
use super::runtime::{LoadedPlugin, PluginRuntime, PluginSource};
use crate::builtin::BuiltinPlugin;
use crate::config::PluginsConfig;

/// A plugin found but not loaded because config disables it.
#[derive(Debug, Clone, Serialize)]
pub struct DisabledPlugin {
    /// Name.
    pub name: String,
    /// Where it would come from.
    pub source: PluginSource,
}

/// Every plugin the server knows of.
#[derive(Default)]
pub struct PluginSet {
    /// Loaded and mounted, in load order.
    pub loaded: Vec<Arc<LoadedPlugin>>,
    /// Present but disabled.
    pub disabled: Vec<DisabledPlugin>,
}

impl PluginSet {
    /// The loaded plugin called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<LoadedPlugin>> {
        self.loaded.iter().find(|p| p.manifest.name == name)
    }
}

/// A plugin's wasm before loading.
pub struct PluginBinary {
    /// Name (built-in name or file stem).
    pub name: String,
    /// The component bytes (borrowed from the binary for a built-in: they are read only
    /// when no compiled artifact is cached).
    pub wasm: Cow<'static, [u8]>,
    /// SHA-256 of the bytes (hex).
    pub sha256: String,
    /// Origin.
    pub source: PluginSource,
}

/// Built-in plugins plus `*.wasm` files of `dir` (when it exists). A file named like a
/// built-in replaces it.
pub fn discover(builtins: &[BuiltinPlugin], dir: &Path) -> Result<Vec<PluginBinary>, PluginError> {
    let mut found: BTreeMap<String, PluginBinary> = BTreeMap::new();
    for builtin in builtins {
        found.insert(
            builtin.name.to_string(),
            PluginBinary {
                name: builtin.name.to_string(),
                wasm: Cow::Borrowed(builtin.wasm),
                sha256: builtin.sha256.to_string(),
                source: PluginSource::Builtin,
            },
        );
    }
    if dir.is_dir() {
        let unreadable = |source| {
            PluginError::load(
                dir.display().to_string(),
                LoadError::Read {
                    path: dir.display().to_string(),
                    source,
                },
            )
        };
        let entries = std::fs::read_dir(dir).map_err(unreadable)?;
        for entry in entries {
            let path = entry.map_err(unreadable)?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("wasm") {
                continue;
            }
            let Some(name) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            if !crate::config::is_plugin_name(&name) {
                return Err(PluginError::load(name, LoadError::FileName));
            }
            let wasm = std::fs::read(&path).map_err(|source| {
                PluginError::load(
                    &name,
                    LoadError::Read {
                        path: path.display().to_string(),
                        source,
                    },
                )
            })?;
            if found.contains_key(&name) {
                tracing::warn!(plugin = %name, file = %path.display(), "file replaces the built-in plugin");
            }
            found.insert(
                name.clone(),
                PluginBinary {
                    name,
                    sha256: hex::encode(Sha256::digest(&wasm)),
                    wasm: Cow::Owned(wasm),
                    source: PluginSource::File(path),
                },
            );
        }
    }
    Ok(found.into_values().collect())
}

/// Loads every enabled plugin; fails on the first that cannot load, whose mount collides
/// with another's, or whose mount `reserved` says belongs to the host's own routes.
pub async fn load_all(
    runtime: &Arc<PluginRuntime>,
    binaries: Vec<PluginBinary>,
    config: &PluginsConfig,
    reserved: impl Fn(&str) -> bool,
) -> Result<PluginSet, PluginError> {
    let mut set = PluginSet::default();
    for name in config.entries.keys() {
        if !binaries.iter().any(|b| &b.name == name) {
            tracing::warn!(plugin = %name, "config has a section for a plugin that does not exist");
        }
    }
    for binary in binaries {
        let entry = config.entry(&binary.name);
        if !entry.enabled {
            tracing::info!(plugin = %binary.name, "plugin disabled by config");
            set.disabled.push(DisabledPlugin {
                name: binary.name,
                source: binary.source,
            });
            continue;
        }
        let plugin = runtime
            .load(&binary.name, binary.wasm, &binary.sha256, binary.source, &entry)
            .await?;
        if reserved(&plugin.mount) {
            return Err(PluginError::load(
                &plugin.manifest.name,
                LoadError::ReservedMount(plugin.mount.clone()),
            ));
        }
        if let Some(other) = set.loaded.iter().find(|p| p.mount == plugin.mount) {
            return Err(PluginError::load(
                &plugin.manifest.name,
                LoadError::MountTaken {
                    mount: plugin.mount.clone(),
                    other: other.manifest.name.clone(),
                    plugin: plugin.manifest.name.clone(),
                },
            ));
        }
        tracing::info!(
            plugin = %plugin.manifest.name,
            version = %plugin.manifest.version,
            api = %plugin.manifest.api_version,
            mount = %plugin.mount,
            routes = plugin.manifest.routes.len(),
            load_ms = format!("{:.1}", plugin.load_time_ms),
            cached = plugin.from_cache,
            "plugin loaded"
        );
        set.loaded.push(Arc::new(plugin));
    }
    Ok(set)
}
