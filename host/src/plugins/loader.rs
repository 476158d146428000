//! Finds plugins (built into the binary, or `.wasm` files in `plugins.dir`, named by their
//! file stem or by `plugins.NAME.file`), applies the per-plugin config (enabled, pin, mount,
//! grants, limits) and loads the enabled ones.
//!
//! A third-party plugin that cannot be read, is refused by its pin, fails to load or
//! collides with another's mount is skipped with one warning and listed as failed, unless
//! its section says `required = true`; a built-in that fails stops start-up.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::{LoadError, PluginError};
use super::runtime::{LoadedPlugin, PluginRuntime, PluginSource};
use crate::builtin::BuiltinPlugin;
use crate::config::{PluginConfig, PluginsConfig};

/// A plugin found but not loaded because config disables it.
#[derive(Debug, Clone, Serialize)]
pub struct DisabledPlugin {
    /// Name.
    pub name: String,
    /// Where it would come from.
    pub source: PluginSource,
}

/// A third-party plugin that was found but skipped because it could not be loaded.
#[derive(Debug, Clone, Serialize)]
pub struct FailedPlugin {
    /// Name (its config section, or its file stem).
    pub name: String,
    /// Where it came from.
    pub source: PluginSource,
    /// SHA-256 (hex) of its bytes, when they could be read.
    pub sha256: Option<String>,
    /// Why it was skipped.
    pub error: String,
}

/// Every plugin the server knows of.
#[derive(Default)]
pub struct PluginSet {
    /// Loaded and mounted, in load order.
    pub loaded: Vec<Arc<LoadedPlugin>>,
    /// Present but disabled.
    pub disabled: Vec<DisabledPlugin>,
    /// Third-party plugins skipped because they could not be loaded.
    pub failed: Vec<FailedPlugin>,
    /// Plugins whose new component or section failed to load at a reload: each keeps
    /// running at its previous load (in [`PluginSet::loaded`]); this says why the new one
    /// was refused.
    pub kept: Vec<FailedPlugin>,
}

impl PluginSet {
    /// The loaded plugin called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<LoadedPlugin>> {
        self.loaded.iter().find(|p| p.manifest.name == name)
    }
}

/// A plugin's wasm before loading.
pub struct PluginBinary {
    /// Name (built-in name, config section naming its file, or file stem).
    pub name: String,
    /// The component bytes (borrowed from the binary for a built-in: they are read only
    /// when no compiled artifact is cached).
    pub wasm: Cow<'static, [u8]>,
    /// SHA-256 of the bytes (hex).
    pub sha256: String,
    /// Origin.
    pub source: PluginSource,
}

impl PluginBinary {
    /// A binary read from a file, its hash computed.
    pub fn new(name: impl Into<String>, wasm: Vec<u8>, source: PluginSource) -> PluginBinary {
        PluginBinary {
            name: name.into(),
            sha256: hex::encode(Sha256::digest(&wasm)),
            wasm: Cow::Owned(wasm),
            source,
        }
    }

    /// A built-in: its bytes stay in the binary and its hash was computed at build time.
    pub fn builtin(plugin: &BuiltinPlugin) -> PluginBinary {
        PluginBinary {
            name: plugin.name.to_string(),
            wasm: Cow::Borrowed(plugin.wasm),
            sha256: plugin.sha256.to_string(),
            source: PluginSource::Builtin,
        }
    }
}

/// What discovery found: binaries to load, and files that could not even be read or named.
#[derive(Default)]
pub struct Discovered {
    /// Plugins to load (one per name).
    pub binaries: Vec<PluginBinary>,
    /// Plugin files skipped before loading (unreadable, or a name no plugin can have).
    pub failed: Vec<FailedPlugin>,
}

/// Built-in plugins plus the `.wasm` files of `config.dir` (when it exists): each section
/// with a `file` names that file; every other file is named by its stem. A file named like
/// a built-in replaces it. A file that cannot be read or named is skipped (listed as failed),
/// unless a section requires it; only an unreadable directory stops discovery.
pub fn discover(
    builtins: &[BuiltinPlugin],
    config: &PluginsConfig,
) -> Result<Discovered, PluginError> {
    let dir = &config.dir;
    let mut found: BTreeMap<String, PluginBinary> = BTreeMap::new();
    let mut failed = Vec::new();
    for builtin in builtins {
        found.insert(builtin.name.to_string(), PluginBinary::builtin(builtin));
    }
    let mut add = |name: String, path: PathBuf, failed: &mut Vec<FailedPlugin>| {
        let entry = config.entry(&name);
        match std::fs::read(&path) {
            Ok(wasm) => {
                if found.contains_key(&name) {
                    tracing::warn!(plugin = %name, file = %path.display(), "file replaces the built-in plugin");
                }
                found.insert(
                    name.clone(),
                    PluginBinary::new(name, wasm, PluginSource::File(path)),
                );
                Ok(())
            }
            Err(source) => {
                let error = LoadError::Read {
                    path: path.display().to_string(),
                    source,
                };
                skip_or_fail(
                    failed,
                    &name,
                    PluginSource::File(path),
                    None,
                    entry.required,
                    error,
                )
            }
        }
    };
    // Files named by config.
    let mut named: BTreeSet<PathBuf> = BTreeSet::new();
    for (name, entry) in &config.entries {
        if let Some(file) = &entry.file {
            let path = dir.join(file);
            named.insert(path.clone());
            add(name.clone(), path, &mut failed)?;
        }
    }
    // Every other file, by its stem.
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
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(unreadable)? {
            paths.push(entry.map_err(unreadable)?.path());
        }
        paths.sort();
        for path in paths {
            if path.extension().and_then(|e| e.to_str()) != Some("wasm") || named.contains(&path) {
                continue;
            }
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let stem = stem.to_string();
            if config.entries.get(&stem).is_some_and(|e| e.file.is_some()) {
                // Its section names another file; this one is not it.
                tracing::warn!(
                    file = %path.display(),
                    "ignored: plugins.{stem}.file names another file"
                );
                continue;
            }
            if !crate::config::is_plugin_name(&stem) {
                let file = path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                skip_or_fail(
                    &mut failed,
                    &file,
                    PluginSource::File(path.clone()),
                    None,
                    false,
                    LoadError::FileName(file.clone()),
                )?;
                continue;
            }
            add(stem, path, &mut failed)?;
        }
    }
    // A required plugin must exist.
    for (name, entry) in &config.entries {
        let known = found.contains_key(name) || failed.iter().any(|f| &f.name == name);
        if entry.required && entry.enabled && !known {
            return Err(PluginError::load(
                name,
                LoadError::Missing {
                    plugin: name.clone(),
                    path: dir
                        .join(entry.file.clone().unwrap_or(format!("{name}.wasm").into()))
                        .display()
                        .to_string(),
                },
            ));
        }
    }
    Ok(Discovered {
        binaries: found.into_values().collect(),
        failed,
    })
}

/// Records a third-party plugin that cannot be used (one warning), or, when `required`,
/// returns the error that stops start-up.
fn skip_or_fail(
    failed: &mut Vec<FailedPlugin>,
    name: &str,
    source: PluginSource,
    sha256: Option<String>,
    required: bool,
    error: LoadError,
) -> Result<(), PluginError> {
    if required || matches!(source, PluginSource::Builtin) {
        return Err(PluginError::load(name, error));
    }
    let error = error.to_string();
    tracing::warn!("plugin `{name}` skipped: {error}");
    failed.push(FailedPlugin {
        name: name.to_string(),
        source,
        sha256,
        error,
    });
    Ok(())
}

/// The cause of a load failure, without the `cannot load plugin` prefix.
fn cause(e: PluginError) -> LoadError {
    match e {
        PluginError::Load { source, .. } => source,
        other => LoadError::ManifestCall(Box::new(other)),
    }
}

/// Whether a plugin's failure stops start-up: built-ins and `required = true` ones.
fn is_required(source: &PluginSource, entry: &PluginConfig) -> bool {
    matches!(source, PluginSource::Builtin) || entry.required
}

/// Loads one binary with its section: the pin first, then the runtime's load.
pub async fn load_one(
    runtime: &Arc<PluginRuntime>,
    binary: &PluginBinary,
    entry: &PluginConfig,
) -> Result<LoadedPlugin, PluginError> {
    if let Some(expected) = &entry.sha256
        && !expected.eq_ignore_ascii_case(&binary.sha256)
    {
        return Err(PluginError::load(
            &binary.name,
            LoadError::HashMismatch {
                plugin: binary.name.clone(),
                expected: expected.to_ascii_lowercase(),
                found: binary.sha256.clone(),
            },
        ));
    }
    runtime
        .load(
            &binary.name,
            binary.wasm.clone(),
            &binary.sha256,
            binary.source.clone(),
            entry,
        )
        .await
}

/// Loads every enabled plugin. A plugin that cannot load, whose mount `reserved` says
/// belongs to the host's own routes, or whose mount another plugin has, is skipped (listed
/// in [`PluginSet::failed`]); for a built-in or a `required` plugin it is the error returned.
/// Mounts go to built-ins and required plugins first, then to the others in load order.
///
/// With `previous` (a reload), a plugin whose bytes and section are unchanged keeps its
/// load as it is (nothing is compiled or asked again), and a plugin whose new bytes or
/// section fail to load keeps running at its previous load (listed in
/// [`PluginSet::kept`] with the reason); only a failure with no previous load to keep is
/// skipped or, when required, returned.
pub async fn load_all(
    runtime: &Arc<PluginRuntime>,
    discovered: Discovered,
    config: &PluginsConfig,
    reserved: impl Fn(&str) -> bool,
    previous: Option<&PluginSet>,
) -> Result<PluginSet, PluginError> {
    let mut set = PluginSet {
        failed: discovered.failed,
        ..PluginSet::default()
    };
    let binaries = discovered.binaries;
    for name in config.entries.keys() {
        let known =
            binaries.iter().any(|b| &b.name == name) || set.failed.iter().any(|f| &f.name == name);
        if !known {
            tracing::warn!(
                "config section [plugins.{name}] names no plugin: there is no built-in `{name}` and no {} (set plugins.{name}.file to name its file)",
                config.dir.join(format!("{name}.wasm")).display()
            );
        }
    }
    // Load every enabled plugin (in order), keeping failures for the mount pass.
    let mut results: Vec<(Arc<LoadedPlugin>, bool, String)> = Vec::new();
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
        let required = is_required(&binary.source, &entry);
        let running = previous.and_then(|p| p.get(&binary.name));
        if let Some(running) = running
            && running.sha256 == binary.sha256
            && running.section == entry
        {
            results.push((running.clone(), required, binary.sha256));
            continue;
        }
        match load_one(runtime, &binary, &entry).await {
            Ok(plugin) => results.push((Arc::new(plugin), required, binary.sha256)),
            Err(e) => match running {
                Some(running) => {
                    let error = cause(e).to_string();
                    tracing::warn!(
                        "plugin `{}` stays at version {} ({}): the new one cannot be loaded: {error}",
                        binary.name,
                        running.manifest.version,
                        running.sha256
                    );
                    set.kept.push(FailedPlugin {
                        name: binary.name,
                        source: binary.source,
                        sha256: Some(binary.sha256),
                        error,
                    });
                    results.push((running.clone(), required, running.sha256.clone()));
                }
                None => skip_or_fail(
                    &mut set.failed,
                    &binary.name,
                    binary.source,
                    Some(binary.sha256),
                    required,
                    cause(e),
                )?,
            },
        }
    }
    // Mounts: required plugins first, so a third-party plugin never takes a built-in's.
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    let mut accepted = vec![false; results.len()];
    for pass_required in [true, false] {
        for (i, (plugin, required, sha256)) in results.iter().enumerate() {
            if *required != pass_required {
                continue;
            }
            let error = if reserved(&plugin.mount) {
                Some(LoadError::ReservedMount(plugin.mount.clone()))
            } else {
                taken.get(&plugin.mount).map(|other| LoadError::MountTaken {
                    mount: plugin.mount.clone(),
                    other: other.clone(),
                    plugin: plugin.manifest.name.clone(),
                })
            };
            match error {
                Some(error) => skip_or_fail(
                    &mut set.failed,
                    &plugin.manifest.name,
                    plugin.source.clone(),
                    Some(sha256.clone()),
                    *required,
                    error,
                )?,
                None => {
                    taken.insert(plugin.mount.clone(), plugin.manifest.name.clone());
                    accepted[i] = true;
                }
            }
        }
    }
    for ((plugin, _, _), ok) in results.into_iter().zip(accepted) {
        if !ok {
            continue;
        }
        let unchanged = previous
            .and_then(|p| p.get(&plugin.manifest.name))
            .is_some_and(|p| Arc::ptr_eq(p, &plugin));
        if !unchanged {
            tracing::info!(
                plugin = %plugin.manifest.name,
                version = %plugin.manifest.version,
                api = %plugin.manifest.api_version,
                mount = %plugin.mount,
                routes = plugin.manifest.routes.len(),
                sha256 = %plugin.sha256,
                load_ms = format!("{:.1}", plugin.load_time_ms),
                cached = plugin.from_cache,
                manifest_cached = plugin.manifest_from_cache,
                preinitialized = plugin.preinitialized,
                "plugin loaded"
            );
        }
        set.loaded.push(plugin);
    }
    Ok(set)
}

/// The file `plugins.NAME.file` names, or `None`.
pub fn configured_file(config: &PluginsConfig, name: &str) -> Option<PathBuf> {
    config
        .entries
        .get(name)
        .and_then(|e| e.file.as_ref())
        .map(|f| config.dir.join(f))
}

/// The section whose `file` is `path` (compared canonically), if any.
pub fn section_naming(config: &PluginsConfig, path: &Path) -> Option<String> {
    let wanted = std::fs::canonicalize(path).ok()?;
    config.entries.keys().find_map(|name| {
        let file = configured_file(config, name)?;
        (std::fs::canonicalize(file).ok()? == wanted).then(|| name.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> PluginsConfig {
        PluginsConfig {
            dir: dir.to_path_buf(),
            ..PluginsConfig::default()
        }
    }

    #[test]
    fn files_are_named_by_stem_or_by_their_section() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("a.wasm"), b"A").expect("a");
        std::fs::write(dir.path().join("vendor-b-1.2.wasm"), b"B").expect("b");
        std::fs::write(dir.path().join("Bad Name.wasm"), b"C").expect("c");
        std::fs::write(dir.path().join("notes.txt"), b"x").expect("txt");
        let mut c = config(dir.path());
        c.entries.entry("b".into()).or_default().file = Some("vendor-b-1.2.wasm".into());
        let builtin = BuiltinPlugin {
            name: "builtin",
            wasm: b"W",
            sha256: "",
        };
        let found = discover(&[builtin], &c).expect("discovered");
        let names: Vec<(&str, &str)> = found
            .binaries
            .iter()
            .map(|b| (b.name.as_str(), std::str::from_utf8(&b.wasm).expect("utf8")))
            .collect();
        assert_eq!(names, [("a", "A"), ("b", "B"), ("builtin", "W")]);
        let a = &found.binaries[0];
        assert_eq!(a.sha256, hex::encode(Sha256::digest(b"A")));
        assert_eq!(found.failed.len(), 1, "the badly named file is skipped");
        assert_eq!(found.failed[0].name, "Bad Name.wasm");
        assert!(found.failed[0].error.contains("plugins.NAME.file"));
    }

    #[test]
    fn a_required_plugin_that_is_missing_or_badly_named_stops_discovery() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut c = config(dir.path());
        c.entries.entry("gone".into()).or_default().required = true;
        let err = discover(&[], &c).err().expect("missing").to_string();
        assert!(err.contains("plugins.gone.required"), "{err}");
        c.entries.clear();
        let e = c.entries.entry("gone".into()).or_default();
        e.file = Some("nowhere.wasm".into());
        // Not required: skipped with its reason.
        let found = discover(&[], &c).expect("skipped");
        assert_eq!(found.failed[0].name, "gone");
        assert!(found.failed[0].error.contains("nowhere.wasm"));
        c.entries.get_mut("gone").expect("gone").required = true;
        let err = discover(&[], &c).err().expect("required").to_string();
        assert!(err.contains("nowhere.wasm"), "{err}");
    }
}
