//! Benchmark: `GET /api/containers/{host}` served from the collector cache at 32 concurrent
//! connections, with 200 containers on the device (a private dockerd reached over real SSH),
//! next to two baselines measured in the same run and the same process:
//! - `GET /api/status`, the server's own native route (its ceiling through the whole stack);
//! - a bare native axum handler serving the very bytes of the cached list (what moving that
//!   JSON over loopback HTTP costs, without plugin, collector or middleware).
//!
//! Every round is printed with both ratios; nothing is compared with numbers from another
//! run. Also counts the remote `docker` runs of one live list and of one all-container stats
//! (target: 1 each).
//!
//! Run: `cargo bench -p infrastructor-tests --bench containers_list`.

use std::time::{Duration, Instant};

use infrastructor_tests::load::{Load, concurrent};
use infrastructor_tests::server_with_device;
use infrastructor_tests::testbed::{Docker, Sshd, SshdOptions};

const IMAGE: &str = "tb-busybox:bench";
const CONTAINERS: usize = 200;
const RUNNING: usize = 20;
const ROUNDS: usize = 5;
const CONNECTIONS: usize = 32;

fn main() {
    let docker = Docker::start().expect("dockerd");
    docker.build_busybox_image(IMAGE).expect("image");
    let started = Instant::now();
    let indices: Vec<usize> = (0..CONTAINERS).collect();
    std::thread::scope(|scope| {
        for chunk in indices.chunks(CONTAINERS / 8) {
            let docker = &docker;
            scope.spawn(move || {
                for i in chunk {
                    let name = format!("bench-{i:03}");
                    let verb = if *i < RUNNING { "run" } else { "create" };
                    let mut args = vec![verb];
                    if *i < RUNNING {
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
        "{CONTAINERS} containers ({RUNNING} running) created in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    device.use_docker(&docker).expect("use_docker");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let s = server_with_device(&device, "box", false, |_| {}).await;

        device.count_invocations("docker").expect("counter");
        let t = Instant::now();
        let (status, list) = s.get("/api/containers/box?live=true").await;
        let live_ms = t.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["total_count"], CONTAINERS);
        let list_runs = device.invocations("docker");
        device.reset_invocations("docker").expect("reset");
        let t = Instant::now();
        let (status, stats) = s.get("/api/containers/box/stats?all=true&live=true").await;
        let stats_ms = t.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(status, 200, "{stats}");
        let stats_runs = device.invocations("docker");
        println!(
            "live list of {CONTAINERS}: {list_runs} remote docker run(s), {live_ms:.0} ms; \
             all-container stats ({} rows): {stats_runs} remote docker run(s), {stats_ms:.0} ms \
             (target: 1 each)",
            stats["container_count"]
        );

        let list_url = s.url("/api/containers/box");
        let status_url = s.url("/api/status");
        // The cached list's exact bytes, served by a bare axum handler in this process.
        let cached = s.client.get(&list_url).send().await.expect("cached list");
        assert!(cached.status().is_success(), "{}", cached.status());
        let body = cached.bytes().await.expect("body");
        let size = body.len();
        let native = native_server(body).await;
        let native_url = format!("http://{native}/list");
        let check = s.client.get(&native_url).send().await.expect("native");
        assert_eq!(check.bytes().await.expect("body").len(), size);

        // Warm up every path (and keep the collector's cache filled).
        for url in [&list_url, &status_url, &native_url] {
            concurrent(&s.client, url, 4, 50).await;
        }
        println!(
            "{ROUNDS} rounds at {CONNECTIONS} connections; the cached list is {} KB of JSON",
            size / 1024
        );
        let (mut vs_status, mut vs_native) = (Vec::new(), Vec::new());
        for round in 1..=ROUNDS {
            let ceiling = concurrent(&s.client, &status_url, CONNECTIONS, 200).await;
            let bytes = concurrent(&s.client, &native_url, CONNECTIONS, 100).await;
            let list = concurrent(&s.client, &list_url, CONNECTIONS, 100).await;
            let (a, b) = (
                list.requests_per_sec / ceiling.requests_per_sec,
                list.requests_per_sec / bytes.requests_per_sec,
            );
            println!("round {round}:");
            line("GET /api/status (server, native route)", &ceiling);
            line("same bytes from a bare axum handler", &bytes);
            line("GET /api/containers/box (cached)", &list);
            println!("  ratio list / status {a:.3}   list / same bytes {b:.3}");
            vs_status.push(a);
            vs_native.push(b);
        }
        println!(
            "list / status over {ROUNDS} rounds: {}; list / same bytes: {}",
            spread(&vs_status),
            spread(&vs_native)
        );
        s.stop().await;
    });
    drop(device);
    drop(docker);
}

/// A bare axum server on loopback answering `GET /list` with `body` as JSON; its address.
async fn native_server(body: axum::body::Bytes) -> std::net::SocketAddr {
    let app = axum::Router::new().route(
        "/list",
        axum::routing::get(move || {
            let body = body.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn line(what: &str, load: &Load) {
    println!(
        "  {what:<40} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        load.requests_per_sec,
        ms(load.p50),
        ms(load.p99)
    );
}

/// `min–max (median m)` of per-round ratios.
fn spread(ratios: &[f64]) -> String {
    let mut v = ratios.to_vec();
    v.sort_by(f64::total_cmp);
    format!(
        "{:.3}–{:.3} (median {:.3})",
        v[0],
        v[v.len() - 1],
        v[v.len() / 2]
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
