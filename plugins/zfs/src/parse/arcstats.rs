//! `/proc/spl/kstat/zfs/arcstats`, and every kstat file in the same `name type data` form
//! (`zfetchstats`, `dmu_tx`, `objset-…`): the values by name, and the ARC figures the API
//! reports.
//!
//! The file starts with two header lines (the kstat's ids and `name type data`), which are
//! skipped, not read as values. zfs-fuse has no kstats.

use std::collections::BTreeMap;

use infrastructor_sdk::text::ParseError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

const CMD: &str = "arcstats";

/// The values of a kstat file, and the ARC figures read from them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ArcStats {
    /// Every unsigned value by name (`hits`, `size`, `c_max`…).
    pub values: BTreeMap<String, u64>,
    /// The values that are not unsigned integers (negative counters, strings such as an
    /// objset's `dataset_name`), as printed.
    pub other: BTreeMap<String, String>,
    /// ARC hits.
    pub hits: Option<u64>,
    /// ARC misses.
    pub misses: Option<u64>,
    /// hits / (hits + misses) in percent, rounded to 2 decimals; `None` without both or when
    /// both are 0.
    pub hit_ratio_percent: Option<f64>,
    /// The ARC's current size in bytes (`size`).
    pub size: Option<u64>,
    /// The ARC's maximum size in bytes (`c_max`).
    pub c_max: Option<u64>,
}

/// Whether a line is the kstat's first header line (`6 1 0x01 91 4368 5266997922 …`).
fn is_id_line(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.len() >= 5
        && words.iter().all(|w| {
            let w = w.strip_prefix("0x").unwrap_or(w);
            !w.is_empty() && w.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

/// Parses a `name type data` kstat file such as `/proc/spl/kstat/zfs/arcstats`. Empty text
/// is an empty success; a line that is not `name type data` (after the headers) is an error
/// naming it.
pub fn parse_arcstats(text: &str) -> Result<ArcStats, ParseError> {
    let mut stats = ArcStats::default();
    let mut seen_row = false;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if !seen_row && (is_id_line(line) || line.split_whitespace().eq(["name", "type", "data"])) {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [name, kind, data] = words.as_slice() else {
            return Err(ParseError::at(CMD, n, "expected name, type and data"));
        };
        if !kind.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::at(CMD, n, format!("bad type {kind:?}")));
        }
        seen_row = true;
        match data.parse::<u64>() {
            Ok(v) => {
                stats.values.insert((*name).to_string(), v);
            }
            Err(_) => {
                stats.other.insert((*name).to_string(), (*data).to_string());
            }
        }
    }
    stats.hits = stats.values.get("hits").copied();
    stats.misses = stats.values.get("misses").copied();
    stats.size = stats.values.get("size").copied();
    stats.c_max = stats.values.get("c_max").copied();
    stats.hit_ratio_percent = match (stats.hits, stats.misses) {
        (Some(h), Some(m)) if h.saturating_add(m) > 0 => {
            let ratio = h as f64 / (h as f64 + m as f64) * 100.0;
            Some((ratio * 100.0).round() / 100.0)
        }
        _ => None,
    };
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::testing::{fixture, fixture_dir};

    #[test]
    fn arcstats() {
        let s = parse_arcstats(&fixture("zfs/kstat/arcstats")).expect("ok");
        assert_eq!(s.hits, Some(8_772_612));
        assert_eq!(s.misses, Some(604_635));
        assert_eq!(s.hit_ratio_percent, Some(93.55));
        assert_eq!(s.size, Some(1_603_939_792));
        assert_eq!(s.c_max, Some(8_367_976_448));
        assert_eq!(s.values.len(), 91);
        assert!(!s.values.contains_key("name"));
        assert!(!s.values.contains_key("6"));
        let s = parse_arcstats(&fixture("zfs/kstat/arcstats_openzfs-2.3")).expect("ok");
        assert_eq!(s.hits, Some(33_266_704_081));
        assert_eq!(s.hit_ratio_percent, Some(99.91));
        assert_eq!(s.c_max, Some(32_458_756_096));
        assert_eq!(s.values.len() + s.other.len(), 147);
    }

    #[test]
    fn other_kstats() {
        for f in fixture_dir("zfs/kstat") {
            let text = fixture(&format!("zfs/kstat/{f}"));
            let parsed = parse_arcstats(&text);
            if f.ends_with("_state") || f.ends_with("_io") || f.ends_with("_txgs") {
                assert!(parsed.is_err(), "{f}");
            } else {
                let s = parsed.unwrap_or_else(|e| panic!("{f}: {e}"));
                assert!(!s.values.is_empty(), "{f}");
            }
        }
        let s = parse_arcstats(&fixture("zfs/kstat/pool1_objset-1")).expect("ok");
        assert_eq!(s.other["dataset_name"], "pool1");
        let s = parse_arcstats(&fixture("zfs/kstat/zfetchstats")).expect("ok");
        assert_eq!(s.hits, Some(7_067_992));
        assert_eq!(s.misses, Some(11));
    }

    #[test]
    fn empty_and_bad() {
        assert_eq!(parse_arcstats(""), Ok(ArcStats::default()));
        let s = parse_arcstats("hits 4 0\nmisses 4 0\n").expect("ok");
        assert_eq!(s.hit_ratio_percent, None);
        assert_eq!(parse_arcstats("a 4 1\nb\n").expect_err("bad").line, Some(2));
        assert!(parse_arcstats("a x 1\n").is_err());
    }
}
