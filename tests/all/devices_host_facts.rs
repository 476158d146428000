//! The devices plugin's host facts over real SSH: drives (SMART), drive stats, logs, the
//! capability analysis (on demand and in the background after create), and hostile values
//! for every parameter that reaches a remote command.
//!
//! The device is this machine seen through a testbed sshd (a private mount namespace), so
//! every expectation is computed here from the same machine: its disks from `lsblk`, its
//! SMART answer from `smartctl`, its root filesystem from `df`, its kernel from `uname`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use infrastructor_tests::testbed::{Journal, Sshd, SshdOptions, Zfs, journal, tools};
use infrastructor_tests::{TestServer, server_with_device, url_escape};
use serde_json::{Value, json};

/// A server whose SSH reaches `d`, and a registered device `box` on it.
async fn server_with_box(d: &Sshd, monitoring: bool) -> TestServer {
    server_with_device(d, "box", monitoring, |_| {}).await
}

fn local(program: &str, package: &str, args: &[&str]) -> String {
    let path = tools::require(program, package);
    let out = Command::new(path).args(args).output().expect(program);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// This machine's whole disks as the drives route should list them.
fn local_disks() -> Vec<String> {
    local("lsblk", "util-linux", &["-d", "-n", "-o", "NAME,TYPE"])
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (name, kind) = (w.next()?, w.next()?);
            let virtual_disk = ["loop", "ram", "zram", "sr"]
                .iter()
                .any(|p| name.starts_with(p));
            (kind == "disk" && !virtual_disk).then(|| name.to_string())
        })
        .collect()
}

/// What smartctl says about `/dev/NAME` here: `passed`/`failed` when it gives a verdict,
/// else `unavailable`.
fn local_smart_health(name: &str) -> &'static str {
    let text = local(
        "smartctl",
        "smartmontools",
        &["-j", "-H", &format!("/dev/{name}")],
    );
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match v["smart_status"]["passed"].as_bool() {
        Some(true) => "passed",
        Some(false) => "failed",
        None => "unavailable",
    }
}

#[tokio::test]
async fn drives_report_three_state_health_as_smartctl_does_here() {
    let d = Sshd::start(SshdOptions::default()).expect("sshd");
    d.count_invocations("lsblk").expect("counter");
    let s = server_with_box(&d, false).await;
    let (status, body) = s.get("/api/devices/box/drives").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "success", "{body}");
    let listed: Vec<String> = body["drives"]
        .as_array()
        .expect("drives")
        .iter()
        .filter_map(|d| d["name"].as_str().map(str::to_string))
        .collect();
    let disks = local_disks();
    assert!(!disks.is_empty(), "this machine has a disk");
    assert_eq!(listed, disks, "every whole disk, no zram/loop: {body}");
    for drive in body["drives"].as_array().expect("drives") {
        let name = drive["name"].as_str().expect("name");
        let expected = local_smart_health(name);
        assert_eq!(drive["health"], expected, "{drive}");
        if expected == "unavailable" {
            assert_eq!(drive["smart_status"], "UNKNOWN");
            assert!(drive["health_detail"].is_string(), "says why: {drive}");
        }
    }
    assert_eq!(body["drive_count"], disks.len());
    assert_eq!(
        d.invocations("lsblk"),
        2,
        "one script run: the JSON listing and the disk loop"
    );
    let (_, again) = s.get("/api/devices/box/drives").await;
    assert_eq!(again["collection_metadata"]["cache_hit"], true);
    assert_eq!(d.invocations("lsblk"), 2, "served from the cache");

    let first = &disks[0];
    let (status, one) = s
        .get(&format!("/api/devices/box/drives?drive=/dev/{first}"))
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["drive_count"], 1);
    assert_eq!(one["drives"][0]["name"], first.as_str());
    let (status, none) = s.get("/api/devices/box/drives?drive=sdzz").await;
    assert_eq!(status, 404, "a disk the host does not have: {none}");
    assert_eq!(s.get("/api/devices/ghost/drives").await.0, 404);
    s.stop().await;
}

/// `df -P -B1 /` here: (size, mount point).
fn local_root_size() -> u64 {
    let text = local("df", "coreutils", &["-P", "-B1", "/"]);
    text.lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("df /")
}

/// The monotonic counters of `/proc/diskstats` (the device's kernel is this machine's), by
/// the API's field name, then their column among the counters after `major minor name`.
/// (`in_flight`, column 8, goes up and down.)
const DISKSTATS_COUNTERS: &[(&str, usize)] = &[
    ("reads_completed", 0),
    ("reads_merged", 1),
    ("sectors_read", 2),
    ("read_time_ms", 3),
    ("writes_completed", 4),
    ("writes_merged", 5),
    ("sectors_written", 6),
    ("write_time_ms", 7),
    ("io_time_ms", 9),
    ("weighted_io_time_ms", 10),
    ("discards_completed", 11),
    ("discards_merged", 12),
    ("sectors_discarded", 13),
    ("discard_time_ms", 14),
    ("flushes_completed", 15),
    ("flush_time_ms", 16),
];

/// `/proc/diskstats` here: device name → its counters.
fn local_diskstats() -> std::collections::HashMap<String, Vec<u64>> {
    std::fs::read_to_string("/proc/diskstats")
        .expect("/proc/diskstats")
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let counters = w
                .get(3..)?
                .iter()
                .map(|c| c.parse().ok())
                .collect::<Option<_>>()?;
            Some((w.get(2)?.to_string(), counters))
        })
        .collect()
}

/// Asserts every counter of `stats` (one device of the API's answer) lies between what
/// `/proc/diskstats` said before and after the request.
fn assert_bracketed(
    stats: &Value,
    before: &std::collections::HashMap<String, Vec<u64>>,
    after: &std::collections::HashMap<String, Vec<u64>>,
) {
    let name = stats["name"]
        .as_str()
        .unwrap_or_else(|| panic!("name: {stats}"));
    let (b, a) = (&before[name], &after[name]);
    for &(field, column) in DISKSTATS_COUNTERS {
        let Some((lo, hi)) = b.get(column).zip(a.get(column)) else {
            assert!(
                stats[field].is_null(),
                "{name}: this kernel has no {field}: {stats}"
            );
            continue;
        };
        let got = stats[field]
            .as_u64()
            .unwrap_or_else(|| panic!("{name}: {field} is a counter: {stats}"));
        assert!(
            (*lo..=*hi).contains(&got),
            "{name}: {field} = {got}, /proc/diskstats said {lo} before and {hi} after"
        );
    }
    assert_eq!(
        stats["read_bytes"].as_u64(),
        stats["sectors_read"].as_u64().map(|s| s * 512),
        "{name}: bytes are 512-byte sectors"
    );
    assert_eq!(
        stats["write_bytes"].as_u64(),
        stats["sectors_written"].as_u64().map(|s| s * 512),
        "{name}: bytes are 512-byte sectors"
    );
}

#[tokio::test]
async fn drive_stats_carry_the_kernel_counters_and_the_filesystems_on_each_disk() {
    let d = Sshd::start(SshdOptions::default()).expect("sshd");
    let s = server_with_box(&d, false).await;
    let before = local_diskstats();
    let (status, body) = s.get("/api/devices/box/drives/stats").await;
    let after = local_diskstats();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["collection_metadata"]["cache_hit"], false,
        "read during the request: {body}"
    );
    let drives = body["drives"].as_array().expect("drives");
    let names: Vec<&str> = drives.iter().filter_map(|d| d["name"].as_str()).collect();
    assert_eq!(names, local_disks(), "{body}");
    for drive in drives {
        assert_bracketed(&drive["usage_stats"], &before, &after);
        for partition in drive["partitions"].as_array().expect("partitions") {
            assert_bracketed(partition, &before, &after);
        }
    }
    let root = drives
        .iter()
        .flat_map(|d| {
            d["filesystem_usage"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .find(|f| f["mount_point"] == "/");
    if let Some(root) = root {
        let size = root["size"].as_u64().expect("size");
        let here = local_root_size();
        assert_eq!(size, here, "the same filesystem, in bytes");
    } else {
        // `/` may live on something lsblk does not show as a disk (overlay, virtiofs…):
        // it is then in the top-level list only.
        assert!(
            body["filesystem_usage"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["mount_point"] == "/")),
            "{body}"
        );
    }
    s.stop().await;
}

fn local_journal_exists() -> bool {
    ["/run/log/journal", "/var/log/journal"]
        .iter()
        .any(|dir| walk_has_journal(Path::new(dir), 2))
}

fn walk_has_journal(dir: &Path, depth: u32) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        let p = e.path();
        p.extension().is_some_and(|x| x == "journal")
            || (depth > 0 && p.is_dir() && walk_has_journal(&p, depth - 1))
    })
}

#[tokio::test]
async fn logs_say_clearly_when_there_is_no_journal_and_refuse_bad_values() {
    let d = Sshd::start(SshdOptions::default()).expect("sshd");
    let s = server_with_box(&d, false).await;
    let (status, body) = s.get("/api/devices/box/logs?lines=5").await;
    assert_eq!(status, 200, "{body}");
    // The device is this machine: what it answers depends on what is installed here.
    if tools::find("journalctl").is_none() {
        assert_eq!(body["status"], "unavailable", "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("journalctl is not installed")),
            "{body}"
        );
    } else if local_journal_exists() {
        assert_eq!(body["status"], "success", "{body}");
        assert!(body["log_count"].as_u64().is_some_and(|n| n <= 5));
    } else {
        assert_eq!(body["status"], "unavailable", "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("journal")),
            "{body}"
        );
        assert_eq!(body["logs"], json!([]));
    }
    let (status, body) = s
        .get("/api/devices/box/logs?service=ssh.service&since=2h&priority=err")
        .await;
    assert_eq!(status, 200, "valid values pass: {body}");
    assert_eq!(body["since"], "2h");
    let (status, body) = s.get("/api/devices/box/logs?since=fortnight").await;
    assert_eq!(
        status, 422,
        "a meaningless since (the schema's pattern): {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("since"))
    );
    s.stop().await;
}

fn messages(body: &Value) -> Vec<String> {
    body["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("logs: {body}"))
        .iter()
        .filter_map(|l| l["message"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn logs_read_a_real_journal_with_unit_time_priority_and_line_filters() {
    let entry = |unit, message, priority, age_secs| journal::Entry {
        unit,
        message,
        priority,
        age_secs,
    };
    let journal = Journal::write(&[
        entry("infra-test.service", "old news", 6, 7200),
        entry("infra-test.service", "it broke", 3, 600),
        entry("infra-test.service", "all good", 6, 60),
        entry("infra-other.service", "someone else", 6, 30),
    ])
    .expect("journal");
    let d = Sshd::start(SshdOptions {
        binds: vec![journal.bind()],
        ..SshdOptions::default()
    })
    .expect("sshd");
    let s = server_with_box(&d, false).await;
    let base = "/api/devices/box/logs?service=infra-test.service";
    let (status, body) = s.get(base).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "success", "{body}");
    assert_eq!(messages(&body), ["old news", "it broke", "all good"]);
    let broke = &body["logs"][1];
    assert_eq!(broke["service"], "infra-test.service", "{broke}");
    assert_eq!(broke["priority"], 3);
    assert_eq!(broke["priority_name"], "err");
    assert!(
        broke["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{broke}"
    );
    let (_, recent) = s.get(&format!("{base}&since=1h")).await;
    assert_eq!(messages(&recent), ["it broke", "all good"], "shorthand 1h");
    let (_, errors) = s.get(&format!("{base}&priority=err")).await;
    assert_eq!(messages(&errors), ["it broke"]);
    let (_, last) = s.get(&format!("{base}&lines=1")).await;
    assert_eq!(messages(&last), ["all good"]);
    let (_, other) = s
        .get("/api/devices/box/logs?service=infra-other.service")
        .await;
    assert_eq!(
        messages(&other),
        ["someone else"],
        "never another unit's lines"
    );
    s.stop().await;
}

/// Polls `box` until `pred` holds (10 s).
async fn wait_for_device(s: &TestServer, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, dev) = s.get("/api/devices/box").await;
        if pred(&dev) {
            return dev;
        }
        assert!(Instant::now() < deadline, "{what} never happened: {dev}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn first_line(program: &str, args: &[&str]) -> String {
    local(program, "coreutils", args).trim().to_string()
}

/// A directory tree the device finds: a compose project and a SWAG proxy-confs dir.
fn device_tree() -> (tempfile::TempDir, tempfile::TempDir) {
    let srv = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(srv.path().join("stack")).expect("mkdir");
    std::fs::write(
        srv.path().join("stack/docker-compose.yml"),
        "services:\n  web:\n    image: nginx\n",
    )
    .expect("compose");
    std::fs::create_dir_all(srv.path().join("node_modules/x")).expect("mkdir");
    std::fs::write(srv.path().join("node_modules/x/compose.yml"), "pruned").expect("write");
    let mnt = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(mnt.path().join("appdata/swag/nginx/proxy-confs")).expect("mkdir");
    (srv, mnt)
}

#[tokio::test]
async fn analysis_tags_the_device_in_the_background_and_on_demand() {
    let (srv, mnt) = device_tree();
    let options = SshdOptions {
        binds: vec![
            (srv.path().to_path_buf(), PathBuf::from("/srv")),
            (mnt.path().to_path_buf(), PathBuf::from("/mnt")),
        ],
        ..SshdOptions::default()
    };
    // A real zfs-fuse pool the device's `zpool` sees.
    let pool = Zfs::pool("analyze", 64).expect("zfs-fuse pool");
    let d = Sshd::start(options).expect("sshd");
    let s = server_with_box(&d, true).await;
    // Created with monitoring on: the queued probe finds it online, then analyses it.
    let dev = wait_for_device(&s, "background analysis", |d| {
        d["tags"]["analyzed_at"].is_string()
    })
    .await;
    let tags = &dev["tags"];
    assert_eq!(tags["kernel"], first_line("uname", &["-r"]));
    assert_eq!(tags["architecture"], first_line("uname", &["-m"]));
    assert_eq!(tags["docker"], tools::find("docker").is_some());
    assert_eq!(tags["vms"], tools::find("virsh").is_some());
    // Pools of a concurrently running zfs-fuse test may be listed too: ours must be.
    assert_eq!(tags["zfs"], true, "{tags}");
    assert!(
        tags["zfs_pools"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p == pool.name())),
        "{} is listed: {tags}",
        pool.name()
    );
    assert_eq!(tags["docker_compose_path"], "/srv/stack/docker-compose.yml");
    assert_eq!(
        tags["all_docker_compose_paths"],
        json!(["/srv/stack/docker-compose.yml"]),
        "node_modules is pruned"
    );
    assert_eq!(tags["docker_appdata_path"], "/mnt/appdata");
    assert_eq!(
        tags["swag_config_path"],
        "/mnt/appdata/swag/nginx/proxy-confs"
    );
    assert_eq!(tags["swag"], true);
    assert_eq!(tags["swag_running"], false);

    // User tags survive an analysis.
    let (status, _) = s
        .send(
            s.client
                .put(s.url("/api/devices/box"))
                .json(&json!({"tags": {"env": "lab"}})),
        )
        .await;
    assert_eq!(status, 200);
    d.count_invocations("uname").expect("counter");
    let (status, body) = s
        .send(s.client.post(s.url("/api/devices/box/analyze")))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(d.invocations("uname"), 2, "one script run");
    assert_eq!(body["device"]["tags"]["env"], "lab");
    assert_eq!(body["device"]["tags"]["swag"], true);
    assert!(
        body["analysis"]["details"]["cpu"]["processors"]
            .as_u64()
            .is_some_and(|n| n >= 1)
    );
    assert_eq!(
        s.send(s.client.post(s.url("/api/devices/ghost/analyze")))
            .await
            .0,
        404
    );
    s.stop().await;
}

#[tokio::test]
async fn hostile_values_never_reach_a_shell() {
    let d = Sshd::start(SshdOptions::default()).expect("sshd");
    let s = server_with_box(&d, false).await;
    let canary_dir = tempfile::tempdir().expect("tmp");
    let canary = canary_dir.path().join("canary");
    let c = canary.display().to_string();
    let enc = |v: &str| url_escape(v);
    let hostile = [
        format!("x;touch {c}"),
        format!("$(touch {c})"),
        format!("`touch {c}`"),
        format!("x' ; touch '{c}"),
        format!("--file={c}"),
        format!("a\ntouch {c}"),
        "../../etc/passwd".to_string(),
    ];
    for value in &hostile {
        for (path, param) in [
            ("/api/devices/box/logs", "service"),
            ("/api/devices/box/logs", "since"),
            ("/api/devices/box/drives", "drive"),
            ("/api/devices/box/drives/stats", "drive"),
        ] {
            let (status, body) = s.get(&format!("{path}?{param}={}", enc(value))).await;
            assert_eq!(status, 422, "{param}={value:?}: {body}");
            assert_eq!(body["error"]["details"]["field"], param, "{body}");
        }
        for route in ["", "/status", "/metrics", "/drives", "/logs", "/ports"] {
            let (status, body) = s.get(&format!("/api/devices/{}{route}", enc(value))).await;
            assert_eq!(status, 422, "hostname {value:?} on {route}: {body}");
            assert_eq!(body["error"]["details"]["field"], "hostname", "{body}");
        }
    }
    // Values that pass validation still reach journalctl as one `--unit=` argument.
    let (status, body) = s
        .get("/api/devices/box/logs?service=sys-devices-x%5Cx2dy.device&since=2026-01-01%2000:00")
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(!canary.exists(), "the canary was never created");
    s.stop().await;
}
