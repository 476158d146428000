//! `zpool list`: one summary per pool, from
//!
//! * `zpool list -H [-p] -o <columns>` given the columns asked for ([`parse_zpool_list`]);
//!   the plain `zpool list` table (and zfs-fuse's, which has no `-p`) when its `NAME …`
//!   header is there;
//! * `zpool list -j` (OpenZFS ≥ 2.3, [`parse_zpool_list_json`]).
//!
//! zfs-fuse's `zpool list -o` knows `name,size,allocated,free,capacity,dedupratio,health,
//! altroot,guid` (and the short `alloc`, `cap`, `dedup`) but no `fragmentation`.

use std::collections::BTreeMap;

use infrastructor_sdk::text::ParseError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{fields, is_header, json_error};
use super::size::{parse_ratio, parse_size, parse_whole_percent};

const CMD: &str = "zpool list";

/// Section words `zpool list -v` prints at the left margin between the vdev rows.
const SECTIONS: [&str; 7] = [
    "log", "logs", "cache", "spare", "spares", "special", "dedup",
];

/// One pool as `zpool list` shows it. Sizes are exact with `-p` (and in JSON with
/// `--json-int`), rounded from zfs' human units otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PoolSummary {
    /// The pool's name.
    pub name: String,
    /// Total size in bytes; `None` when zpool prints `-` (an unavailable pool).
    pub size: Option<u64>,
    /// Allocated bytes.
    pub allocated: Option<u64>,
    /// Free bytes.
    pub free: Option<u64>,
    /// How full the pool is (`capacity`), in percent.
    pub capacity_percent: Option<u32>,
    /// Free-space fragmentation in percent; `None` when not asked for, `-`, or zfs-fuse.
    pub fragmentation_percent: Option<u32>,
    /// The dedup ratio (`1.00x` → 1.0); `None` when not asked for or `-`.
    pub dedup_ratio: Option<f64>,
    /// `ONLINE`, `DEGRADED`, `FAULTED`, `OFFLINE`, `REMOVED`, `UNAVAIL`, `SUSPENDED`; empty
    /// when not asked for.
    pub health: String,
    /// The alternate root; `None` for `-`.
    pub altroot: Option<String>,
}

impl PoolSummary {
    /// A summary of `name` with nothing else known.
    fn named(name: &str) -> Self {
        PoolSummary {
            name: name.to_string(),
            size: None,
            allocated: None,
            free: None,
            capacity_percent: None,
            fragmentation_percent: None,
            dedup_ratio: None,
            health: String::new(),
            altroot: None,
        }
    }

    /// Sets the property `column` (zpool's long or short name) from its printed `value`;
    /// other columns are ignored.
    fn set(&mut self, column: &str, value: &str) {
        match column.to_ascii_lowercase().as_str() {
            "size" => self.size = parse_size(value),
            "allocated" | "alloc" => self.allocated = parse_size(value),
            "free" => self.free = parse_size(value),
            "capacity" | "cap" => self.capacity_percent = parse_whole_percent(value),
            "fragmentation" | "frag" => self.fragmentation_percent = parse_whole_percent(value),
            "dedupratio" | "dedup" => self.dedup_ratio = parse_ratio(value),
            "health" => self.health = value.to_string(),
            "altroot" => {
                self.altroot = Some(value.to_string()).filter(|v| !v.is_empty() && v != "-")
            }
            _ => {}
        }
    }
}

/// Parses `zpool list -H [-p] -o <columns>` given the columns asked for (`name,size,…` split
/// on `,`; long or short names), or any `zpool list` table that starts with its `NAME …`
/// header (then `columns` is ignored). The vdev rows of `-v` (indented) and its `log`/`cache`
/// section rows are skipped. A `name` column is required; a row with another field count than
/// the columns is an error naming its line. `no pools available` is an empty success.
pub fn parse_zpool_list(text: &str, columns: &[&str]) -> Result<Vec<PoolSummary>, ParseError> {
    let mut columns: Vec<String> = columns
        .iter()
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let mut pools = Vec::new();
    let mut first = true;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() || line.trim() == "no pools available" {
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
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let row = fields(line);
        if row.first().is_some_and(|f| SECTIONS.contains(f)) {
            continue;
        }
        let Some(name_at) = columns.iter().position(|c| c == "name") else {
            return Err(ParseError::new(CMD, "no \"name\" column"));
        };
        if row.len() != columns.len() {
            return Err(ParseError::at(
                CMD,
                n,
                format!("{} fields for {} columns", row.len(), columns.len()),
            ));
        }
        let name = row[name_at];
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ParseError::at(CMD, n, format!("bad pool name {name:?}")));
        }
        let mut pool = PoolSummary::named(name);
        for (column, value) in columns.iter().zip(&row) {
            pool.set(column, value);
        }
        pools.push(pool);
    }
    Ok(pools)
}

/// The `pools` of `zpool list -j` / `zpool get -j`.
#[derive(Deserialize)]
struct JsonPools {
    #[serde(default)]
    pools: BTreeMap<String, JsonPool>,
}

/// One pool of the JSON outputs.
#[derive(Deserialize)]
struct JsonPool {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    properties: BTreeMap<String, JsonProperty>,
}

/// One property of the JSON outputs: its value (a string, or a number with `--json-int`).
#[derive(Deserialize)]
struct JsonProperty {
    value: Value,
}

/// A JSON property value as zpool's text would print it.
pub(crate) fn json_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

/// Parses `zpool list -j [--json-int]` (OpenZFS ≥ 2.3): one summary per pool, in name order.
/// `health` falls back to the pool's `state` when the `health` property is missing.
pub fn parse_zpool_list_json(text: &str) -> Result<Vec<PoolSummary>, ParseError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let doc: JsonPools = serde_json::from_str(text).map_err(|e| json_error(CMD, &e))?;
    let mut out = Vec::new();
    for (key, pool) in doc.pools {
        let mut summary = PoolSummary::named(pool.name.as_deref().unwrap_or(&key));
        for (prop, p) in &pool.properties {
            summary.set(prop, &json_text(&p.value));
        }
        if summary.health.is_empty() {
            summary.health = pool.state.unwrap_or_default();
        }
        out.push(summary);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::testing::fixture;

    const ORIGINAL: [&str; 7] = [
        "name",
        "size",
        "allocated",
        "free",
        "capacity",
        "health",
        "altroot",
    ];
    const TELEGRAF: [&str; 8] = [
        "name",
        "health",
        "size",
        "alloc",
        "free",
        "fragmentation",
        "capacity",
        "dedupratio",
    ];

    #[test]
    fn zfs_fuse_h_o() {
        let pools =
            parse_zpool_list(&fixture("zfs/zfs-fuse_zpool-list-H-o.txt"), &ORIGINAL).expect("ok");
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[0].name, "zfsfix_demo");
        assert_eq!(pools[0].size, Some(250 * 1024 * 1024));
        assert_eq!(pools[0].allocated, Some(30_094_131));
        assert_eq!(pools[0].capacity_percent, Some(11));
        assert_eq!(pools[0].health, "ONLINE");
        assert_eq!(pools[0].altroot, None);
        assert_eq!(pools[0].fragmentation_percent, None);
        assert_eq!(pools[1].allocated, Some(544 * 1024));

        let cols = [
            "name",
            "size",
            "allocated",
            "free",
            "capacity",
            "dedupratio",
            "health",
            "altroot",
        ];
        let pools = parse_zpool_list(
            &fixture("zfs/zfs-fuse_zpool-list-H-o-dedupratio.txt"),
            &cols,
        )
        .expect("ok");
        assert_eq!(pools[1].dedup_ratio, Some(1.0));
        let pools = parse_zpool_list(
            &fixture("zfs/zfs-fuse_zpool-list-H-o_degraded.txt"),
            &ORIGINAL,
        )
        .expect("ok");
        assert_eq!(pools.len(), 3);
        assert_eq!(pools[1].health, "DEGRADED");
        assert_eq!(pools[0].size, parse_size("1.98G"));
    }

    #[test]
    fn tables_with_header() {
        let pools = parse_zpool_list(&fixture("zfs/zfs-fuse_zpool-list.txt"), &[]).expect("ok");
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[0].dedup_ratio, Some(1.0));
        assert_eq!(pools[1].free, Some(122 * 1024 * 1024));
        let pools =
            parse_zpool_list(&fixture("zfs/zfs-fuse_zpool-list_io-failure.txt"), &[]).expect("ok");
        assert_eq!(pools.len(), 3);
        assert_eq!(pools[0].capacity_percent, Some(59));
        let pools = parse_zpool_list(&fixture("zfs/zpool-list_linux.txt"), &[]).expect("ok");
        assert_eq!(pools[0].fragmentation_percent, Some(0));
        assert_eq!(pools[0].size, Some(111 * 1024 * 1024 * 1024));
        let pools = parse_zpool_list(&fixture("zfs/zpool-list-p_faulted.txt"), &[]).expect("ok");
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[0].size, Some(21_367_462_298));
        assert_eq!(pools[0].fragmentation_percent, Some(33));
        assert_eq!(pools[0].capacity_percent, Some(42));
        assert_eq!(pools[1].health, "FAULTED");
        assert_eq!(pools[1].size, None);
        let pools = parse_zpool_list(&fixture("zfs/zpool-list_openzfs-man.txt"), &[]).expect("ok");
        assert!(pools.iter().any(|p| p.health == "FAULTED"));
        for f in [
            "zpool-list-p-v_logs-cache-unavail.txt",
            "zpool-list-p-v_nvme-mirror.txt",
            "zpool-list-v_openzfs-man.txt",
        ] {
            let pools = parse_zpool_list(&fixture(&format!("zfs/{f}")), &[]).expect(f);
            assert!(!pools.is_empty(), "{f}");
            assert!(pools.iter().all(|p| !p.health.is_empty()), "{f}");
        }
    }

    #[test]
    fn h_p() {
        let pools =
            parse_zpool_list(&fixture("zfs/zpool-list-Hp_freebsd14.txt"), &TELEGRAF).expect("ok");
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0].size, Some(67_108_864_000));
        assert_eq!(pools[0].allocated, Some(11_959_578_624));
        assert_eq!(pools[0].fragmentation_percent, Some(4));
        assert_eq!(pools[0].capacity_percent, Some(17));
        assert_eq!(pools[0].dedup_ratio, Some(1.0));
        let pools =
            parse_zpool_list(&fixture("zfs/zpool-list-Hp_freenas.txt"), &TELEGRAF).expect("ok");
        assert_eq!(pools.len(), 4);
        assert_eq!(pools[0].fragmentation_percent, None);
        assert_eq!(pools[1].fragmentation_percent, Some(8));
        assert_eq!(pools[1].dedup_ratio, Some(1.83));
        let pools =
            parse_zpool_list(&fixture("zfs/zpool-list-Hp_unavail.txt"), &TELEGRAF).expect("ok");
        assert_eq!(pools[0].health, "UNAVAIL");
        assert_eq!(pools[0].size, None);
        let cols = [
            "name", "size", "alloc", "free", "expandsz", "frag", "cap", "dedup", "health",
            "altroot",
        ];
        let pools = parse_zpool_list(&fixture("zfs/zpool-list-HPLv_log-cache_proxmox.txt"), &cols)
            .expect("ok");
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0].name, "testpool");
        assert_eq!(pools[0].capacity_percent, Some(28));
    }

    #[test]
    fn errors_and_empty() {
        assert_eq!(parse_zpool_list("", &ORIGINAL), Ok(vec![]));
        assert_eq!(
            parse_zpool_list("no pools available\n", &ORIGINAL),
            Ok(vec![])
        );
        let err = parse_zpool_list("tank\t1G\n", &ORIGINAL).expect_err("short");
        assert_eq!(err.line, Some(1));
        assert!(parse_zpool_list("tank\t1G\n", &["size", "free"]).is_err());
        assert!(
            parse_zpool_list(&fixture("zfs/zfs-fuse_zpool-list-p_error.txt"), &ORIGINAL).is_err()
        );
    }

    #[test]
    fn json() {
        let pools =
            parse_zpool_list_json(&fixture("zfs/zpool-list-j_openzfs-man.json")).expect("ok");
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0].name, "tank");
        assert_eq!(pools[0].capacity_percent, Some(27));
        assert_eq!(pools[0].fragmentation_percent, Some(0));
        assert_eq!(pools[0].allocated, parse_size("30.8G"));
        let pools = parse_zpool_list_json(&fixture("zfs/zpool-list-j_proxmox.json")).expect("ok");
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[1].name, "zpool-nvme");
        assert_eq!(pools[1].fragmentation_percent, Some(3));
        assert_eq!(pools[0].health, "ONLINE");
        assert_eq!(
            parse_zpool_list_json(
                r#"{"pools":{"t":{"state":"ONLINE","properties":{"size":{"value":1024}}}}}"#
            )
            .expect("ok")[0]
                .size,
            Some(1024)
        );
        assert!(parse_zpool_list_json("{").is_err());
        assert_eq!(parse_zpool_list_json(""), Ok(vec![]));
    }
}
