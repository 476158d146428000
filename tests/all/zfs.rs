//! The zfs plugin against real zfs-fuse pools over real SSH: two sshd devices, a pool
//! each. Pools, datasets, properties and snapshots match the tools' own output; snapshot,
//! clone and destroy change the real pool; a full and an incremental send from device A's
//! pool land in device B's pool byte for byte (and 200 MB go through with the server's
//! memory bounded); a scrub is started and followed; nested names travel percent-encoded;
//! hostile names are 422.

use std::path::Path;
use std::time::{Duration, Instant};

use infrastructor_tests::testbed::{Pool, PoolSpec, Sshd, SshdOptions, Zfs};
use infrastructor_tests::{
    RssSampler, TestServer, in_own_process, rss_bytes, server_with_devices, url_escape,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn file_sha256(path: &Path) -> String {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path).expect("open");
    std::io::copy(&mut file, &mut hasher).expect("read");
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `size` pseudo-random (incompressible) bytes to `path`.
fn random_file(path: &Path, size: usize) {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ size as u64;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for b in chunk.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let n = left.min(chunk.len());
        file.write_all(&chunk[..n]).expect("write");
        left -= n;
    }
    file.flush().expect("flush");
}

struct Bed {
    server: TestServer,
    a: Pool,
    b: Pool,
    _devices: (Sshd, Sshd),
    _dir: tempfile::TempDir,
}

async fn bed(size_mb: u64) -> Bed {
    let a = Zfs::pool_with(
        "zfsa",
        PoolSpec {
            size_mb,
            ..PoolSpec::default()
        },
    )
    .expect("pool a");
    let b = Zfs::pool_with(
        "zfsb",
        PoolSpec {
            size_mb,
            ..PoolSpec::default()
        },
    )
    .expect("pool b");
    let (da, db) = (
        Sshd::start(SshdOptions::default()).expect("sshd a"),
        Sshd::start(SshdOptions::default()).expect("sshd b"),
    );
    for d in [&da, &db] {
        d.use_host_mounts(&["zfs", "zpool"]).expect("host mounts");
    }
    let dir = tempfile::tempdir().expect("tmp");
    let server = server_with_devices(
        &[],
        &[("dev-a", &da, false), ("dev-b", &db, false)],
        dir.path(),
        |_| {},
    )
    .await;
    Bed {
        server,
        a,
        b,
        _devices: (da, db),
        _dir: dir,
    }
}

impl Bed {
    async fn get(&self, path: &str) -> (u16, Value) {
        self.server.get(path).await
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.server.client.request(method, self.server.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.server.send(req).await
    }
}

impl Bed {
    /// Posts a long-running request and waits for its job to end (zfs-fuse is shared by
    /// every test: under load a send can outlast `?wait`): `(200, result)` for a job that
    /// succeeded, `(status, {"error": …})` for one that failed, the answer itself otherwise.
    async fn job(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, answer) = self
            .send(reqwest::Method::POST, &format!("{path}?wait=60"), body)
            .await;
        if status != 202 {
            return (status, answer);
        }
        let id = answer["id"].as_str().expect("job id").to_owned();
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let (_, job) = self.get(&format!("/api/jobs/{id}")).await;
            match job["state"].as_str() {
                Some("succeeded") => return (200, job["result"].clone()),
                Some("failed" | "cancelled" | "interrupted") => {
                    let code = job["error"]["status"].as_u64().unwrap_or(500) as u16;
                    return (code, json!({"error": job["error"]}));
                }
                _ if Instant::now() > deadline => panic!("job {id} did not end: {job}"),
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
}

fn zfs() -> &'static Zfs {
    Zfs::daemon().expect("zfs-fuse")
}

/// A tool's one-column output as sorted lines.
fn lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_datasets_snapshots_clones_send_and_scrub() {
    let _zfs = infrastructor_tests::zfs_daemon_exclusive().await;
    let bed = bed(128).await;
    let (pa, pb) = (bed.a.name().to_owned(), bed.b.name().to_owned());
    let z = zfs();
    z.zfs(&["create", "-p", &format!("{pa}/app/db")])
        .expect("create");
    z.zfs(&["set", "compression=on", &format!("{pa}/app")])
        .expect("set");
    let data = bed.a.mountpoint().join("app/db/data.bin");
    random_file(&data, 3 << 20);
    let first_sum = file_sha256(&data);

    // Pools: the tool's names, health and sizes.
    let (status, pools) = bed.get("/api/zfs/dev-a/pools").await;
    assert_eq!(status, 200, "{pools}");
    assert_eq!(
        pools["tools"], "legacy",
        "zfs-fuse is the old tools: {pools}"
    );
    let ours: Vec<&Value> = pools["pools"]
        .as_array()
        .expect("pools")
        .iter()
        .filter(|p| p["name"] == pa.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{pools}");
    let health = z
        .zpool(&["list", "-H", "-o", "health", &pa])
        .expect("health");
    assert_eq!(ours[0]["health"], health.trim());
    assert!(
        ours[0]["size"].as_u64().expect("size as a number") > 100 << 20,
        "{}",
        ours[0]
    );
    let all = lines(&z.zpool(&["list", "-H", "-o", "name"]).expect("names"));
    let mut listed: Vec<String> = pools["pools"]
        .as_array()
        .expect("pools")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, all);

    // Status: the tree and the old `scrub:` line.
    let (status, st) = bed.get(&format!("/api/zfs/dev-a/pools/{pa}/status")).await;
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["status"]["state"], "ONLINE", "{st}");
    assert!(
        !st["status"]["config"]
            .as_array()
            .expect("config")
            .is_empty(),
        "{st}"
    );
    let version = z.zpool(&["get", "version", &pa]).expect("version");
    let value = version
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(2))
        .expect("value");
    assert_eq!(st["properties"]["version"]["value"], value, "{st}");

    // Datasets and properties, with nested names percent-encoded.
    let (status, ds) = bed
        .get(&format!("/api/zfs/dev-a/datasets?pool_name={pa}"))
        .await;
    assert_eq!(status, 200, "{ds}");
    let mut names: Vec<String> = ds["datasets"]
        .as_array()
        .expect("datasets")
        .iter()
        .map(|d| d["name"].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        lines(
            &z.zfs(&["list", "-H", "-o", "name", "-r", &pa])
                .expect("list")
        )
    );
    let nested = format!("{pa}/app");
    let (status, props) = bed
        .get(&format!(
            "/api/zfs/dev-a/datasets/{}/properties",
            url_escape(&nested)
        ))
        .await;
    assert_eq!(status, 200, "{props}");
    assert_eq!(props["properties"]["compression"]["value"], "on", "{props}");
    assert_eq!(props["properties"]["compression"]["source"], "local");

    // Snapshot, clone, destroy: the real pool changes.
    let db = format!("{pa}/app/db");
    let (status, created) = bed
        .send(
            reqwest::Method::POST,
            "/api/zfs/dev-a/snapshots",
            Some(json!({"dataset_name": db, "snapshot_name": "s1"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let snaps = z
        .zfs(&["list", "-H", "-t", "snapshot", "-o", "name", "-r", &pa])
        .expect("snaps");
    assert!(snaps.lines().any(|l| l == format!("{db}@s1")), "{snaps}");
    let (status, again) = bed
        .send(
            reqwest::Method::POST,
            "/api/zfs/dev-a/snapshots",
            Some(json!({"dataset_name": db, "snapshot_name": "s1"})),
        )
        .await;
    assert_eq!(status, 409, "{again}");
    let (status, listed) = bed
        .get(&format!(
            "/api/zfs/dev-a/snapshots?dataset_name={}",
            url_escape(&db)
        ))
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["total_snapshots"], 1);
    assert!(
        listed["snapshots"][0]["creation"]
            .as_str()
            .expect("creation")
            .starts_with("20"),
        "{listed}"
    );
    let snap = url_escape(&format!("{db}@s1"));
    let clone = format!("{pa}/dbclone");
    let (status, cloned) = bed
        .send(
            reqwest::Method::POST,
            &format!("/api/zfs/dev-a/snapshots/{snap}/clone"),
            Some(json!({"clone_name": clone})),
        )
        .await;
    assert_eq!(status, 201, "{cloned}");
    assert_eq!(
        file_sha256(&bed.a.mountpoint().join("dbclone/data.bin")),
        first_sum
    );
    let (status, busy) = bed
        .send(
            reqwest::Method::DELETE,
            &format!("/api/zfs/dev-a/snapshots/{snap}"),
            None,
        )
        .await;
    assert_eq!(status, 409, "a snapshot with a clone: {busy}");
    // fuse releases the file handles of the checksum read asynchronously: retry while busy.
    let mut destroyed = z.zfs(&["destroy", &clone]);
    for _ in 0..40 {
        if destroyed.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
        destroyed = z.zfs(&["destroy", &clone]);
    }
    destroyed.expect("destroy clone");
    let (status, usage) = bed.get("/api/zfs/dev-a/snapshots/usage").await;
    assert_eq!(status, 200, "{usage}");
    assert!(
        usage["oldest_snapshots"]
            .as_array()
            .is_some_and(|o| !o.is_empty()),
        "{usage}"
    );

    // Full send into device B's pool, then an incremental one.
    let target = format!("{pb}/recv");
    let (status, sent) = bed
        .job(
            &format!("/api/zfs/dev-a/snapshots/{snap}/send"),
            Some(json!({"destination_device": "dev-b", "destination_dataset": target})),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert!(sent["bytes"].as_u64().expect("bytes") > 3 << 20, "{sent}");
    assert_eq!(
        file_sha256(&bed.b.mountpoint().join("recv/data.bin")),
        first_sum
    );
    random_file(&bed.a.mountpoint().join("app/db/more.bin"), 1 << 20);
    let more_sum = file_sha256(&bed.a.mountpoint().join("app/db/more.bin"));
    z.zfs(&["snapshot", &format!("{db}@s2")]).expect("s2");
    let snap2 = url_escape(&format!("{db}@s2"));
    let (status, inc) = bed
        .job(
            &format!("/api/zfs/dev-a/snapshots/{snap2}/send"),
            Some(
                json!({"destination_device": "dev-b", "destination_dataset": target,
                        "incremental_from": "s1", "force": true}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{inc}");
    assert!(
        inc["bytes"].as_u64().expect("bytes") < 3 << 20,
        "incremental: {inc}"
    );
    assert_eq!(
        file_sha256(&bed.b.mountpoint().join("recv/more.bin")),
        more_sum
    );
    assert_eq!(
        file_sha256(&bed.b.mountpoint().join("recv/data.bin")),
        first_sum
    );
    // A send into a dataset that exists, without force: receive's error, as 409.
    let (status, refused) = bed
        .job(
            &format!("/api/zfs/dev-a/snapshots/{snap}/send"),
            Some(json!({"destination_device": "dev-b", "destination_dataset": target})),
        )
        .await;
    assert!(status == 409 || status == 502, "{status} {refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .expect("message")
            .contains("receive"),
        "{refused}"
    );

    // A stream in the request body lands as a dataset.
    let stream_file = bed._dir.path().join("s1.zstream");
    let out = z
        .zfs_cmd()
        .args(["send", &format!("{db}@s1")])
        .stdout(std::fs::File::create(&stream_file).expect("stream file"))
        .status()
        .expect("zfs send");
    assert!(out.success());
    let body = std::fs::read(&stream_file).expect("stream");
    let from_body = format!("{pb}/frombody");
    let r = bed
        .server
        .client
        .post(bed.server.url(&format!(
            "/api/zfs/dev-b/receive?dataset_name={}",
            url_escape(&from_body)
        )))
        .body(body)
        .send()
        .await
        .expect("receive");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        file_sha256(&bed.b.mountpoint().join("frombody/data.bin")),
        first_sum
    );

    // Destroy through the API.
    let (status, destroyed) = bed
        .send(
            reqwest::Method::DELETE,
            &format!("/api/zfs/dev-a/snapshots/{snap2}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{destroyed}");
    let snaps = z
        .zfs(&["list", "-H", "-t", "snapshot", "-o", "name", "-r", &pa])
        .expect("snaps");
    assert!(!snaps.contains("@s2"), "{snaps}");

    // Scrub: started, followed to its end, then its status.
    let (status, scrub) = bed
        .job(&format!("/api/zfs/dev-b/pools/{pb}/scrub"), None)
        .await;
    assert_eq!(status, 200, "{scrub}");
    assert_eq!(scrub["scan"]["state"], "finished", "{scrub}");
    let (status, scrub) = bed.get(&format!("/api/zfs/dev-b/pools/{pb}/scrub")).await;
    assert_eq!(status, 200, "{scrub}");
    assert_eq!(scrub["scan"]["kind"], "scrub", "{scrub}");

    // Health and report.
    let (status, health) = bed.get("/api/zfs/dev-a/health").await;
    assert_eq!(status, 200, "{health}");
    assert!(
        health["healthy_pools"]
            .as_array()
            .expect("healthy")
            .contains(&json!(pa)),
        "{health}"
    );
    let (status, report) = bed.get("/api/zfs/dev-a/report").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["summary"]["total_pools"], all.len());
    assert_eq!(
        bed.get("/api/zfs/dev-a/arc-stats").await.0,
        404,
        "zfs-fuse has no ARC stats"
    );
    let (status, events) = bed.get("/api/zfs/dev-a/events").await;
    assert_eq!(status, 200, "{events}");
    assert_ne!(
        events["source"], "zpool-events",
        "zfs-fuse has no zpool events"
    );
    let (status, optimize) = bed.get("/api/zfs/dev-a/optimize").await;
    assert_eq!(status, 200, "{optimize}");

    // Hostile names never reach the tools.
    for name in ["a;b", "-o", "x y", "$(id)", "tank@a@b", "tank//x"] {
        let (status, _) = bed
            .get(&format!("/api/zfs/dev-a/pools/{}/status", url_escape(name)))
            .await;
        assert_eq!(status, 422, "{name}");
        let (status, _) = bed
            .send(
                reqwest::Method::POST,
                "/api/zfs/dev-a/snapshots",
                Some(json!({"dataset_name": name, "snapshot_name": "x"})),
            )
            .await;
        assert_eq!(status, 422, "{name}");
    }
    for name in ["tank/../x", "-tank@x", "tank@", "tank@a;b"] {
        let (status, _) = bed
            .send(
                reqwest::Method::DELETE,
                &format!("/api/zfs/dev-a/snapshots/{}", url_escape(name)),
                None,
            )
            .await;
        assert_eq!(status, 422, "{name}");
    }
    let (status, nosend) = bed
        .send(
            reqwest::Method::POST,
            &format!("/api/zfs/dev-a/snapshots/{snap}/send"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 422, "a send needs a destination: {nosend}");
}

const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_send_between_devices_keeps_the_server_small() {
    let _zfs = infrastructor_tests::zfs_daemon_exclusive().await;
    if !in_own_process("zfs::a_200_mb_send_between_devices_keeps_the_server_small") {
        return;
    }
    let bed = bed(320).await;
    let (pa, pb) = (bed.a.name().to_owned(), bed.b.name().to_owned());
    let z = zfs();
    z.zfs(&["create", &format!("{pa}/big")]).expect("create");
    let data = bed.a.mountpoint().join("big/data.bin");
    random_file(&data, 200 * MIB as usize);
    let sum = file_sha256(&data);
    z.zfs(&["snapshot", &format!("{pa}/big@full")])
        .expect("snapshot");
    // Warm up the plugin and the connections.
    assert_eq!(bed.get("/api/zfs/dev-b/pools").await.0, 200);
    assert_eq!(bed.get("/api/zfs/dev-a/pools").await.0, 200);

    let baseline = rss_bytes();
    let sampler = RssSampler::start();
    let started = Instant::now();
    let snap = url_escape(&format!("{pa}/big@full"));
    let (status, sent) = bed
        .job(
            &format!("/api/zfs/dev-a/snapshots/{snap}/send"),
            Some(
                json!({"destination_device": "dev-b", "destination_dataset": format!("{pb}/big")}),
            ),
        )
        .await;
    let elapsed = started.elapsed();
    let peak = sampler.peak();
    drop(sampler);
    assert_eq!(status, 200, "{sent}");
    let bytes = sent["bytes"].as_u64().expect("bytes");
    assert!(bytes > 200 * MIB, "{sent}");
    assert_eq!(file_sha256(&bed.b.mountpoint().join("big/data.bin")), sum);
    println!(
        "zfs send 200 MiB through the server: {bytes} bytes in {:.1} s ({:.0} MB/s); RSS {} MiB before, peak {} MiB (+{} MiB)",
        elapsed.as_secs_f64(),
        bytes as f64 / elapsed.as_secs_f64() / 1e6,
        baseline / MIB,
        peak / MIB,
        peak.saturating_sub(baseline) / MIB
    );
    // The whole test process (server, compiled plugins, client) stays well under 100 MiB
    // above its idle size: the stream is never held.
    assert!(
        peak.saturating_sub(baseline) < 32 * MIB,
        "RSS grew by {} MiB",
        peak.saturating_sub(baseline) / MIB
    );
}
