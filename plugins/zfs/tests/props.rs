//! Property tests of the zfs plugin's parsers (`zpool status/list/iostat`, `zfs
//! list/get/diff`, arcstats, sizes, times, tool detection) on random text and mangled real
//! fixtures (OpenZFS and zfs-fuse, text and `-j` JSON), and of the name checks that guard
//! every pool, dataset and snapshot name on a `zfs`/`zpool` command line.

#[path = "../../parsers/tests/support/mod.rs"]
mod support;

use crate::parse::{
    arcstats, diff, iostat, names, size, time, zfs_get, zfs_list, zpool_list, zpool_status,
};
use crate::{tools, transfer};
use proptest::prelude::*;
use support::{config, finishes, fixture_texts, inputs, json_mangled, line_count, noise};

fn zfs() -> Vec<String> {
    fixture_texts(&["zfs", "zfs/kstat"])
}

const DATASET_COLUMNS: &[&str] = &["name", "used", "available", "referenced", "mountpoint"];
const SNAPSHOT_COLUMNS: &[&str] = &["name", "used", "referenced", "creation"];
const POOL_COLUMNS: &[&str] = &["name", "size", "allocated", "free", "capacity", "health"];

proptest! {
    #![proptest_config(config(160))]

    #[test]
    fn pool_status(text in inputs(zfs())) {
        let pools = finishes(&text, |t| zpool_status::parse_zpool_status(&t));
        if let Ok(pools) = pools {
            prop_assert!(pools.len() <= line_count(&text));
            for p in &pools {
                prop_assert!(p.vdevs().len() <= line_count(&text));
            }
        }
    }

    #[test]
    fn pool_status_json(text in json_mangled(zfs())) {
        finishes(&text, |t| drop(zpool_status::parse_zpool_status_json(&t)));
    }

    #[test]
    fn lists(text in inputs(zfs())) {
        let counts = finishes(&text, |t| (
            zfs_list::parse_zfs_list(&t, DATASET_COLUMNS).map(|v| v.len()),
            zfs_list::parse_snapshot_list(&t, SNAPSHOT_COLUMNS).map(|v| v.len()),
            zpool_list::parse_zpool_list(&t, POOL_COLUMNS).map(|v| v.len()),
            iostat::parse_iostat(&t).map(|v| v.len()),
            diff::parse_diff(&t).map(|v| v.len()),
        ));
        let lines = line_count(&text);
        for n in [counts.0, counts.1, counts.2, counts.3, counts.4].into_iter().flatten() {
            prop_assert!(n <= lines);
        }
    }

    #[test]
    fn lists_json(text in json_mangled(zfs())) {
        finishes(&text, |t| {
            let _ = zfs_list::parse_zfs_list_json(&t);
            let _ = zpool_list::parse_zpool_list_json(&t);
            let _ = zfs_get::parse_properties_json(&t, "zfs get");
        });
    }

    #[test]
    fn properties(text in inputs(zfs())) {
        finishes(&text, |t| {
            let _ = zfs_get::parse_properties(&t, "zfs get");
            let _ = zfs_get::parse_properties_by_name(&t, "zfs get");
            let _ = arcstats::parse_arcstats(&t);
            let _ = tools::parse_detect(&t);
            let _ = transfer::parse_estimate(&t);
        });
    }

    #[test]
    fn values(text in prop_oneof![noise(), "[0-9.]{1,24}[KMGTPEZ]?", "[0-9]{1,3} days [0-9:]{1,9}", any::<String>()]) {
        let _ = size::parse_size(&text);
        let _ = size::parse_count(&text);
        if let Some(p) = size::parse_percent(&text) { prop_assert!(p.is_finite()); }
        let _ = size::parse_whole_percent(&text);
        if let Some(r) = size::parse_ratio(&text) { prop_assert!(r.is_finite()); }
        let _ = time::parse_duration(&text);
        let _ = time::parse_creation(&text);
        let _ = time::epoch_from_zfs_date(&text);
    }

    /// Every epoch second prints as RFC 3339 or `None` (outside years 0–9999), and a zfs
    /// date read back gives the same second.
    #[test]
    fn epochs(secs in prop_oneof![any::<i64>(), -62_167_219_200i64..253_402_300_800]) {
        if let Some(text) = time::rfc3339_from_epoch(secs) {
            prop_assert_eq!(text.len(), 20, "{}", text);
        }
    }

    /// A name that passes its check can be neither an option (`-…`) nor a path escape
    /// (`.`/`..` components) nor more than one word, and a snapshot's dataset part passes
    /// the dataset check.
    #[test]
    fn names_refused(text in prop_oneof![
        noise(),
        "[a-z]{1,6}(/[-.a-z]{0,4}){0,3}(@[-.a-z]{0,4})?",
        "-[a-z]{1,6}",
        "[a-z]{1,4}/\\.\\./[a-z]{1,4}",
    ]) {
        let plain = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '/' | '@' | '#'));
        for (ok, what) in [
            (names::validate_pool(&text).is_ok(), "pool"),
            (names::validate_dataset(&text).is_ok(), "dataset"),
            (names::validate_snapshot(&text).is_ok(), "snapshot"),
            (names::validate_snapshot_short(&text).is_ok(), "short"),
            (names::validate_bookmark(&text).is_ok(), "bookmark"),
        ] {
            if ok {
                prop_assert!(plain(&text), "{what}: {text:?}");
                prop_assert!(!text.starts_with('-'), "{what}: {text:?}");
                prop_assert!(text.len() <= names::MAX_NAME_LEN, "{what}: {text:?}");
                for part in text.split(['/', '@', '#']).skip(1) {
                    prop_assert!(part != "." && part != ".." && !part.starts_with('-'), "{what}: {text:?}");
                }
            }
        }
        if names::validate_snapshot(&text).is_ok() {
            let (dataset, short) = text.split_once('@').expect("an @");
            prop_assert!(names::validate_dataset(dataset).is_ok());
            prop_assert!(names::validate_snapshot_short(short).is_ok());
        }
    }
}
