//! The `zpool status` parsers on every status fixture.

use super::*;
use infrastructor_sdk::testing::fixture;

fn status(name: &str) -> Vec<PoolStatus> {
    parse_zpool_status(&fixture(&format!("zfs/{name}"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn one(name: &str) -> PoolStatus {
    let mut pools = status(name);
    assert_eq!(pools.len(), 1, "{name}");
    pools.remove(0)
}

fn find<'a>(p: &'a PoolStatus, name: &str) -> &'a Vdev {
    p.vdevs()
        .into_iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no vdev {name} in {}", p.name))
}

fn scan(p: &PoolStatus) -> &Scan {
    p.scan
        .as_ref()
        .unwrap_or_else(|| panic!("{}: no scan", p.name))
}

#[test]
fn zfs_fuse_healthy_two_pools() {
    let pools = status("zfs-fuse_zpool-status_scrub-none-requested.txt");
    assert_eq!(pools.len(), 2);
    let demo = &pools[0];
    assert_eq!(
        (demo.name.as_str(), demo.state.as_str()),
        ("zfsfix_demo", "ONLINE")
    );
    assert_eq!(scan(demo).state, ScanState::None);
    assert_eq!(scan(demo).kind, None);
    assert_eq!(demo.config.len(), 3);
    assert_eq!(demo.config[0].kind, VdevKind::Root);
    assert_eq!(demo.config[0].children.len(), 1);
    let mirror = &demo.config[0].children[0];
    assert_eq!(
        (mirror.name.as_str(), mirror.kind),
        ("mirror-0", VdevKind::Mirror)
    );
    assert_eq!(mirror.children.len(), 2);
    assert_eq!(mirror.children[0].kind, VdevKind::File);
    assert_eq!(demo.config[1].kind, VdevKind::Logs);
    assert_eq!(demo.config[1].children[0].name, "/tmp/zfsfix/l.img");
    assert_eq!(demo.config[2].kind, VdevKind::Spares);
    let spare = &demo.config[2].children[0];
    assert_eq!(spare.state.as_deref(), Some("AVAIL"));
    assert_eq!(spare.read, None);
    assert_eq!(demo.error_count, Some(0));
    assert_eq!(demo.errors, None);
    assert_eq!(pools[1].config[0].children.len(), 1);
    assert_eq!(pools[1].config[0].children[0].kind, VdevKind::File);
}

#[test]
fn zfs_fuse_scrubs() {
    let p = one("zfs-fuse_zpool-status-v_scrub-in-progress.txt");
    let s = scan(&p);
    assert_eq!(
        (s.kind, s.state),
        (Some(ScanKind::Scrub), ScanState::InProgress)
    );
    assert_eq!(s.progress_percent, Some(44.99));
    assert_eq!(s.duration.as_deref(), Some("0h0m"));
    assert_eq!(s.duration_secs, Some(0));
    assert_eq!(s.eta.as_deref(), Some("0h0m"));

    let p = one("zfs-fuse_zpool-status-v_scrub-in-progress_mirror-log-spare.txt");
    let s = scan(&p);
    assert_eq!(s.progress_percent, Some(12.97));
    assert_eq!(s.eta.as_deref(), Some("0h1m"));
    assert_eq!(p.config.len(), 3);

    let p = one("zfs-fuse_zpool-status-v_cksum-repaired.txt");
    let s = scan(&p);
    assert_eq!(
        (s.kind, s.state),
        (Some(ScanKind::Scrub), ScanState::Finished)
    );
    assert_eq!(s.errors, Some(0));
    assert_eq!(s.ended_at.as_deref(), Some("Wed Dec 2 07:47:05 2026"));
    assert_eq!(s.duration.as_deref(), Some("0h0m"));

    let p = one("zfs-fuse_zpool-status-v_scrub-stopped.txt");
    assert_eq!(scan(&p).state, ScanState::Canceled);
    assert_eq!(
        scan(&p).ended_at.as_deref(),
        Some("Wed Dec 2 07:46:41 2026")
    );

    let pools = status("zfs-fuse_zpool-status_three-pools_stopped-running-none.txt");
    let states: Vec<ScanState> = pools.iter().map(|p| scan(p).state).collect();
    assert_eq!(
        states,
        [ScanState::Canceled, ScanState::InProgress, ScanState::None]
    );
    assert_eq!(scan(&pools[1]).progress_percent, Some(16.75));
}

#[test]
fn zfs_fuse_errors_and_resilver() {
    let p = one("zfs-fuse_zpool-status-v_cksum-repaired.txt");
    assert!(p.status.as_deref().is_some_and(|s| {
        s.starts_with("One or more devices has experienced an unrecoverable error. An attempt")
    }));
    assert_eq!(p.see.as_deref(), Some("http://www.sun.com/msg/ZFS-8000-9P"));
    let y = find(&p, "/tmp/zfsfix/y.img");
    assert_eq!(y.cksum, Some(2079));
    assert_eq!(y.note.as_deref(), Some("120M repaired"));

    let p = one("zfs-fuse_zpool-status-v_degraded-offline.txt");
    assert_eq!(p.state, "DEGRADED");
    assert_eq!(
        find(&p, "/tmp/zfsfix/y.img").state.as_deref(),
        Some("OFFLINE")
    );
    assert_eq!(find(&p, "mirror-0").state.as_deref(), Some("DEGRADED"));

    let p = one("zfs-fuse_zpool-status-v_resilver-in-progress_replacing.txt");
    let s = scan(&p);
    assert_eq!(
        (s.kind, s.state),
        (Some(ScanKind::Resilver), ScanState::InProgress)
    );
    assert_eq!(s.progress_percent, Some(52.49));
    let replacing = find(&p, "replacing-1");
    assert_eq!(replacing.kind, VdevKind::Replacing);
    assert_eq!(replacing.children.len(), 2);
    assert_eq!(
        replacing.children[1].note.as_deref(),
        Some("83.9M resilvered")
    );

    let p = one("zfs-fuse_zpool-status-v_resilver-completed.txt");
    assert_eq!(scan(&p).kind, Some(ScanKind::Resilver));
    assert_eq!(scan(&p).state, ScanState::Finished);

    let p = one("zfs-fuse_zpool-status-v_io-failure-permanent-errors.txt");
    assert_eq!(scan(&p).errors, Some(651));
    assert_eq!(p.config[0].cksum, Some(652));
    assert_eq!(p.config[0].children[0].cksum, Some(1690));
    assert_eq!(p.error_files.len(), 54);
    assert_eq!(p.error_files[0], "<metadata>:<0x17>");
    assert_eq!(p.error_files[53], "zfsfix_two:<0x7>");
    assert_eq!(p.error_count, Some(54));
    assert_eq!(
        p.errors.as_deref(),
        Some("Permanent errors have been detected in the following files:")
    );

    let pools = status("zfs-fuse_zpool-status_three-pools_io-failure.txt");
    assert_eq!(pools.len(), 3);
    assert_eq!(pools[2].error_count, Some(651));
    assert!(pools[2].error_files.is_empty());
    assert_eq!(
        pools[1].config[0].children[0].children[1].note.as_deref(),
        Some("169M resilvered")
    );
    let x = status("zfs-fuse_zpool-status-x.txt");
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].name, "zfsfix_two");
}

#[test]
fn openzfs_scans() {
    let p = one("zpool-status_scrub-in-progress.txt");
    let s = scan(&p);
    assert_eq!(
        (s.kind, s.state),
        (Some(ScanKind::Scrub), ScanState::InProgress)
    );
    assert_eq!(s.started_at.as_deref(), Some("Sun Feb 11 11:54:20 2024"));
    assert_eq!(s.scanned_bytes, Some(704 * 1024 * 1024 * 1024));
    assert_eq!(s.total_bytes, parse_size("1.66T"));
    assert_eq!(s.issued_bytes, Some(0));
    assert_eq!(s.repaired_bytes, Some(0));
    assert_eq!(s.progress_percent, Some(0.0));
    assert_eq!(s.eta, None);

    let p = one("zpool-status_raidz1_RESILVER-IN-PROGRESS_replacing.txt");
    let s = scan(&p);
    assert_eq!(
        (s.kind, s.state),
        (Some(ScanKind::Resilver), ScanState::InProgress)
    );
    assert_eq!(s.progress_percent, Some(0.98));
    assert_eq!(s.eta.as_deref(), Some("1 days 09:48:34"));
    assert_eq!(s.issued_bytes, parse_size("179G"));
    assert_eq!(s.scanned_bytes, parse_size("12.9T"));
    assert_eq!(s.total_bytes, parse_size("18.1T"));
    assert_eq!(s.repaired_bytes, parse_size("25.6G"));
    let raidz = find(&p, "raidz1-0");
    assert_eq!(raidz.kind, VdevKind::Raidz1);
    assert_eq!(raidz.children.len(), 7);
    let replacing = find(&p, "replacing-5");
    assert_eq!(replacing.children[1].note.as_deref(), Some("(resilvering)"));
    assert_eq!(
        replacing.children[0].note.as_deref(),
        Some("was /dev/disk/by-id/ata-ST8000DM004-2U9188_ZR14QKCH-part1")
    );
    assert_eq!(p.config[1].kind, VdevKind::Logs);

    let p = one("zpool-status_RESILVER-IN-PROGRESS_old-format_zol0.7.txt");
    let s = scan(&p);
    assert_eq!(s.state, ScanState::InProgress);
    assert_eq!(s.scanned_bytes, parse_size("72.6M"));
    assert_eq!(s.total_bytes, parse_size("1.03T"));
    assert_eq!(s.eta.as_deref(), Some("123h32m"));
    assert_eq!(s.repaired_bytes, parse_size("72.2M"));
    assert_eq!(s.progress_percent, Some(0.01));
    assert_eq!(s.started_at.as_deref(), Some("Sat Jan 12 11:29:36 2019"));

    let p = one("zpool-status_resilvered-done_zol0.7.txt");
    let s = scan(&p);
    assert_eq!(
        (s.kind, s.state),
        (Some(ScanKind::Resilver), ScanState::Finished)
    );
    assert_eq!(s.repaired_bytes, parse_size("1.03T"));
    assert_eq!(s.duration_secs, Some(4 * 3600 + 8 * 60));
    assert_eq!(s.ended_at.as_deref(), Some("Sat Jan 12 15:38:26 2019"));

    let p = one("zpool-status_resilvered-completed.txt");
    assert_eq!(scan(&p).repaired_bytes, Some(21 * 1024));
    assert_eq!(scan(&p).duration_secs, Some(0));

    let p = one("zpool-status_scrub-canceled_2026.txt");
    assert_eq!(scan(&p).state, ScanState::Canceled);
    assert_eq!(
        scan(&p).ended_at.as_deref(),
        Some("Sun Jan 18 12:18:11 2026")
    );

    let pools = status("zpool-status-v_scrub-canceled-and-repaired.out");
    assert_eq!(pools.len(), 3);
    assert_eq!(scan(&pools[0]).state, ScanState::Canceled);
    let s = scan(&pools[1]);
    assert_eq!(s.state, ScanState::Finished);
    assert_eq!(s.duration.as_deref(), Some("0 days 00:19:47"));
    assert_eq!(s.duration_secs, Some(19 * 60 + 47));
    assert_eq!(s.repaired_bytes, Some(0));
    assert_eq!(
        pools[2].config[0].children[0].name,
        "Portable_SSD_T5-S49WNP0N120517B:8"
    );
}

#[test]
fn openzfs_states() {
    let p = one("zpool-status_raidz1_FAULTED-too-many-errors.txt");
    assert_eq!(p.state, "DEGRADED");
    assert_eq!(p.scan, None);
    let bad = find(&p, "ata-ST8000DM004-2U9188_ZR14QKCH");
    assert_eq!(bad.state.as_deref(), Some("FAULTED"));
    assert_eq!(
        (bad.read, bad.write, bad.cksum),
        (Some(7), Some(1075), Some(0))
    );
    assert_eq!(bad.note.as_deref(), Some("too many errors"));

    let p = one("zpool-status_degraded_unavail_was-path_cksum-errors.txt");
    let bad = find(&p, "12345678901234567890");
    assert_eq!(bad.cksum, Some(100_980));
    assert_eq!(bad.state.as_deref(), Some("UNAVAIL"));
    assert_eq!(find(&p, "mirror-0").children.len(), 3);

    let p = one("zpool-status_degraded_REMOVED.txt");
    assert_eq!(find(&p, "drive0-part1").state.as_deref(), Some("REMOVED"));
    assert_eq!(scan(&p).duration_secs, Some(10 * 3600 + 42 * 60 + 32));

    let p = one("zpool-status_degraded-mirror_unavail-corrupted-data.txt");
    assert_eq!(p.config[0].children.len(), 2);
    assert_eq!(find(&p, "loop3").note.as_deref(), Some("corrupted data"));

    let p = one("zpool-status_degraded_no-scan-line.txt");
    assert_eq!(p.scan, None);
    assert_eq!(
        p.see.as_deref(),
        Some("https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-4J")
    );

    let p = one("zpool-status_raidz2_write-error_ZFS-8000-9P.txt");
    assert_eq!(find(&p, "raidz2-0").kind, VdevKind::Raidz2);
    assert_eq!(find(&p, "sda").write, Some(1));

    let p = one("zpool-status_data-errors_permission-denied.txt");
    assert_eq!(p.error_count, Some(1));
    assert_eq!(scan(&p).errors, Some(1));
    assert!(
        p.errors
            .as_deref()
            .is_some_and(|e| e.contains("permission denied"))
    );

    let p = one("zpool-status_cksum-errors_ZFS-8000-9P_zol0.7.txt");
    assert_eq!(find(&p, "ata-TOSHIBA_DT01ACA300_365XDT3KS").cksum, Some(2));

    let p = one("zpool-status_unavail-permanent-errors.out");
    assert_eq!(p.state, "UNAVAIL");
    assert_eq!(p.config[0].note.as_deref(), Some("insufficient replicas"));
    assert_eq!(find(&p, "c1t1d0").note.as_deref(), Some("cannot open"));
    assert_eq!(
        p.error_files,
        ["/tank/data/aaa", "/tank/data/bbb", "/tank/data/ccc"]
    );
    assert_eq!(p.error_count, Some(3));
    assert_eq!(scan(&p).kind, Some(ScanKind::Scrub));

    let p = one("zpool-status_degraded-mirror-unavail.out");
    assert_eq!(scan(&p).state, ScanState::None);
    assert_eq!(find(&p, "c1t1d0").note.as_deref(), Some("cannot open"));

    let p = one("zpool-status_mirrors-with-log-mirror_openzfs-man.txt");
    assert_eq!(p.config.len(), 2);
    assert_eq!(p.config[0].children.len(), 2);
    assert_eq!(p.config[1].kind, VdevKind::Logs);
    assert_eq!(p.config[1].children[0].kind, VdevKind::Mirror);
    assert_eq!(p.config[1].children[0].children.len(), 2);

    let p = one("zpool-status_spares.out");
    assert_eq!(p.config[0].children.len(), 4);
    assert_eq!(p.config[1].children[0].state.as_deref(), Some("AVAIL"));
    assert_eq!(scan(&p).duration, None);

    let pools = status("zpool-status_two-pools_features-upgrade.txt");
    assert_eq!(pools.len(), 2);
    assert_eq!(pools[1].name, "wilbur");
    assert!(
        pools[1]
            .action
            .as_deref()
            .is_some_and(|a| a.ends_with("See zpool-features(7) for details."))
    );

    for f in [
        "zpool-status_features-alt-wording.txt",
        "zpool-status_features-upgrade-mirrors.out",
        "zpool-status_new-pool_no-scan-line.txt",
    ] {
        let p = one(f);
        assert_eq!(p.state, "ONLINE", "{f}");
        assert_eq!(p.error_count, Some(0), "{f}");
        assert!(p.vdevs().iter().all(|v| v.cksum.unwrap_or(0) == 0), "{f}");
    }
}

#[test]
fn empty_and_errors() {
    assert_eq!(parse_zpool_status(""), Ok(vec![]));
    assert_eq!(parse_zpool_status("no pools available\n"), Ok(vec![]));
    assert_eq!(parse_zpool_status("all pools are healthy\n"), Ok(vec![]));
    assert!(
        parse_zpool_status(&fixture("zfs/zpool-status-c_and_iostat-vc_openzfs-man.txt")).is_err()
    );
    assert!(parse_zpool_status(&fixture("zfs/zfs-fuse_zpool-list.txt")).is_err());
    let err = parse_zpool_status(
        "  pool: t\n state: ONLINE\nconfig:\n\n\tNAME STATE READ WRITE CKSUM\n\tt ONLINE x y z\n",
    )
    .expect_err("bad counters");
    assert_eq!(err.line, Some(6));
    assert!(parse_zpool_status("  pool: t\n").is_err());
}

#[test]
fn json() {
    let pools =
        parse_zpool_status_json(&fixture("zfs/zpool-status-j_openzfs-man.json")).expect("ok");
    assert_eq!(pools.len(), 1);
    let tank = &pools[0];
    assert_eq!(tank.state, "ONLINE");
    assert_eq!(tank.config[0].kind, VdevKind::Root);
    assert_eq!(find(tank, "raidz1-0").kind, VdevKind::Raidz1);
    assert_eq!(find(tank, "raidz1-0").children.len(), 3);
    assert!(tank.config.iter().any(|g| g.kind == VdevKind::Special));
    assert!(tank.config.iter().any(|g| g.kind == VdevKind::Dedup));
    assert_eq!(tank.error_count, Some(0));

    let pools = parse_zpool_status_json(&fixture("zfs/zpool-status-j_proxmox.json")).expect("ok");
    let rpool = pools.iter().find(|p| p.name == "rpool").expect("rpool");
    let s = scan(rpool);
    assert_eq!(
        (s.kind, s.state),
        (Some(ScanKind::Scrub), ScanState::Finished)
    );
    assert_eq!(
        s.started_at.as_deref(),
        Some("Sun Nov 16 08:00:01 CET 2025")
    );
    assert_eq!(s.issued_bytes, parse_size("8.28G"));
    assert_eq!(find(rpool, "mirror-0").children.len(), 2);

    let pools =
        parse_zpool_status_json(&fixture("zfs/zpool-status-j-json-int_after-resilver.json"))
            .expect("ok");
    let rpool = pools.iter().find(|p| p.name == "rpool").expect("rpool");
    let s = scan(rpool);
    assert_eq!(
        (s.kind, s.state),
        (Some(ScanKind::Resilver), ScanState::Finished)
    );
    assert_eq!(s.total_bytes, Some(93_589_860_352));
    assert_eq!(
        s.started_at.as_deref(),
        rfc3339_from_epoch(1_764_065_040).as_deref()
    );
    assert_eq!(s.duration_secs, Some(0));
    assert!(
        pools
            .iter()
            .any(|p| p.vdevs().iter().any(|v| v.kind == VdevKind::Draid))
    );

    let pools = parse_zpool_status_json(&fixture(
        "zfs/zpool-status-j-json-int_degraded-faulted.json",
    ))
    .expect("ok");
    let rpool = pools.iter().find(|p| p.name == "rpool").expect("rpool");
    assert_eq!(rpool.state, "DEGRADED");
    assert!(
        rpool
            .status
            .as_deref()
            .is_some_and(|s| s.starts_with("One or more devices are faulted"))
    );
    let bad = find(rpool, "wwn-0x5002538f55117008-part3");
    assert_eq!(bad.state.as_deref(), Some("FAULTED"));
    assert_eq!((bad.read, bad.write), (Some(2), Some(8)));
    assert_eq!(bad.note.as_deref(), Some("too many errors"));
    assert_eq!(
        scan(rpool).duration_secs,
        Some(1_764_050_594 - 1_764_050_401)
    );

    assert_eq!(parse_zpool_status_json(""), Ok(vec![]));
    assert!(parse_zpool_status_json("{\"pools\": [1]}").is_err());
}
