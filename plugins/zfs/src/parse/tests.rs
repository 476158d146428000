//! Every parser on every zfs fixture, whole and mangled: errors are fine, panics are not.

use infrastructor_sdk::testing::{fixture, fixture_dir, mangled_variants, root};

use super::*;

/// The text of every file under `tests/fixtures/zfs` (and `zfs/kstat`).
fn all_texts() -> Vec<String> {
    let mut texts = Vec::new();
    for dir in ["zfs", "zfs/kstat"] {
        for f in fixture_dir(dir) {
            if std::path::Path::new(&format!("{}/{dir}/{f}", root())).is_file() {
                texts.push(fixture(&format!("{dir}/{f}")));
            }
        }
    }
    texts
}

#[test]
fn no_parser_panics_on_mangled_input() {
    let texts = all_texts();
    assert!(texts.len() >= 110, "{}", texts.len());
    let parsers: &[fn(&str)] = &[
        |t| drop(names::validate_pool(t)),
        |t| drop(names::validate_dataset(t)),
        |t| drop(names::validate_snapshot(t)),
        |t| drop(names::validate_snapshot_short(t)),
        |t| drop(names::validate_bookmark(t)),
        |t| {
            let _ = size::parse_size(t);
        },
        |t| {
            let _ = size::parse_percent(t);
        },
        |t| {
            let _ = size::parse_whole_percent(t);
        },
        |t| {
            let _ = size::parse_ratio(t);
        },
        |t| drop(time::parse_creation(t)),
        |t| {
            let _ = time::parse_duration(t);
        },
        |t| {
            let _ = time::epoch_from_zfs_date(t);
        },
        |t| {
            drop(zpool_list::parse_zpool_list(
                t,
                &[
                    "name",
                    "size",
                    "allocated",
                    "free",
                    "capacity",
                    "health",
                    "altroot",
                ],
            ))
        },
        |t| drop(zpool_list::parse_zpool_list(t, &[])),
        |t| drop(zpool_list::parse_zpool_list_json(t)),
        |t| {
            drop(zfs_list::parse_zfs_list(
                t,
                &[
                    "name",
                    "used",
                    "available",
                    "referenced",
                    "mountpoint",
                    "type",
                    "compression",
                    "dedup",
                ],
            ))
        },
        |t| drop(zfs_list::parse_zfs_list(t, &[])),
        |t| {
            drop(zfs_list::parse_snapshot_list(
                t,
                &["name", "used", "referenced", "creation"],
            ))
        },
        |t| drop(zfs_list::parse_zfs_list_json(t)),
        |t| drop(zfs_get::parse_properties(t, "zfs get")),
        |t| drop(zfs_get::parse_properties_by_name(t, "zfs get")),
        |t| drop(zfs_get::parse_properties_json(t, "zfs get")),
        |t| drop(zpool_status::parse_zpool_status(t)),
        |t| drop(zpool_status::parse_zpool_status_json(t)),
        |t| drop(arcstats::parse_arcstats(t)),
        |t| drop(iostat::parse_iostat(t)),
        |t| drop(diff::parse_diff(t)),
    ];
    for text in &texts {
        let mut variants = mangled_variants(text, 8);
        variants.push(text.clone());
        variants.push(text.replace('\t', " "));
        variants.push(text.replace("  ", "\t"));
        variants.push(text.replace('0', "99999999999999999999"));
        variants.push(text.replace(' ', "\t"));
        variants.push(text.replace("\n\t", "\n"));
        variants.push(text.replace("  ", " "));
        variants.push(text.replace('"', ""));
        variants.push(text.replace('%', ""));
        variants.push(text.replace('/', ""));
        for v in &variants {
            for p in parsers {
                p(v);
                for line in v.lines().take(40) {
                    p(line);
                }
            }
        }
    }
}

/// Each fixture is read by the parser its command calls for, without an error (the
/// `*_error.txt` captures of refused zfs-fuse commands excepted), so that no fixture is left
/// untested; the values are asserted in each module's tests.
#[test]
fn every_fixture_has_a_parser() {
    let orig_pools = [
        "name",
        "size",
        "allocated",
        "free",
        "capacity",
        "health",
        "altroot",
    ];
    let telegraf = [
        "name",
        "health",
        "size",
        "alloc",
        "free",
        "fragmentation",
        "capacity",
        "dedupratio",
    ];
    for f in fixture_dir("zfs") {
        let path = format!("zfs/{f}");
        if !std::path::Path::new(&format!("{}/{path}", root())).is_file() {
            continue;
        }
        let text = fixture(&path);
        let ok = if f.ends_with("_error.txt") {
            true
        } else if f.starts_with("zpool-status") || f.starts_with("zfs-fuse_zpool-status") {
            if f.contains("-j") {
                zpool_status::parse_zpool_status_json(&text).is_ok_and(|p| !p.is_empty())
            } else if f.contains("status-c_and_iostat") {
                zpool_status::parse_zpool_status(&text).is_err()
            } else {
                zpool_status::parse_zpool_status(&text).is_ok_and(|p| !p.is_empty())
            }
        } else if f.contains("zpool-list-j") {
            zpool_list::parse_zpool_list_json(&text).is_ok_and(|p| !p.is_empty())
        } else if f.contains("zpool-list-Hp") {
            zpool_list::parse_zpool_list(&text, &telegraf).is_ok_and(|p| !p.is_empty())
        } else if f.contains("zpool-list-HPLv") {
            let cols = [
                "name", "size", "alloc", "free", "expandsz", "frag", "cap", "dedup", "health",
                "altroot",
            ];
            zpool_list::parse_zpool_list(&text, &cols).is_ok_and(|p| !p.is_empty())
        } else if f.contains("zpool-list-H-o") {
            let cols: &[&str] = if f.contains("dedupratio") {
                &[
                    "name",
                    "size",
                    "allocated",
                    "free",
                    "capacity",
                    "dedupratio",
                    "health",
                    "altroot",
                ]
            } else {
                &orig_pools
            };
            zpool_list::parse_zpool_list(&text, cols).is_ok_and(|p| !p.is_empty())
        } else if f.contains("zpool-list") {
            zpool_list::parse_zpool_list(&text, &[]).is_ok_and(|p| !p.is_empty())
        } else if f.contains("zfs-list-j") {
            zfs_list::parse_zfs_list_json(&text).is_ok_and(|p| !p.is_empty())
        } else if f.contains("zfs-list-Hp") {
            zfs_list::parse_zfs_list(&text, &["name", "avail", "used", "usedsnap", "usedds"])
                .is_ok_and(|p| !p.is_empty())
        } else if f.contains("zfs-list-t-snapshot") {
            zfs_list::parse_snapshot_list(&text, &["name", "used", "referenced", "creation"])
                .is_ok_and(|p| !p.is_empty())
        } else if f.contains("zfs-list-H-o-more") {
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
            zfs_list::parse_zfs_list(&text, &cols).is_ok_and(|p| !p.is_empty())
        } else if f.contains("zfs-list-H-o") {
            let cols = [
                "name",
                "used",
                "available",
                "referenced",
                "mountpoint",
                "type",
                "compression",
                "dedup",
            ];
            zfs_list::parse_zfs_list(&text, &cols).is_ok_and(|p| !p.is_empty())
        } else if f.contains("zfs-list") {
            zfs_list::parse_zfs_list(&text, &[]).is_ok_and(|p| !p.is_empty())
        } else if f.contains("get-j") {
            zfs_get::parse_properties_json(&text, "zfs get").is_ok_and(|p| !p.is_empty())
        } else if f.contains("get-H-o") && !f.contains("name") {
            zfs_get::parse_properties(&text, "zfs get").is_ok_and(|p| !p.is_empty())
        } else if f.contains("-get-") {
            zfs_get::parse_properties_by_name(&text, "zfs get").is_ok_and(|p| !p.is_empty())
        } else if f.contains("iostat") {
            iostat::parse_iostat(&text).is_ok_and(|p| !p.is_empty())
        } else if f.contains("zfs-diff") {
            diff::parse_diff(&text).is_ok_and(|p| !p.is_empty())
        } else if f.starts_with("zdb") {
            // `zdb -S` is not parsed (no route reads it).
            true
        } else {
            panic!("no parser for fixture {f}");
        };
        assert!(ok, "{f}");
    }
}
