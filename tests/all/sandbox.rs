//! The sandbox: traps, infinite loops, memory bombs and ungranted imports are contained,
//! and the server keeps serving.

use std::time::{Duration, Instant};

use infrastructor_tests::{TestServer, in_own_process, rss_bytes};

#[tokio::test]
async fn a_trap_is_a_500_and_the_next_request_succeeds() {
    let s = TestServer::start(&["trap"], |_| {}).await;
    let (status, body) = s.get("/api/trap/boom").await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "PLUGIN_FAILED");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("trap"), "{message}");
    assert_eq!(body["error"]["details"]["plugin"], "trap");
    for _ in 0..3 {
        let (status, body) = s.get("/api/trap/ok").await;
        assert_eq!(
            status, 200,
            "a fresh instance serves the next request: {body}"
        );
    }
    s.stop().await;
}

/// Every call runs in an instance that served none before: sneaky's `/remember` counts the
/// calls of its instance in a global, and answers 1 every time — to sequential calls, which
/// take the spare instance made after the call before, and to concurrent ones, which
/// outnumber the spare and instantiate their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_runs_in_an_instance_that_served_none_before() {
    let s = TestServer::start(&["sneaky"], |_| {}).await;
    let plugin = s
        .app_state()
        .plugins()
        .get("sneaky")
        .expect("sneaky loaded")
        .clone();
    let spare_made = || async {
        let until = Instant::now() + Duration::from_secs(10);
        while !plugin.has_spare() {
            assert!(
                Instant::now() < until,
                "no spare instance made after a call"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    for i in 0..10 {
        if i > 0 {
            spare_made().await;
        }
        let (status, body) = s.get("/api/sneaky/remember").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["calls_seen"], 1, "call {i}: {body}");
    }
    spare_made().await;
    let calls = (0..32).map(|_| s.get("/api/sneaky/remember"));
    for (i, (status, body)) in futures::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["calls_seen"], 1, "concurrent call {i}: {body}");
    }
    spare_made().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_hits_the_deadline_while_others_are_served() {
    let s = TestServer::start(&["spin", "hello"], |c| {
        c.plugins
            .entries
            .entry("spin".into())
            .or_default()
            .timeout_secs = 2;
    })
    .await;
    let started = Instant::now();
    let looping = {
        let client = s.client.clone();
        let url = s.url("/api/spin/forever");
        tokio::spawn(async move {
            let r = client.get(url).send().await.expect("send");
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (status, body, Instant::now())
        })
    };
    // Another plugin is served while the loop runs: count the pings answered before the
    // looping request was (an order of events, not a latency).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut answered = Vec::new();
    while !looping.is_finished() && started.elapsed() < Duration::from_secs(10) {
        let (status, _) = s.get("/api/hello/ping").await;
        assert_eq!(status, 200);
        answered.push(Instant::now());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body, ended) = looping.await.expect("join");
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["code"], "PLUGIN_DEADLINE");
    let elapsed = ended.duration_since(started);
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(6),
        "stopped at its 2 s deadline: {elapsed:?}"
    );
    let during = answered.iter().filter(|t| **t < ended).count();
    assert!(
        during >= 5,
        "other requests kept being served while the loop ran ({during} of {})",
        answered.len()
    );
    assert_eq!(s.get("/api/spin/ok").await.0, 200);
    s.stop().await;
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_and_host_memory_stays_bounded() {
    // RSS is per process: measure it where no other test runs.
    if !in_own_process("sandbox::a_memory_bomb_is_stopped_and_host_memory_stays_bounded") {
        return;
    }
    let s = TestServer::start(&["membomb"], |c| {
        c.plugins
            .entries
            .entry("membomb".into())
            .or_default()
            .memory_limit_mb = 32;
    })
    .await;
    assert_eq!(s.get("/api/membomb/ok").await.0, 200);
    let before = rss_bytes();
    for _ in 0..5 {
        let (status, body) = s.get("/api/membomb/grow").await;
        assert_eq!(status, 500, "{body}");
        assert_eq!(body["error"]["code"], "PLUGIN_MEMORY_LIMIT");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("32 MiB")
        );
    }
    let after = rss_bytes();
    let grown = after.saturating_sub(before);
    assert!(
        grown < 96 * 1024 * 1024,
        "RSS grew by {} MiB over 5 bombs",
        grown / (1024 * 1024)
    );
    assert_eq!(s.get("/api/membomb/ok").await.0, 200);
    s.stop().await;
}

#[tokio::test]
async fn ungranted_imports_are_forbidden() {
    let s = TestServer::start(&["sneaky", "hello"], |c| {
        // Granting capabilities the plugin never declared does not enable them either.
        c.plugins.entries.entry("sneaky".into()).or_default().grants = Some(vec!["storage".into()]);
    })
    .await;
    for route in [
        "/api/sneaky/steal",
        "/api/sneaky/exec",
        "/api/sneaky/registry",
    ] {
        let (status, body) = s.get(route).await;
        assert_eq!(status, 403, "{route}: {body}");
        assert_eq!(body["error"]["code"], "FORBIDDEN");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("not granted")
        );
    }
    // hello's storage still works: the denial is per plugin.
    let (status, body) = s
        .send(
            s.client
                .put(s.url("/api/hello/docs/x"))
                .json(&serde_json::json!({"a": 1})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        s.get("/api/hello/docs/x").await.1,
        serde_json::json!({"a": 1})
    );
    s.stop().await;
}

/// Pre-initialisation runs a plugin's initialiser where every import traps: hello's (and
/// every built-in's) is snapshotted, sneaky's reads its config, so it is not, and it still
/// loads and serves. The flag survives a restart from the artifact cache.
#[tokio::test]
async fn preinitialisation_snapshots_what_it_can_and_never_stops_a_load() {
    let cache = tempfile::tempdir().expect("cache dir");
    for round in ["compiled", "from the artifact cache"] {
        let dir = cache.path().to_path_buf();
        let s = TestServer::start(&["sneaky", "hello"], move |c| {
            c.plugins.cache_dir = dir;
        })
        .await;
        let (status, list) = s.get("/api/plugins").await;
        assert_eq!(status, 200, "{list}");
        let plugins = list["plugins"].as_array().expect("plugins");
        let flag = |name: &str| {
            let p = plugins
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("{name} listed: {list}"));
            (
                p["preinitialized"].clone(),
                p["compiled_from_cache"].clone(),
            )
        };
        let cached = serde_json::json!(round != "compiled");
        assert_eq!(
            flag("sneaky"),
            (serde_json::json!(false), cached.clone()),
            "{round}"
        );
        assert_eq!(
            flag("hello"),
            (serde_json::json!(true), cached.clone()),
            "{round}"
        );
        for builtin in ["containers", "devices", "compose", "proxy", "zfs", "vms"] {
            assert_eq!(
                flag(builtin).0,
                serde_json::json!(true),
                "{builtin}, {round}"
            );
        }
        // Guests link no WASI unless they use it: the list says what each imports.
        let wasi = |name: &str| -> Vec<String> {
            let p = plugins.iter().find(|p| p["name"] == name).expect("listed");
            serde_json::from_value(p["wasi_imports"].clone()).expect("wasi_imports")
        };
        assert_eq!(wasi("hello"), Vec::<String>::new(), "{round}");
        assert_eq!(wasi("containers"), Vec::<String>::new(), "{round}");
        let compose = wasi("compose");
        assert!(
            !compose.is_empty() && compose.iter().all(|i| i.starts_with("wasi:clocks/")),
            "{compose:?}"
        );
        let devices = wasi("devices");
        assert!(
            devices.iter().any(|i| i.starts_with("wasi:filesystem/"))
                && !devices.iter().any(|i| i.starts_with("wasi:cli/")),
            "{devices:?}"
        );
        let (status, body) = s.get("/api/sneaky/steal").await;
        assert_eq!(status, 403, "{round}: {body}");
        let (status, body) = s.get("/api/hello/ping").await;
        assert_eq!(status, 200, "{round}: {body}");
        s.stop().await;
    }
}
