//! Benchmark: the same trivial route served through a WASM plugin (`GET /api/hello/ping`)
//! and by a native axum handler (`GET /api/status`), through the same middleware stack, over
//! real loopback HTTP, in one run. Prints medians, the ratio and the absolute per-request
//! overhead (and how much of it is the server's own time, from its `x-process-time`
//! header), for a client apart, one on the server's runtime, and one pinned to a CPU of its
//! own with every server thread on another; the same two routes through the server's router
//! in process (the server's own time, without sockets or thread wake-ups), throughput at 32
//! connections, and the bare instantiate+call cost.
//!
//! Run: `cargo bench -p infrastructor-tests --bench plugin_overhead`; `PROFILE_STAGE=handle`
//! loops the in-process call only, for `perf record`; `PROFILE_ROUTE=/api/…` hammers one
//! route from a client apart and prints its percentiles (`PROFILE_REQUESTS=N`, and
//! `PROFILE_CONNS=C` for C connections at once, `PROFILE_SHARED=1` for a client on the
//! server's runtime), for `perf stat`; `PROFILE_IN_PROCESS=/api/…`
//! loops one route through the server's router in process.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use infrastructor::plugins::manifest::RouteMethod;
use infrastructor::plugins::{CallContext, LoadedPlugin, PluginRequest};
use infrastructor_tests::TestServer;
use infrastructor_tests::load::{
    concurrent, median, percentile, sequential, sequential_timed, times_on_one_thread,
};

/// Interleaved rounds of each measure, and requests per route in a round.
const ROUNDS: usize = 10;
const PER_ROUND: usize = 500;

/// Sequential round trips of `client` to both routes after a warm-up (compile caches,
/// connection pool, branch predictors), in interleaved rounds; their medians, and those of
/// the server's own time for them.
async fn round_trips(client: &reqwest::Client, native_url: &str, plugin_url: &str) -> RunMedians {
    sequential(client, plugin_url, 300).await;
    sequential(client, native_url, 300).await;
    let (mut native, mut plugin) = (Vec::new(), Vec::new());
    let (mut native_server, mut plugin_server) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (trips, own) = sequential_timed(client, native_url, PER_ROUND).await;
        native.extend(trips);
        native_server.extend(own);
        let (trips, own) = sequential_timed(client, plugin_url, PER_ROUND).await;
        plugin.extend(trips);
        plugin_server.extend(own);
    }
    RunMedians {
        native: median(&mut native),
        plugin: median(&mut plugin),
        native_server: median(&mut native_server),
        plugin_server: median(&mut plugin_server),
    }
}

/// Calls of hello's `GET /ping` in process (no HTTP), one per call of the closure.
fn handle_ping(
    plugin: Arc<LoadedPlugin>,
) -> impl FnMut() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + 'static {
    move || {
        let plugin = plugin.clone();
        Box::pin(async move {
            let request = PluginRequest {
                operation_id: "ping".into(),
                method: RouteMethod::Get,
                path: "/ping".into(),
                path_params: vec![],
                query: vec![],
                body: None,
                request_id: "bench".into(),
                principal: None,
            };
            plugin
                .handle(request, CallContext::default())
                .await
                .expect("call");
        })
    }
}

/// One API version's build of hello, and what was measured of it in process.
struct Version {
    name: &'static str,
    plugin: Arc<LoadedPlugin>,
    /// Each call's time.
    calls: Vec<Duration>,
    /// The measuring threads' wall time over all the calls (their clean-up included).
    wall: Duration,
}

/// Runs `load` with a new client on a thread and current-thread runtime of its own (as a
/// separate client process would be), pinned to `cpu` when given, and returns what it
/// returns.
fn client_apart<T, F, Fut>(cpu: Option<usize>, load: F) -> T
where
    T: Send + 'static,
    F: FnOnce(reqwest::Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
{
    std::thread::spawn(move || {
        if let Some(cpu) = cpu {
            pin_to(cpu);
        }
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime")
            .block_on(load(reqwest::Client::new()))
    })
    .join()
    .expect("client thread")
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).expect("affinity");
    (0..nix::sched::CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect()
}

/// Pins the calling thread (and the threads it starts afterwards) to `cpu`.
fn pin_to(cpu: usize) {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).expect("a CPU number");
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).expect("pin");
}

/// Medians of one run's round trips, and of the server's own time for them (its
/// `x-process-time`: from the request's arrival at the edge to its answer; the round trip
/// adds the sockets, the client, and the wake-ups of the threads that wait).
#[derive(Debug, Clone, Copy)]
struct RunMedians {
    native: Duration,
    plugin: Duration,
    native_server: Duration,
    plugin_server: Duration,
}

/// Starts a server with hello on a runtime of its own (new worker threads, and every one of
/// its threads on `cpu` when given: its workers, its blocking pool, the engine's epoch
/// ticker), runs `measure` with the server's client and the URLs of the native and the
/// plugin route, and stops it.
fn on_a_fresh_server<T, F, Fut>(cpu: Option<usize>, measure: F) -> T
where
    T: Send + 'static,
    F: FnOnce(reqwest::Client, String, String) -> Fut + Send + 'static,
    Fut: Future<Output = T>,
{
    std::thread::spawn(move || {
        if let Some(cpu) = cpu {
            pin_to(cpu);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let s = TestServer::start(&["hello"], |c| c.rate_limit.enabled = false).await;
            let measured = measure(
                s.client.clone(),
                s.url("/api/status"),
                s.url("/api/hello/ping"),
            )
            .await;
            s.stop().await;
            measured
        })
    })
    .join()
    .expect("a fresh server's run")
}

/// Round trips to a fresh server from a client on its runtime and from one apart: (on the
/// runtime, apart).
fn round_trips_on_a_fresh_server() -> (RunMedians, RunMedians) {
    on_a_fresh_server(None, |client, native_url, plugin_url| async move {
        let shared = round_trips(&client, &native_url, &plugin_url).await;
        let apart = client_apart(None, move |client| async move {
            round_trips(&client, &native_url, &plugin_url).await
        });
        (shared, apart)
    })
}

/// Round trips to a fresh server whose every thread runs on `server_cpu`, from a client
/// pinned to `client_cpu`. The nearest this machine comes to a client on another machine:
/// the client's CPU time and wake-ups never share a CPU with the server's.
fn round_trips_on_cpus_of_their_own(server_cpu: usize, client_cpu: usize) -> RunMedians {
    on_a_fresh_server(
        Some(server_cpu),
        move |_, native_url, plugin_url| async move {
            client_apart(Some(client_cpu), move |client| async move {
                round_trips(&client, &native_url, &plugin_url).await
            })
        },
    )
}

/// Prints each run's medians and ratio, and the median, lowest and highest ratio; returns
/// the median of the runs' absolute overheads, in seconds (negative when the plugin route
/// was faster).
fn report_runs(label: &str, runs: &[RunMedians]) -> f64 {
    println!("  {label}:");
    let mut ratios = Vec::new();
    let mut overheads = Vec::new();
    let mut server_overheads = Vec::new();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    for run in runs.iter() {
        let ratio = run.plugin.as_secs_f64() / run.native.as_secs_f64();
        println!(
            "    native median {:>6.1} µs (server {:>4.1}), plugin median {:>6.1} µs (server {:>4.1}), ratio {ratio:.3}",
            us(run.native),
            us(run.native_server),
            us(run.plugin),
            us(run.plugin_server)
        );
        ratios.push(ratio);
        overheads.push(run.plugin.as_secs_f64() - run.native.as_secs_f64());
        server_overheads.push(run.plugin_server.as_secs_f64() - run.native_server.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    overheads.sort_by(f64::total_cmp);
    server_overheads.sort_by(f64::total_cmp);
    let mid = |v: &[f64]| v[(v.len() - 1) / 2];
    let overhead = mid(&overheads);
    println!(
        "    ratio plugin/native: median of the runs {:.3} (lowest {:.3}, highest {:.3}; target ≤ 1.10); overhead median {:.1} µs per request, of which the server's own time {:.1} µs",
        mid(&ratios),
        ratios[0],
        ratios[ratios.len() - 1],
        overhead * 1e6,
        mid(&server_overheads) * 1e6
    );
    overhead
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(bench());
}

/// A server with only hello, built for wasm32-wasip2 here (the plugin builder's nested
/// cargo, cached in `target/wasm-guests` after the first run).
async fn server_with_hello_for_wasip2() -> TestServer {
    use infrastructor_plugin_builder::{WASI_TARGET, build_guests_for};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let dir = tempfile::tempdir().expect("tempdir");
    let built = build_guests_for(
        root,
        &["test-plugin-hello"],
        WASI_TARGET,
        &dir.path().join("built"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut config = infrastructor_tests::test_config(dir.path(), &[]);
    std::fs::copy(&built[0].path, config.plugins.dir.join("hello.wasm")).expect("copy");
    config.rate_limit.enabled = false;
    config.plugins.max_instances = infrastructor::config::Config::default()
        .plugins
        .max_instances;
    TestServer::start_with(dir, config).await
}

async fn bench() {
    // The server's default instance budget (the tests' 16 would make 32 connections
    // queue for instances).
    let s = TestServer::start(&["hello", "hello-v010"], |c| {
        c.rate_limit.enabled = false;
        c.plugins.max_instances = infrastructor::config::Config::default()
            .plugins
            .max_instances;
    })
    .await;
    let plugin_url = s.url("/api/hello/ping");
    let native_url = s.url("/api/status");
    if let Ok(route) = std::env::var("PROFILE_ROUTE") {
        // For `perf record` / `perf stat`: hammer one route only, from a client on a
        // thread and runtime of its own.
        let n = std::env::var("PROFILE_REQUESTS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(20_000);
        let url = s.url(&route);
        // `PROFILE_CONNS=N`: N connections at once, each sending `PROFILE_REQUESTS`.
        if let Some(conns) = std::env::var("PROFILE_CONNS")
            .ok()
            .and_then(|c| c.parse().ok())
        {
            let load = client_apart(None, move |client| async move {
                concurrent(&client, &url, conns, n).await.requests_per_sec
            });
            println!("{route}: {conns} connections, {load:.0} req/s");
            s.stop().await;
            return;
        }
        // `PROFILE_SHARED=1`: the client on the server's runtime instead.
        let times = if std::env::var_os("PROFILE_SHARED").is_some() {
            sequential(&s.client, &url, n).await
        } else {
            client_apart(None, move |client| async move {
                sequential(&client, &url, n).await
            })
        };
        let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
        let mut times = times;
        println!(
            "{route}: {n} requests, median {:.1} µs, mean {:.1} µs",
            median(&mut times).as_secs_f64() * 1e6,
            mean.as_secs_f64() * 1e6
        );
        for q in [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] {
            println!(
                "  p{:.0} {:.1} µs",
                q * 100.0,
                percentile(&mut times, q).as_secs_f64() * 1e6
            );
        }
        s.stop().await;
        return;
    }
    // The same two routes through the server's complete router in process: every
    // middleware and handler, no sockets, no client, no thread hand-over. What the server
    // itself spends on each; a round trip adds the wake-ups of the threads that wait for
    // it, which grow with the time the server takes. (`PROFILE_IN_PROCESS` loops one of
    // them before the round trips, which it skips.)
    let router = s.router();
    // On a thread serving them alone, as a worker serves one connection ([`times_on_one_thread`]).
    let peer = axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 40000)));
    let in_process = move |path: &'static str| {
        let router = router.clone();
        move || {
            let router = router.clone();
            async move {
                let mut request = axum::http::Request::get(path)
                    .body(axum::body::Body::empty())
                    .expect("request");
                request.extensions_mut().insert(peer);
                let response = tower::ServiceExt::oneshot(router, request)
                    .await
                    .expect("infallible");
                let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                    .await
                    .expect("body");
                assert!(!body.is_empty(), "{path}: empty answer");
            }
        }
    };
    if let Ok(route) = std::env::var("PROFILE_IN_PROCESS") {
        // For `perf record`: one route through the router in process, many times.
        let route: &'static str = Box::leak(route.into_boxed_str());
        let n = std::env::var("PROFILE_REQUESTS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000);
        let started = std::time::Instant::now();
        let mut calls = times_on_one_thread(n, in_process(route));
        println!(
            "{route} in process: {n} calls in {:.2?}, median {:.1?}",
            started.elapsed(),
            median(&mut calls)
        );
        return;
    }
    // Sequential round trips, over fresh servers: on a small VM where the kernel places a
    // run's threads (beside each other, or on a vCPU that must be woken for every
    // request) decides which of two latency modes far apart a whole run lands in, so one
    // server gives one draw. Every run here starts its own runtime and server.
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(7)
        .max(1);
    let (mut shared, mut apart) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (s, a) = round_trips_on_a_fresh_server();
        shared.push(s);
        apart.push(a);
    }
    println!(
        "loopback HTTP round trips, sequential, keep-alive: {runs} fresh servers, {} requests per route each",
        ROUNDS * PER_ROUND
    );
    let apart_overhead = report_runs(
        "client on a thread and runtime of its own (as a client process is)",
        &apart,
    );
    report_runs("client on the server's runtime", &shared);
    // The same with the client and the server on CPUs of their own (fresh servers too).
    match allowed_cpus()[..] {
        [server_cpu, client_cpu, ..] => {
            let pinned: Vec<RunMedians> = (0..runs)
                .map(|_| round_trips_on_cpus_of_their_own(server_cpu, client_cpu))
                .collect();
            report_runs(
                &format!(
                    "client pinned to CPU {client_cpu}, every server thread to CPU {server_cpu} (as a client on another machine would share no CPU)"
                ),
                &pinned,
            );
        }
        _ => println!(
            "  client and server on CPUs of their own: not measured, this process may use one CPU only"
        ),
    }

    times_on_one_thread(300, in_process("/api/status"));
    times_on_one_thread(300, in_process("/api/hello/ping"));
    let (mut in_native, mut in_plugin) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        in_native.extend(times_on_one_thread(PER_ROUND, in_process("/api/status")));
        in_plugin.extend(times_on_one_thread(
            PER_ROUND,
            in_process("/api/hello/ping"),
        ));
    }
    let (ipm, inm) = (median(&mut in_plugin), median(&mut in_native));
    println!(
        "the server's complete router in process (no sockets), {} requests each:",
        ROUNDS * PER_ROUND
    );
    println!(
        "  native GET /api/status median {:>6.1} µs; plugin GET /api/hello/ping median {:>6.1} µs",
        inm.as_secs_f64() * 1e6,
        ipm.as_secs_f64() * 1e6
    );
    println!(
        "  plugin − native = {:.1} µs of server time per request; the round trip's median overhead (client apart) / this = {:.2}",
        (ipm.as_secs_f64() - inm.as_secs_f64()) * 1e6,
        apart_overhead / (ipm.as_secs_f64() - inm.as_secs_f64())
    );

    let wasip2 = server_with_hello_for_wasip2().await;
    let old_url = s.url("/api/hello-v010/ping");
    let rn = concurrent(&s.client, &native_url, 32, 300)
        .await
        .requests_per_sec;
    let rp = concurrent(&s.client, &plugin_url, 32, 300)
        .await
        .requests_per_sec;
    let ro = concurrent(&s.client, &old_url, 32, 300)
        .await
        .requests_per_sec;
    println!(
        "throughput at 32 connections: native {rn:.0} req/s, plugin {rp:.0} req/s, ratio {:.3}",
        rp / rn
    );
    // The same load from a client apart: its tasks then do not share the server's two
    // workers with the server's own tasks (a call's clean-up and its next instance).
    let (an, ap) = {
        let (native_url, plugin_url) = (native_url.clone(), plugin_url.clone());
        client_apart(None, move |client| async move {
            let n = concurrent(&client, &native_url, 32, 300)
                .await
                .requests_per_sec;
            let p = concurrent(&client, &plugin_url, 32, 300)
                .await
                .requests_per_sec;
            (n, p)
        })
    };
    println!(
        "  from a client on a thread of its own: native {an:.0} req/s, plugin {ap:.0} req/s, ratio {:.3}",
        ap / an
    );
    println!(
        "  the same plugin built against API 0.1.0: {ro:.0} req/s, ratio to 0.2.0 {:.3}",
        ro / rp
    );
    // Hello as built against hello built for wasm32-wasip2 (on the second server), in
    // alternating rounds.
    let (mut lean, mut wasi) = (Vec::new(), Vec::new());
    let wasip2_url = wasip2.url("/api/hello/ping");
    for _ in 0..3 {
        for (url, into) in [(&plugin_url, &mut lean), (&wasip2_url, &mut wasi)] {
            into.push(concurrent(&s.client, url, 32, 300).await.requests_per_sec);
        }
    }
    let median_of = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (lean, wasi) = (median_of(&mut lean), median_of(&mut wasi));
    println!(
        "  hello as built (wasm32-unknown-unknown, no WASI) {lean:.0} req/s, built for wasm32-wasip2 {wasi:.0} req/s (medians of 3 alternating rounds), ratio {:.3}",
        wasi / lean
    );

    // The same plugin built against API 0.2.0 and against the frozen 0.1.0 (served by
    // conversion), and hello built for wasm32-wasip2 (linking WASI's standard library, as a
    // plain `cargo build` of a scaffolded plugin does) on a second server, measured in
    // alternating rounds.
    let mut per_version = Vec::new();
    for (name, server) in [("hello-v010", &s), ("hello", &s), ("hello", &wasip2)] {
        let plugin = server
            .app_state()
            .plugins()
            .get(name)
            .expect("loaded")
            .clone();
        times_on_one_thread(200, handle_ping(plugin.clone()));
        per_version.push(Version {
            name: if std::ptr::eq(server, &wasip2) {
                "hello built for wasm32-wasip2"
            } else {
                name
            },
            plugin,
            calls: Vec::new(),
            wall: Duration::ZERO,
        });
    }
    if std::env::var("PROFILE_STAGE").as_deref() == Ok("handle") {
        // For `perf record`: the in-process call of hello (API 0.2.0) only, many times, on
        // a worker as measured below.
        times_on_one_thread(300_000, handle_ping(per_version[1].plugin.clone()));
        return;
    }
    // On a thread serving them alone, like the in-process routes above. The thread's wall
    // time also holds each call's clean-up (its drop and the next spare, run between the
    // calls): what a call costs the server's CPU in all.
    for _ in 0..10 {
        for v in per_version.iter_mut() {
            let started = std::time::Instant::now();
            v.calls
                .extend(times_on_one_thread(500, handle_ping(v.plugin.clone())));
            v.wall += started.elapsed();
        }
    }
    let mut medians = Vec::new();
    for v in per_version.iter_mut() {
        let m = median(&mut v.calls);
        medians.push(m.as_secs_f64());
        let all_in = v.wall.as_secs_f64() / v.calls.len() as f64;
        println!(
            "plugin instantiate + handle + drop (no HTTP), {} (API {}): median {:.1} µs, p99 {:.1} µs, load {:.1} ms (target ≤ 50 µs)",
            v.name,
            v.plugin.api_version(),
            m.as_secs_f64() * 1e6,
            percentile(&mut v.calls, 0.99).as_secs_f64() * 1e6,
            v.plugin.load_time_ms
        );
        println!(
            "  with the clean-up after each call (drop, next spare): {:.1} µs of the thread's time per call, of which the clean-up ≈ {:.1} µs",
            all_in * 1e6,
            (all_in - m.as_secs_f64()) * 1e6
        );
    }
    println!(
        "  ratio API 0.1.0 / 0.2.0 per call = {:.3}",
        medians[0] / medians[1]
    );
    let thread_time = |v: &Version| v.wall.as_secs_f64() / v.calls.len().max(1) as f64;
    println!(
        "  ratio wasm32-wasip2 / as built (wasm32-unknown-unknown, no WASI) per call = {:.3}; with the clean-up = {:.3} ({:.1} µs more)",
        medians[2] / medians[1],
        thread_time(&per_version[2]) / thread_time(&per_version[1]),
        (thread_time(&per_version[2]) - thread_time(&per_version[1])) * 1e6
    );
    wasip2.stop().await;
    s.stop().await;
}
