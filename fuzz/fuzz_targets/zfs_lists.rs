//! `zfs list`, `zpool list`, `zpool iostat`, `zfs diff`, `zfs get` (text and `-j`),
//! arcstats, sizes, times and the tool detection.
#![no_main]
use infrastructor_plugin_zfs::parse::{
    arcstats, diff, iostat, size, time, zfs_get, zfs_list, zpool_list,
};
use infrastructor_plugin_zfs::{tools, transfer};
use libfuzzer_sys::fuzz_target;

const DATASET_COLUMNS: &[&str] = &["name", "used", "available", "referenced", "mountpoint"];
const SNAPSHOT_COLUMNS: &[&str] = &["name", "used", "referenced", "creation"];
const POOL_COLUMNS: &[&str] = &["name", "size", "allocated", "free", "capacity", "health"];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = zfs_list::parse_zfs_list(&text, DATASET_COLUMNS);
    let _ = zfs_list::parse_snapshot_list(&text, SNAPSHOT_COLUMNS);
    let _ = zfs_list::parse_zfs_list_json(&text);
    let _ = zpool_list::parse_zpool_list(&text, POOL_COLUMNS);
    let _ = zpool_list::parse_zpool_list_json(&text);
    let _ = iostat::parse_iostat(&text);
    let _ = diff::parse_diff(&text);
    let _ = zfs_get::parse_properties(&text, "zfs get");
    let _ = zfs_get::parse_properties_by_name(&text, "zfs get");
    let _ = zfs_get::parse_properties_json(&text, "zfs get");
    let _ = arcstats::parse_arcstats(&text);
    let _ = tools::parse_detect(&text);
    let _ = transfer::parse_estimate(&text);
    for line in text.lines().take(16) {
        let _ = size::parse_size(line);
        let _ = size::parse_count(line);
        let _ = size::parse_percent(line);
        let _ = size::parse_whole_percent(line);
        let _ = size::parse_ratio(line);
        let _ = time::parse_duration(line);
        let _ = time::parse_creation(line);
        if let Some(secs) = time::epoch_from_zfs_date(line) {
            let _ = time::rfc3339_from_epoch(secs);
        }
    }
});
