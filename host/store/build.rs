//! Embeds the workspace's `migrations/` directory into the crate.
//!
//! Lists `migrations/NNNN_name.sql`, checks the names (four-digit version, unique, lower-case
//! name) and writes `$OUT_DIR/migrations.rs`: a table of `Migration { version, name, sql }` whose
//! `sql` is an `include_str!` of the file, in version order. Any other file in the directory
//! (README, .gitkeep) is ignored; a `.sql` file with a malformed name fails the build.

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let dir = manifest_dir.join("../../migrations");
    // A directory here makes cargo rescan everything under it: a new, removed or edited file
    // reruns this script (edits are also tracked through `include_str!`).
    println!("cargo::rerun-if-changed={}", dir.display());
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("migrations directory {}: {e}", dir.display()))?;

    let mut found: Vec<(u32, String, PathBuf)> = Vec::new();
    for entry in fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".sql") || !entry.file_type()?.is_file() {
            continue;
        }
        let version = parse_name(&name).ok_or_else(|| {
            format!("migrations/{name}: expected NNNN_lower_case_name.sql (four-digit version > 0)")
        })?;
        if let Some((_, other, _)) = found.iter().find(|(v, _, _)| *v == version) {
            return Err(format!(
                "migrations/{name} and migrations/{other} share version {version}"
            )
            .into());
        }
        found.push((version, name, entry.path()));
    }
    found.sort_by_key(|(version, _, _)| *version);

    let mut out = String::from(
        "/// Migrations embedded from the workspace `migrations/` directory, in version order.\n\
         pub(crate) static EMBEDDED: &[Migration] = &[\n",
    );
    for (version, name, path) in &found {
        let path = path
            .to_str()
            .ok_or_else(|| format!("migrations/{name}: path is not UTF-8"))?;
        writeln!(
            out,
            "    Migration {{ version: {version}, name: {name:?}, sql: include_str!({path:?}) }},"
        )?;
    }
    out.push_str("];\n");
    fs::write(
        PathBuf::from(env::var("OUT_DIR")?).join("migrations.rs"),
        out,
    )?;
    Ok(())
}

/// `0001_init.sql` → `Some(1)`; anything else → `None`.
fn parse_name(name: &str) -> Option<u32> {
    let stem = name.strip_suffix(".sql")?;
    let (digits, label) = stem.split_once('_')?;
    let label_ok = !label.is_empty()
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) || !label_ok {
        return None;
    }
    digits.parse().ok().filter(|v| *v > 0)
}
