//! The manifests plugins answered, kept beside their compiled artifacts so that a start with
//! a warm cache reads no manifest from a guest: no instance is made and none of a plugin's
//! code is run (or paged in) until its first request.
//!
//! A plugin's manifest is a function of its component bytes, the config it is given and the
//! host that converts the guest's answer; the key holds all three (the component's SHA-256,
//! the config's JSON, the API version, and the identity of the running executable: its size
//! and modification time, so any rebuild of the host reads manifests afresh). Only manifests
//! the guest answered successfully are kept; an entry that is unreadable, does not parse or
//! does not round-trip is ignored (and the guest asked again).

use std::path::{Path, PathBuf};

use infrastructor_manifest as model;
use sha2::{Digest, Sha256};

use super::bindings::ApiVersion;
use super::engine::write_atomically;

/// The largest manifest entry read back (a manifest is tens of kilobytes).
const MAX_ENTRY_BYTES: u64 = 16 * 1024 * 1024;

/// Where a plugin's manifest is kept: `<cache_dir>/<wasm sha256>-<key>.manifest.json`.
pub fn entry_path(
    cache_dir: &Path,
    wasm_sha256: &str,
    version: ApiVersion,
    config_json: &str,
) -> PathBuf {
    let mut key = Sha256::new();
    key.update(wasm_sha256.as_bytes());
    key.update([0]);
    key.update(version.to_string().as_bytes());
    key.update([0]);
    key.update(config_json.as_bytes());
    key.update([0]);
    key.update(executable_identity().as_bytes());
    let key = hex::encode(key.finalize());
    cache_dir.join(format!("{wasm_sha256}-{}.manifest.json", &key[..16]))
}

/// The running executable's size and modification time (empty when unknown: entries are
/// then still keyed by the component and config).
fn executable_identity() -> String {
    std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            format!("{}:{modified}", m.len())
        })
        .unwrap_or_default()
}

/// The manifest kept at `path`, if there is a sound one.
pub fn read(path: &Path) -> Option<model::Manifest> {
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_file() || metadata.len() > MAX_ENTRY_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(manifest) => Some(manifest),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable cached manifest");
            None
        }
    }
}

/// Keeps `manifest` at `path` (written whole or not at all) when it round-trips through
/// JSON exactly, and removes the entries of the same component under other keys. Failures
/// are logged: the cache only saves work.
pub fn write(path: &Path, wasm_sha256: &str, manifest: &model::Manifest) {
    let bytes = match serde_json::to_vec(manifest) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::debug!(error = %e, "manifest not cached: it does not serialize");
            return;
        }
    };
    if serde_json::from_slice::<model::Manifest>(&bytes)
        .ok()
        .as_ref()
        != Some(manifest)
    {
        tracing::debug!("manifest not cached: it does not round-trip through JSON");
        return;
    }
    if let Err(e) = write_atomically(path, &bytes) {
        tracing::warn!(path = %path.display(), error = %e, "cannot cache the manifest");
        return;
    }
    remove_stale(path, wasm_sha256);
}

/// Removes `<wasm sha256>-*.manifest.json` entries other than `keep`.
fn remove_stale(keep: &Path, wasm_sha256: &str) {
    let Some(dir) = keep.parent() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!("{wasm_sha256}-");
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if name.starts_with(&prefix) && name.ends_with(".manifest.json") && path != keep {
            let _ = std::fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> model::Manifest {
        model::Manifest {
            name: "demo".into(),
            version: "1.0.0".into(),
            description: "a demo".into(),
            mount: "/demo".into(),
            routes: Vec::new(),
            scripts: Vec::new(),
            parsers: vec!["p".into()],
            collectors: Vec::new(),
            capabilities: Vec::new(),
        }
    }

    #[test]
    fn keys_differ_by_component_config_and_version() {
        let dir = Path::new("/cache");
        let a = entry_path(dir, "aa", ApiVersion::V0_2, "{}");
        assert_eq!(a, entry_path(dir, "aa", ApiVersion::V0_2, "{}"));
        assert_ne!(a, entry_path(dir, "bb", ApiVersion::V0_2, "{}"));
        assert_ne!(a, entry_path(dir, "aa", ApiVersion::V0_1, "{}"));
        assert_ne!(a, entry_path(dir, "aa", ApiVersion::V0_2, r#"{"x":1}"#));
    }

    #[test]
    fn a_written_entry_reads_back_and_replaces_older_keys_of_the_component() {
        let dir = tempfile::tempdir().expect("tmp");
        let old = entry_path(dir.path(), "aa", ApiVersion::V0_2, "{}");
        let other_component = entry_path(dir.path(), "bb", ApiVersion::V0_2, "{}");
        write(&old, "aa", &manifest());
        write(&other_component, "bb", &manifest());
        let new = entry_path(dir.path(), "aa", ApiVersion::V0_2, r#"{"x":1}"#);
        write(&new, "aa", &manifest());
        assert_eq!(read(&new), Some(manifest()));
        assert!(
            !old.exists(),
            "the older key of the same component is removed"
        );
        assert!(other_component.exists(), "another component's entry stays");
        std::fs::write(&new, b"{not json").expect("corrupt");
        assert_eq!(read(&new), None, "a corrupt entry is ignored");
    }
}
