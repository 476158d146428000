//! Benchmark: the same trivial route served through a WASM plugin (`GET /api/hello/ping`)
//! and by a native axum handler (`GET /api/status`), through the same middleware stack, over
//! real loopback HTTP, in one run. Prints medians, the ratio and the absolute per-request
//! overhead, throughput at 32 connections, and the bare instantiate+call cost.
//!
//! Run: `cargo bench -p infrastructor-tests --bench plugin_overhead`.

use std::time::Instant;

use infrastructor::plugins::CallContext;
use infrastructor::plugins::bindings::api;
use infrastructor_tests::TestServer;
use infrastructor_tests::load::{concurrent, median, percentile, sequential};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let s = TestServer::start(&["hello"], |c| c.rate_limit.enabled = false).await;
        let plugin_url = s.url("/api/hello/ping");
        let native_url = s.url("/api/status");
        if let Ok(route) = std::env::var("PROFILE_ROUTE") {
            // For `perf record`: hammer one route only.
            sequential(&s.client, &s.url(&route), 20_000).await;
            s.stop().await;
            return;
        }
        // Warm up: compile caches, connection pool, branch predictors.
        sequential(&s.client, &plugin_url, 300).await;
        sequential(&s.client, &native_url, 300).await;

        let rounds = 10;
        let per_round = 500;
        let (mut plugin, mut native) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            native.extend(sequential(&s.client, &native_url, per_round).await);
            plugin.extend(sequential(&s.client, &plugin_url, per_round).await);
        }
        let (pm, nm) = (median(&mut plugin), median(&mut native));
        let (p99p, p99n) = (percentile(&mut plugin, 0.99), percentile(&mut native, 0.99));
        println!("loopback HTTP round trip, sequential, keep-alive, {} requests each:", rounds * per_round);
        println!("  native axum handler  GET /api/status      median {:>8.1} µs  p99 {:>8.1} µs", nm.as_secs_f64() * 1e6, p99n.as_secs_f64() * 1e6);
        println!("  wasm plugin          GET /api/hello/ping  median {:>8.1} µs  p99 {:>8.1} µs", pm.as_secs_f64() * 1e6, p99p.as_secs_f64() * 1e6);
        println!(
            "  ratio plugin/native = {:.3}   absolute overhead = {:.1} µs per request (target: ratio ≤ 1.10)",
            pm.as_secs_f64() / nm.as_secs_f64(),
            (pm.as_secs_f64() - nm.as_secs_f64()) * 1e6
        );

        let rn = concurrent(&s.client, &native_url, 32, 300).await.requests_per_sec;
        let rp = concurrent(&s.client, &plugin_url, 32, 300).await.requests_per_sec;
        println!("throughput at 32 connections: native {rn:.0} req/s, plugin {rp:.0} req/s, ratio {:.3}", rp / rn);

        let hello = s.app_state().plugins.get("hello").expect("hello loaded").clone();
        let request = || api::Request {
            operation_id: "ping".into(),
            method: api::Method::Get,
            path: "/ping".into(),
            path_params: vec![],
            query: vec![],
            body: None,
            request_id: "bench".into(),
            principal: None,
        };
        for _ in 0..200 {
            hello.handle(request(), CallContext::default()).await.expect("warm");
        }
        let n = 5000;
        let mut calls = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            hello.handle(request(), CallContext::default()).await.expect("call");
            calls.push(t.elapsed());
        }
        let cm = median(&mut calls);
        println!(
            "plugin instantiate + handle + drop (no HTTP): median {:.1} µs, p99 {:.1} µs (target ≤ 50 µs)",
            cm.as_secs_f64() * 1e6,
            percentile(&mut calls, 0.99).as_secs_f64() * 1e6
        );
        s.stop().await;
    });
}
