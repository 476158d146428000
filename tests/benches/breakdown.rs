//! Benchmark: where the time of one cached plugin GET goes — `GET /api/containers/{host}`
//! with 20 containers on a private dockerd reached over real SSH, its collection in the
//! collector's cache.
//!
//! Every stage is measured in this run, in this process, one request at a time (medians of
//! interleaved rounds), and the breakdown is the differences:
//! - the HTTP round trip: a bare axum handler serving `/api/status`'s bytes, and the
//!   difference the answer's bytes make (the same handler serving those);
//! - the server's edge (request id, tracing, guard, router) on `GET /api/status`, and the
//!   API key check (a server with keys, same route, with its key);
//! - the plugin route's own glue (scope, parameter validation, request, response) = the
//!   uncached plugin GET over HTTP − `/api/status` − the in-process call below;
//! - the in-process call (`LoadedPlugin::handle`, no HTTP): a fresh instance, the guest's
//!   `App`, the handler, the collector hit crossing into the guest and the answer out;
//!   split into the instance + `App` floor (an unknown operation id: the guest builds its
//!   `App` and answers an error at once), the collector hit on the host
//!   (`Collector::collect` served from the cache) and the guest's own work (the rest);
//! - the answer cache: a replayed GET over HTTP, and its check alone
//!   (`Collector::replay`).
//!
//! Run: `cargo bench -p infrastructor-tests --bench breakdown`; `PROFILE_STAGE=instance`
//! loops the in-process call of an unknown operation (instance + guest `App`), and
//! `PROFILE_STAGE=plugin|replay|status` one HTTP stage, for `perf record`.

#[path = "support/bare_server.rs"]
mod bare_server;

use std::sync::Arc;
use std::time::Duration;

use infrastructor::collector;
use infrastructor::config::Scope;
use infrastructor::plugins::manifest::RouteMethod;
use infrastructor::plugins::{CallContext, LoadedPlugin, PluginRequest};
use infrastructor_tests::api_key;
use infrastructor_tests::load::{median, times, times_on_one_thread};
use infrastructor_tests::testbed::{Docker, Sshd, SshdOptions};
use infrastructor_tests::{TestServer, server_with_device};

const IMAGE: &str = "tb-busybox:breakdown";
const CONTAINERS: usize = 20;
const ROUNDS: usize = 5;
const PER_ROUND: usize = 400;
const KEY: &str = "breakdown-key-0123456789";

fn main() {
    let docker = Docker::start().expect("dockerd");
    docker.build_busybox_image(IMAGE).expect("image");
    for i in 0..CONTAINERS {
        let name = format!("bd-{i:02}");
        docker
            .run(&["create", "--name", &name, IMAGE, "sleep", "3600"])
            .expect("container");
    }
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    device.use_docker(&docker).expect("use_docker");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(&device));
    drop(device);
    drop(docker);
}

/// Median of `n` timings of `f` where it is called (the `block_on` thread for the HTTP
/// stages, as a client apart would be).
async fn time<F, Fut>(n: usize, f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    median(&mut times(n, f, false).await)
}

/// Median of `n` timings of `f` on a thread serving it alone, as a worker serves one connection ([`times_on_one_thread`]).
async fn time_on_one_thread<F, Fut>(n: usize, f: F) -> Duration
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    median(&mut times_on_one_thread(n, f))
}

/// The request of `GET /api/containers/box` (all containers, cached) as the operation `op`.
fn request(op: &str) -> PluginRequest {
    PluginRequest {
        operation_id: op.into(),
        method: RouteMethod::Get,
        path: "/box".into(),
        path_params: vec![("hostname".into(), "box".into())],
        query: vec![
            ("all_containers".into(), "true".into()),
            ("offset".into(), "0".into()),
            ("live".into(), "false".into()),
            ("timeout".into(), "60".into()),
        ],
        body: None,
        request_id: "breakdown".into(),
        principal: None,
    }
}

/// A call of an operation the plugin does not have: a fresh instance and the guest's
/// dispatch to "no such operation", nothing else.
async fn unknown_operation(plugin: Arc<LoadedPlugin>) {
    let answer = plugin
        .handle(request("no_such_operation"), CallContext::default())
        .await;
    assert!(answer.is_err(), "an unknown operation is an error");
}

async fn get(client: &reqwest::Client, url: &str, key: Option<&str>) {
    let mut r = client.get(url);
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    let r = r.send().await.expect("send");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    let _ = r.bytes().await.expect("body");
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn run(device: &Sshd) {
    let cached = server_with_device(device, "box", false, |_| {}).await;
    let uncached =
        server_with_device(device, "box", false, |c| c.plugins.answer_cache_mb = 0).await;
    let keyed_server = TestServer::start(&[], |c| {
        c.rate_limit.enabled = false;
        c.auth.keys = vec![api_key("bench", KEY, Scope::Write)];
    })
    .await;
    let client = reqwest::Client::new();
    let list = "/api/containers/box";
    let body = reqwest::get(cached.url(list))
        .await
        .expect("list")
        .bytes()
        .await
        .expect("body");
    let size = body.len();
    let status_body = reqwest::get(cached.url("/api/status"))
        .await
        .expect("status")
        .bytes()
        .await
        .expect("body");
    let floor_addr = bare_server::bare_json_server(body).await;
    let small_addr = bare_server::bare_json_server(status_body).await;
    let urls = Urls {
        floor: format!("http://{floor_addr}/list"),
        floor_small: format!("http://{small_addr}/list"),
        status: cached.url("/api/status"),
        status_keyed: keyed_server.url("/api/status"),
        replay: cached.url(list),
        plugin: uncached.url(list),
    };

    let state = uncached.app_state().clone();
    let plugin = state
        .plugins()
        .get("containers")
        .expect("containers")
        .clone();
    // The collection the in-process calls read (re-collected at each round's start, well
    // within its 15 s max age for the round), and the reads a stored answer would keep.
    let fresh_reads = || async {
        get(&client, &format!("{}?live=true", urls.plugin), None).await;
        let (_, reads) = plugin
            .handle_traced(request("list_containers"), CallContext::default())
            .await
            .expect("traced call");
        reads.expect("a cached list reads only its collection")
    };

    // Warm every path (and keep the collection cached: its max age is 15 s, each round
    // reads it again well within that).
    for url in urls.all() {
        for _ in 0..100 {
            get(&client, url, urls.key_for(url)).await;
        }
    }

    if let Ok(which) = std::env::var("PROFILE_STAGE") {
        // For `perf record`: one stage only, many times.
        if which == "instance" {
            // On a thread serving it alone, yielding between calls, as the measured stage runs.
            let on_worker = plugin.clone();
            times_on_one_thread(2_000_000, move || unknown_operation(on_worker.clone()));
            return;
        }
        let url = match which.as_str() {
            "replay" => &urls.replay,
            "status" => &urls.status,
            _ => &urls.plugin,
        };
        for _ in 0..30_000 {
            get(&client, url, None).await;
        }
        return;
    }
    let mut m = Measures::default();
    for _ in 0..ROUNDS {
        let reads = fresh_reads().await;
        m.floor
            .push(time(PER_ROUND, || get(&client, &urls.floor, None)).await);
        m.floor_small
            .push(time(PER_ROUND, || get(&client, &urls.floor_small, None)).await);
        m.status
            .push(time(PER_ROUND, || get(&client, &urls.status, None)).await);
        m.keyed
            .push(time(PER_ROUND, || get(&client, &urls.status_keyed, Some(KEY))).await);
        m.plugin
            .push(time(PER_ROUND, || get(&client, &urls.plugin, None)).await);
        m.replay
            .push(time(PER_ROUND, || get(&client, &urls.replay, None)).await);
        let on_worker = plugin.clone();
        m.handle.push(
            time_on_one_thread(PER_ROUND, move || {
                let plugin = on_worker.clone();
                async move {
                    plugin
                        .handle(request("list_containers"), CallContext::default())
                        .await
                        .expect("handle");
                }
            })
            .await,
        );
        let on_worker = plugin.clone();
        m.instance.push(
            time_on_one_thread(PER_ROUND, move || unknown_operation(on_worker.clone())).await,
        );
        m.hit.push(
            time(PER_ROUND, || async {
                let outcome = state
                    .services
                    .collector
                    .collect(hit_request(), |_| async {
                        Err(infrastructor::fault::Fault::internal("bench: not cached"))
                    })
                    .await
                    .expect("cached");
                assert!(outcome.cache_hit);
            })
            .await,
        );
        m.check.push(
            time(PER_ROUND, || async {
                assert!(state.services.collector.replay(&reads));
            })
            .await,
        );
    }
    let mid = |v: &mut Vec<Duration>| us(median(v));
    let floor = mid(&mut m.floor);
    let floor_small = mid(&mut m.floor_small);
    let status = mid(&mut m.status);
    let keyed = mid(&mut m.keyed);
    let plugin_http = mid(&mut m.plugin);
    let replay = mid(&mut m.replay);
    let handle = mid(&mut m.handle);
    let instance = mid(&mut m.instance);
    let hit = mid(&mut m.hit);
    let check = mid(&mut m.check);
    let transfer = floor - floor_small;
    let glue = plugin_http - status - transfer - handle;
    let guest = handle - instance - hit;

    println!(
        "cached GET /api/containers/box ({CONTAINERS} containers, {} KB), medians of {ROUNDS}×{PER_ROUND} sequential requests:",
        size / 1024
    );
    let row = |what: &str, v: f64| {
        println!(
            "  {what:<58} {v:>8.1} µs  {:>5.1} %",
            100.0 * v / plugin_http
        )
    };
    row(
        "HTTP round trip (bare axum handler, /api/status's bytes)",
        floor_small,
    );
    row(
        "  + the answer's bytes instead (bare axum handler)",
        transfer,
    );
    row(
        "server edge (request id, tracing, guard, router)",
        status - floor_small,
    );
    row(
        "  + API key check (a keyed server, same route)",
        keyed - status,
    );
    row(
        "plugin route glue (scope, validation, request, response)",
        glue,
    );
    row("fresh instance + guest App (unknown operation)", instance);
    row("collector hit on the host (key, cache, hit count)", hit);
    row(
        "guest work (handler; collected bytes in, answer out)",
        guest,
    );
    row("= uncached plugin GET over HTTP", plugin_http);
    println!("answer cache:");
    row("replayed GET over HTTP", replay);
    row("  of which the replay check (Collector::replay)", check);
    println!(
        "  replay / uncached = {:.3}   replay / GET /api/status = {:.3}   replay / bare handler = {:.3}",
        replay / plugin_http,
        replay / status,
        replay / floor
    );
    cached.stop().await;
    uncached.stop().await;
    keyed_server.stop().await;
}

/// The collect request the containers plugin makes for `box` (its cache key).
fn hit_request() -> collector::Request {
    collector::Request {
        plugin: "containers".into(),
        data_type: "containers".into(),
        target: "box".into(),
        params: Vec::new(),
        steps: Vec::new(),
        parser: "containers".into(),
        max_age: Duration::from_secs(15),
        force_refresh: false,
        requester: None,
        hosts: infrastructor::remote::HostAccess::RegisteredOnly,
    }
}

struct Urls {
    floor: String,
    floor_small: String,
    status: String,
    status_keyed: String,
    replay: String,
    plugin: String,
}

impl Urls {
    fn all(&self) -> [&String; 6] {
        [
            &self.floor,
            &self.floor_small,
            &self.status,
            &self.status_keyed,
            &self.replay,
            &self.plugin,
        ]
    }

    fn key_for(&self, url: &str) -> Option<&'static str> {
        (url == self.status_keyed).then_some(KEY)
    }
}

#[derive(Default)]
struct Measures {
    floor: Vec<Duration>,
    floor_small: Vec<Duration>,
    status: Vec<Duration>,
    keyed: Vec<Duration>,
    plugin: Vec<Duration>,
    replay: Vec<Duration>,
    handle: Vec<Duration>,
    instance: Vec<Duration>,
    hit: Vec<Duration>,
    check: Vec<Duration>,
}
