//! Benchmark: the cached `GET /api/containers/{host}` at 32 concurrent connections, with 20
//! and then with 200 containers on the device (a private dockerd reached over real SSH),
//! next to baselines measured in the same run, in the same process, round after round:
//! - a bare native axum handler serving the very bytes of the cached list from memory (the
//!   ceiling: what moving that JSON over loopback HTTP costs, without plugin, collector or
//!   middleware);
//! - `GET /api/status`, the server's own native route (the whole stack, a tiny answer);
//! - the same list from a second server on the same device with the answer cache off
//!   (`plugins.answer_cache_mb = 0`): the plugin renders every answer from the collector's
//!   cached collection; the ratio with it is the answer cache's gain.
//!
//! 20 containers are created (all running), measured, then 180 more (created, not started)
//! and measured again. Before each measurement of a list the server's collection is
//! refreshed (`?live=true`), so every measured request is served from the cache (the list's
//! max age is 15 s and each measurement lasts `ROUND_SECS`, 3 s by default); the remote
//! `docker` runs during the measurements are counted (expected: 0) and the answer cache's
//! `x-answer-cache: replay` header is checked on both servers before measuring. Also counts
//! the remote `docker` runs of one live list and of one all-container stats (target: 1 each).
//!
//! Prints req/s, p50 and p99 of each, and the ratios, per round (3 rounds), and a summary
//! line per size (medians over the rounds). Nothing is compared with numbers from another
//! run.
//!
//! Run: `cargo bench -p infrastructor-tests --bench containers_list`
//! (`ROUND_SECS=5` for longer measurements).

#[path = "support/bare_server.rs"]
mod bare_server;

use std::time::{Duration, Instant};

use infrastructor_tests::load::{Load, concurrent, concurrent_for};
use infrastructor_tests::testbed::{Docker, Sshd, SshdOptions};
use infrastructor_tests::{TestServer, server_with_device};

const IMAGE: &str = "tb-busybox:bench";
const ROUNDS: usize = 3;
const CONNECTIONS: usize = 32;
const LIST: &str = "/api/containers/box";

fn main() {
    let round = Duration::from_secs_f64(
        std::env::var("ROUND_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3.0),
    );
    let docker = Docker::start().expect("dockerd");
    docker.build_busybox_image(IMAGE).expect("image");
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    device.use_docker(&docker).expect("use_docker");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let on = server_with_device(&device, "box", false, |_| {}).await;
        let off =
            server_with_device(&device, "box", false, |c| c.plugins.answer_cache_mb = 0).await;
        device.count_invocations("docker").expect("counter");
        let mut summaries = Vec::new();
        for (size, running) in [(20, 20), (200, 20)] {
            create_containers(&docker, size, running);
            summaries.push(measure_size(&on, &off, &device, size, round).await);
        }
        println!(
            "summary (medians over {ROUNDS} rounds, this machine, {CONNECTIONS} connections):"
        );
        for s in &summaries {
            println!("  {s}");
        }
        on.stop().await;
        off.stop().await;
    });
    drop(device);
    drop(docker);
}

/// Creates containers `bench-NNN` up to `total` (those below `running` run `sleep 3600`,
/// the others are only created), on 8 threads.
fn create_containers(docker: &Docker, total: usize, running: usize) {
    let existing = docker
        .run(&["ps", "-aq", "--filter", "label=bench=1"])
        .expect("ps")
        .lines()
        .count();
    let started = Instant::now();
    let indices: Vec<usize> = (existing..total).collect();
    let chunk = indices.len().div_ceil(8).max(1);
    std::thread::scope(|scope| {
        for part in indices.chunks(chunk) {
            scope.spawn(move || {
                for i in part {
                    let name = format!("bench-{i:03}");
                    let mut args = vec![if *i < running { "run" } else { "create" }];
                    if *i < running {
                        args.push("-d");
                    }
                    args.extend([
                        "--name", &name, "--label", "bench=1", IMAGE, "sleep", "3600",
                    ]);
                    docker.run(&args).expect("container");
                }
            });
        }
    });
    println!(
        "{} containers created in {:.1} s: {total} on the device, {} running",
        total - existing,
        started.elapsed().as_secs_f64(),
        running.min(total)
    );
}

/// Refreshes `s`'s collection of the list (one remote `docker ps`), then renders the cached
/// answer once and checks whether the next one is a replay; returns (replayed, body).
async fn refresh(s: &TestServer, size: usize) -> (bool, axum::body::Bytes) {
    let (status, live) = s.get(&format!("{LIST}?live=true")).await;
    assert_eq!(status, 200, "{live}");
    assert_eq!(live["total_count"], size, "{live}");
    let url = s.url(LIST);
    let mut replayed = false;
    let mut body = axum::body::Bytes::new();
    for _ in 0..2 {
        let r = s.client.get(&url).send().await.expect("cached list");
        assert!(r.status().is_success(), "{}", r.status());
        replayed = r
            .headers()
            .get("x-answer-cache")
            .is_some_and(|v| v == "replay");
        body = r.bytes().await.expect("body");
    }
    let parsed: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(parsed["total_count"], size);
    assert_eq!(parsed["collection_metadata"]["cache_hit"], true, "{parsed}");
    (replayed, body)
}

/// The rounds of one size; returns its summary line.
async fn measure_size(
    on: &TestServer,
    off: &TestServer,
    device: &Sshd,
    size: usize,
    round: Duration,
) -> String {
    device.reset_invocations("docker").expect("reset");
    let t = Instant::now();
    refresh(on, size).await;
    let live_ms = ms(t.elapsed());
    let list_runs = device.invocations("docker");
    device.reset_invocations("docker").expect("reset");
    let t = Instant::now();
    let (status, stats) = on.get("/api/containers/box/stats?all=true&live=true").await;
    let stats_ms = ms(t.elapsed());
    assert_eq!(status, 200, "{stats}");
    println!(
        "\n{size} containers: live list {list_runs} remote docker run(s) (and 2 cached reads), \
         {live_ms:.0} ms; all-container stats ({} rows): {} remote docker run(s), \
         {stats_ms:.0} ms (target: 1 each)",
        stats["container_count"],
        device.invocations("docker")
    );
    let (replay_on, body) = refresh(on, size).await;
    let (replay_off, body_off) = refresh(off, size).await;
    assert!(replay_on, "the answer cache replays the cached list");
    assert!(!replay_off, "no replay with plugins.answer_cache_mb = 0");
    let native = bare_server::bare_json_server(body.clone()).await;
    let native_url = format!("http://{native}/list");
    let check = on.client.get(&native_url).send().await.expect("native");
    assert_eq!(check.bytes().await.expect("body"), body);
    let (list_on, list_off, status_url) = (on.url(LIST), off.url(LIST), on.url("/api/status"));
    for url in [&status_url, &native_url, &list_on, &list_off] {
        concurrent(&on.client, url, 4, 50).await;
    }
    println!(
        "{size} containers: the cached list is {:.1} KB of JSON ({} bytes with the cache \
         off); {ROUNDS} rounds of {:.0} s per measurement at {CONNECTIONS} connections",
        body.len() as f64 / 1024.0,
        body_off.len(),
        round.as_secs_f64()
    );
    let mut rows: Vec<[Load; 4]> = Vec::new();
    for r in 1..=ROUNDS {
        device.reset_invocations("docker").expect("reset");
        let ceiling = concurrent_for(&native_url, CONNECTIONS, round).await;
        let status = concurrent_for(&status_url, CONNECTIONS, round).await;
        refresh(on, size).await;
        device.reset_invocations("docker").expect("reset");
        let cached = concurrent_for(&list_on, CONNECTIONS, round).await;
        let runs_on = device.invocations("docker");
        refresh(off, size).await;
        device.reset_invocations("docker").expect("reset");
        let uncached = concurrent_for(&list_off, CONNECTIONS, round).await;
        let runs_off = device.invocations("docker");
        println!("round {r}:");
        line("same bytes from a bare axum handler", &ceiling);
        line("GET /api/status (server, native route)", &status);
        line("GET /api/containers/box, answer cache on", &cached);
        line("the same, answer cache off", &uncached);
        println!(
            "  ratios: list / same bytes {:.3}   list / status {:.3}   \
             answer cache gain (on / off) {:.2}×   off / same bytes {:.3}",
            cached.requests_per_sec / ceiling.requests_per_sec,
            cached.requests_per_sec / status.requests_per_sec,
            cached.requests_per_sec / uncached.requests_per_sec,
            uncached.requests_per_sec / ceiling.requests_per_sec,
        );
        println!(
            "  remote docker runs while measuring the lists: {runs_on} (on), {runs_off} (off)"
        );
        rows.push([ceiling, status, cached, uncached]);
    }
    let med = |f: &dyn Fn(&[Load; 4]) -> f64| {
        let mut v: Vec<f64> = rows.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    format!(
        "{size:>3} containers: cached list {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms); \
         list / same bytes {:.3}, list / status {:.3}, answer cache gain {:.2}× \
         (cache off {:.0} req/s, p99 {:.2} ms; same bytes {:.0} req/s; status {:.0} req/s)",
        med(&|r| r[2].requests_per_sec),
        med(&|r| ms(r[2].p50)),
        med(&|r| ms(r[2].p99)),
        med(&|r| r[2].requests_per_sec / r[0].requests_per_sec),
        med(&|r| r[2].requests_per_sec / r[1].requests_per_sec),
        med(&|r| r[2].requests_per_sec / r[3].requests_per_sec),
        med(&|r| r[3].requests_per_sec),
        med(&|r| ms(r[3].p99)),
        med(&|r| r[0].requests_per_sec),
        med(&|r| r[1].requests_per_sec),
    )
}

fn line(what: &str, load: &Load) {
    println!(
        "  {what:<42} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        load.requests_per_sec,
        ms(load.p50),
        ms(load.p99)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
