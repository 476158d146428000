//! `zfs list`: datasets and snapshots, from
//!
//! * `zfs list -H [-p] -o <columns>` given the columns asked for ([`parse_zfs_list`],
//!   [`parse_snapshot_list`]); the plain `zfs list` table when its `NAME …` header is there;
//! * `zfs list -j` (OpenZFS ≥ 2.3, [`parse_zfs_list_json`]).
//!
//! zfs-fuse has no `-p`: its sizes are human (`25.2M`) and `creation` is a date text
//! (`Wed Dec  2  7:45 2026`), read as UTC (see [`super::time`]). It knows the columns
//! `name,used,available,referenced,mountpoint,type,compression,dedup,creation,origin,…` (and
//! the short `avail`, `refer`).

use std::collections::BTreeMap;

use infrastructor_sdk::text::ParseError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{fields, is_header, json_error};
use super::size::parse_size;
use super::time::parse_creation;
use super::zpool_list::json_text;

const CMD: &str = "zfs list";

/// One dataset (filesystem, volume, snapshot or bookmark) as `zfs list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Dataset {
    /// The full name (`tank/app/db`, `tank/app/db@daily`).
    pub name: String,
    /// `filesystem`, `volume`, `snapshot` or `bookmark` (lower case); `None` when not asked
    /// for.
    pub kind: Option<String>,
    /// `used` in bytes.
    pub used: Option<u64>,
    /// `available` in bytes (`None` for `-`, as snapshots print it).
    pub available: Option<u64>,
    /// `referenced` in bytes.
    pub referenced: Option<u64>,
    /// The mountpoint (`none` and `legacy` kept as words); `None` for `-`.
    pub mountpoint: Option<String>,
    /// The `compression` value (`off`, `on`, `lz4`…).
    pub compression: Option<String>,
    /// The `dedup` value (`off`, `on`, `verify`…).
    pub dedup: Option<String>,
    /// `creation` as RFC 3339 (UTC; see [`super::time`]).
    pub creation: Option<String>,
    /// The snapshot a clone was made from; `None` for `-`.
    pub origin: Option<String>,
    /// Every column as printed, by its (lower-case) column name.
    pub properties: BTreeMap<String, String>,
}

/// One snapshot, from `zfs list -t snapshot -H -o name,used,referenced,creation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Snapshot {
    /// The full name `dataset@snapshot`.
    pub name: String,
    /// The dataset (before `@`).
    pub dataset: String,
    /// The short name (after `@`).
    pub snapshot: String,
    /// Space used only by this snapshot, in bytes.
    pub used: Option<u64>,
    /// Space referenced, in bytes.
    pub referenced: Option<u64>,
    /// `creation` as RFC 3339 (UTC; see [`super::time`]).
    pub creation: Option<String>,
}

impl Snapshot {
    /// The snapshot a listed dataset is; `None` when its name has no `@`.
    pub fn from_dataset(d: &Dataset) -> Option<Snapshot> {
        let (dataset, snapshot) = d.name.split_once('@')?;
        Some(Snapshot {
            name: d.name.clone(),
            dataset: dataset.to_string(),
            snapshot: snapshot.to_string(),
            used: d.used,
            referenced: d.referenced,
            creation: d.creation.clone(),
        })
    }
}

/// A value, `None` for zfs' `-`.
fn text_value(value: &str) -> Option<String> {
    Some(value.to_string()).filter(|v| !v.is_empty() && v != "-")
}

impl Dataset {
    /// A dataset of `name` with nothing else known.
    fn named(name: &str) -> Self {
        Dataset {
            name: name.to_string(),
            kind: None,
            used: None,
            available: None,
            referenced: None,
            mountpoint: None,
            compression: None,
            dedup: None,
            creation: None,
            origin: None,
            properties: BTreeMap::new(),
        }
    }

    /// Sets the property `column` (long or short name) from its printed `value`.
    fn set(&mut self, column: &str, value: &str) {
        let column = column.to_ascii_lowercase();
        match column.as_str() {
            "type" => self.kind = text_value(value).map(|v| v.to_ascii_lowercase()),
            "used" => self.used = parse_size(value),
            "available" | "avail" => self.available = parse_size(value),
            "referenced" | "refer" => self.referenced = parse_size(value),
            "mountpoint" => self.mountpoint = text_value(value),
            "compression" | "compress" => self.compression = text_value(value),
            "dedup" => self.dedup = text_value(value),
            "creation" => self.creation = parse_creation(value),
            "origin" => self.origin = text_value(value),
            _ => {}
        }
        self.properties.insert(column, value.to_string());
    }
}

/// Parses `zfs list -H [-p] -o <columns>` given the columns asked for (long or short names),
/// or a `zfs list` table that starts with its `NAME …` header (then `columns` is ignored; a
/// column holding spaces, like `creation`, only works in `-H` output). A `name` column is
/// required; a row with another field count is an error naming its line. `no datasets
/// available` is an empty success.
pub fn parse_zfs_list(text: &str, columns: &[&str]) -> Result<Vec<Dataset>, ParseError> {
    let mut columns: Vec<String> = columns
        .iter()
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let mut out = Vec::new();
    let mut first = true;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed == "no datasets available" {
            continue;
        }
        if first && is_header(line) {
            columns = line
                .split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect();
            first = false;
            continue;
        }
        first = false;
        let Some(name_at) = columns.iter().position(|c| c == "name") else {
            return Err(ParseError::new(CMD, "no \"name\" column"));
        };
        let row = fields(line);
        if row.len() != columns.len() {
            return Err(ParseError::at(
                CMD,
                n,
                format!("{} fields for {} columns", row.len(), columns.len()),
            ));
        }
        let name = row[name_at];
        if name.is_empty() || name.starts_with('-') {
            return Err(ParseError::at(CMD, n, format!("bad dataset name {name:?}")));
        }
        let mut d = Dataset::named(name);
        for (column, value) in columns.iter().zip(&row) {
            d.set(column, value);
        }
        out.push(d);
    }
    Ok(out)
}

/// Parses `zfs list -t snapshot -H [-p] -o <columns>` (the original's
/// `name,used,referenced,creation`) into snapshots; a row whose name has no `@` is an error
/// naming its line.
pub fn parse_snapshot_list(text: &str, columns: &[&str]) -> Result<Vec<Snapshot>, ParseError> {
    let datasets = parse_zfs_list(text, columns)?;
    datasets
        .iter()
        .map(|d| {
            Snapshot::from_dataset(d).ok_or_else(|| {
                ParseError::new(CMD, format!("{:?} is not a snapshot (no '@')", d.name))
            })
        })
        .collect()
}

/// The `datasets` of `zfs list -j` / `zfs get -j`.
#[derive(Deserialize)]
pub(crate) struct JsonDatasets {
    #[serde(default)]
    pub(crate) datasets: BTreeMap<String, JsonDataset>,
}

/// One dataset of the JSON outputs.
#[derive(Deserialize)]
pub(crate) struct JsonDataset {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) properties: BTreeMap<String, JsonProp>,
}

/// One property of the JSON outputs.
#[derive(Deserialize)]
pub(crate) struct JsonProp {
    pub(crate) value: Value,
    #[serde(default)]
    pub(crate) source: Option<JsonSource>,
}

/// Where a JSON property's value comes from: `{"type": "INHERITED", "data": "pool"}`.
#[derive(Deserialize)]
pub(crate) struct JsonSource {
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) data: Option<String>,
}

/// Parses `zfs list -j [--json-int]` (OpenZFS ≥ 2.3): one dataset per entry, in name order
/// (JSON objects have no order); `kind` from the entry's `type` (`FILESYSTEM` →
/// `filesystem`). Snapshots are datasets here too (see [`Snapshot::from_dataset`]).
pub fn parse_zfs_list_json(text: &str) -> Result<Vec<Dataset>, ParseError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let doc: JsonDatasets = serde_json::from_str(text).map_err(|e| json_error(CMD, &e))?;
    let mut out = Vec::new();
    for (key, ds) in doc.datasets {
        let mut d = Dataset::named(ds.name.as_deref().unwrap_or(&key));
        for (prop, p) in &ds.properties {
            d.set(prop, &json_text(&p.value));
        }
        if d.kind.is_none() {
            d.kind = ds.kind.map(|k| k.to_ascii_lowercase());
        }
        out.push(d);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::testing::fixture;

    const ORIGINAL: [&str; 8] = [
        "name",
        "used",
        "available",
        "referenced",
        "mountpoint",
        "type",
        "compression",
        "dedup",
    ];
    const SNAPS: [&str; 4] = ["name", "used", "referenced", "creation"];

    #[test]
    fn zfs_fuse_datasets() {
        let ds = parse_zfs_list(&fixture("zfs/zfs-fuse_zfs-list-H-o.txt"), &ORIGINAL).expect("ok");
        assert_eq!(ds.len(), 6);
        assert_eq!(ds[2].name, "zfsfix_demo/app/db");
        assert_eq!(ds[2].used, parse_size("25.2M"));
        assert_eq!(ds[2].available, Some(190 * 1024 * 1024));
        assert_eq!(ds[2].mountpoint.as_deref(), Some("/tmp/zfsfix-mnt/app/db"));
        assert_eq!(ds[2].kind.as_deref(), Some("filesystem"));
        assert_eq!(ds[4].compression.as_deref(), Some("on"));
        assert_eq!(ds[4].dedup.as_deref(), Some("off"));
        assert_eq!(ds[3].used, Some(0));

        let cols = [
            "name",
            "used",
            "avail",
            "refer",
            "mountpoint",
            "type",
            "compression",
            "dedup",
            "creation",
            "usedbysnapshots",
            "compressratio",
            "origin",
        ];
        let ds = parse_zfs_list(&fixture("zfs/zfs-fuse_zfs-list-H-o-more.txt"), &cols).expect("ok");
        assert_eq!(ds.len(), 6);
        assert_eq!(ds[0].creation.as_deref(), Some("2026-12-02T07:45:00Z"));
        assert_eq!(ds[3].origin.as_deref(), Some("zfsfix_demo/app/db@before"));
        assert_eq!(ds[0].origin, None);
        assert_eq!(ds[4].properties["compressratio"], "27.87x");
        assert_eq!(ds[0].available, Some(190 * 1024 * 1024));

        let ds = parse_zfs_list(&fixture("zfs/zfs-fuse_zfs-list-t-all.txt"), &[]).expect("ok");
        assert_eq!(ds.len(), 12);
        assert_eq!(ds.iter().filter(|d| d.name.contains('@')).count(), 6);
        assert_eq!(ds[1].available, None);
        assert_eq!(ds[1].mountpoint, None);
    }

    #[test]
    fn zfs_fuse_snapshots() {
        let snaps =
            parse_snapshot_list(&fixture("zfs/zfs-fuse_zfs-list-t-snapshot-H-o.txt"), &SNAPS)
                .expect("ok");
        assert_eq!(snaps.len(), 6);
        assert_eq!(snaps[0].name, "zfsfix_demo@daily-1");
        assert_eq!(snaps[0].used, Some(88 * 1024));
        assert_eq!(snaps[2].dataset, "zfsfix_demo/app/db");
        assert_eq!(snaps[2].snapshot, "before");
        assert_eq!(snaps[2].referenced, parse_size("20.1M"));
        assert!(
            snaps
                .iter()
                .all(|s| s.creation.as_deref() == Some("2026-12-02T07:45:00Z"))
        );
        assert!(parse_snapshot_list("tank\t0\t1K\t0\n", &SNAPS).is_err());
    }

    #[test]
    fn openzfs() {
        let cols = ["name", "avail", "used", "usedsnap", "usedds"];
        let ds = parse_zfs_list(&fixture("zfs/zfs-list-Hp_datasets.txt"), &cols).expect("ok");
        assert_eq!(ds.len(), 4);
        assert_eq!(ds[3].name, "zata/storage");
        assert_eq!(ds[3].used, Some(8_556_084_379_648));
        assert_eq!(ds[0].available, Some(10_741_741_326_336));
        assert_eq!(ds[3].properties["usedsnap"], "3601138999296");
        let ds = parse_zfs_list(&fixture("zfs/zfs-list-Hp_freebsd14.txt"), &cols).expect("ok");
        assert!(!ds.is_empty());
        assert!(ds.iter().all(|d| d.used.is_some()));
        let ds = parse_zfs_list(&fixture("zfs/zfs-list_openzfs-man.txt"), &[]).expect("ok");
        assert_eq!(ds[0].name, "pool");
        assert_eq!(ds[0].used, Some(450 * 1024));
        assert_eq!(ds[1].mountpoint.as_deref(), Some("/export/home"));
        let ds = parse_zfs_list("tank\t1764661500\n", &["name", "creation"]).expect("ok");
        assert_eq!(ds[0].creation.as_deref(), Some("2025-12-02T07:45:00Z"));
    }

    #[test]
    fn json() {
        let ds = parse_zfs_list_json(&fixture("zfs/zfs-list-j_openzfs-man.json")).expect("ok");
        assert!(ds.len() >= 4);
        let bob = ds.iter().find(|d| d.name == "pool/home/bob").expect("bob");
        assert_eq!(bob.kind.as_deref(), Some("filesystem"));
        let home = ds.iter().find(|d| d.name == "pool/home").expect("home");
        assert_eq!(home.used, Some(48 * 1024));
        assert_eq!(home.mountpoint.as_deref(), Some("/mnt/home"));
        let snap = ds
            .iter()
            .find(|d| d.name == "pool/home/bob@v1")
            .expect("snap");
        assert_eq!(snap.kind.as_deref(), Some("snapshot"));
        assert_eq!(snap.used, Some(0));
        let s = Snapshot::from_dataset(snap).expect("a snapshot");
        assert_eq!(
            (s.dataset.as_str(), s.snapshot.as_str()),
            ("pool/home/bob", "v1")
        );
        assert!(parse_zfs_list_json("[").is_err());
        assert_eq!(parse_zfs_list_json(" "), Ok(vec![]));
    }

    #[test]
    fn errors() {
        assert_eq!(parse_zfs_list("", &ORIGINAL), Ok(vec![]));
        assert_eq!(
            parse_zfs_list("no datasets available\n", &ORIGINAL),
            Ok(vec![])
        );
        assert_eq!(
            parse_zfs_list("a\tb\n", &ORIGINAL).expect_err("short").line,
            Some(1)
        );
        assert!(parse_zfs_list(&fixture("zfs/zfs-fuse_zfs-list-p_error.txt"), &ORIGINAL).is_err());
        assert!(parse_zfs_list("tank\n", &["used"]).is_err());
    }
}
