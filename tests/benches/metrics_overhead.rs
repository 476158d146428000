//! Benchmark: what the metrics cost on the request path. `GET /api/status` at 32 concurrent
//! connections on two servers in the same process, one with `metrics.enabled = true` (the
//! HTTP metrics layer counts and times every request) and one with it off, rate limits off
//! on both; round after round, the order of the two turned every round (the second of a
//! pair runs on a warmer machine). Every on-round also scrapes `/metrics` once, so the
//! counters are known to have moved.
//!
//! Prints req/s, p50 and p99 of each per round and the ratio on/off, then the median ratio
//! over the rounds. Nothing is compared with numbers from another run.
//!
//! Run: `cargo bench -p infrastructor-tests --bench metrics_overhead`
//! (`ROUND_SECS=5` for longer rounds, `ROUNDS=7` for more of them).

use std::time::Duration;

use infrastructor_tests::TestServer;
use infrastructor_tests::load::{Load, concurrent_for};

const CONNECTIONS: usize = 32;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn line(name: &str, l: &Load) -> String {
    format!(
        "{name:<12} {:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  ({} requests)",
        l.requests_per_sec,
        l.p50.as_secs_f64() * 1000.0,
        l.p99.as_secs_f64() * 1000.0,
        l.requests
    )
}

fn main() {
    let round = Duration::from_secs_f64(env_or("ROUND_SECS", 3.0));
    let rounds: usize = env_or("ROUNDS", 5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let on = TestServer::start(&[], |c| {
            c.rate_limit.enabled = false;
            c.metrics.enabled = true;
        })
        .await;
        let off = TestServer::start(&[], |c| {
            c.rate_limit.enabled = false;
            c.metrics.enabled = false;
        })
        .await;
        assert_eq!(off.get("/metrics").await.0, 404, "metrics are off");
        // Warm both (connections, allocator, caches).
        concurrent_for(&on.url("/api/status"), CONNECTIONS, Duration::from_millis(500)).await;
        concurrent_for(&off.url("/api/status"), CONNECTIONS, Duration::from_millis(500)).await;
        let mut ratios = Vec::new();
        for r in 0..rounds {
            let (first, second) = if r % 2 == 0 {
                (&on, &off)
            } else {
                (&off, &on)
            };
            let a = concurrent_for(&first.url("/api/status"), CONNECTIONS, round).await;
            let b = concurrent_for(&second.url("/api/status"), CONNECTIONS, round).await;
            let (with, without) = if r % 2 == 0 { (a, b) } else { (b, a) };
            let scraped = on
                .client
                .get(on.url("/metrics"))
                .send()
                .await
                .expect("scrape")
                .text()
                .await
                .expect("text");
            assert!(
                scraped.contains(r#"operation="status",status_class="2xx""#),
                "the on-server counted /api/status"
            );
            let ratio = with.requests_per_sec / without.requests_per_sec;
            ratios.push(ratio);
            println!("round {}:", r + 1);
            println!("  {}", line("metrics on", &with));
            println!("  {}", line("metrics off", &without));
            println!("  throughput on/off: {ratio:.3}");
        }
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        println!(
            "summary: GET /api/status at {CONNECTIONS} connections, throughput with metrics / without, median of {rounds} rounds: {median:.3} ({:+.1}%)",
            (median - 1.0) * 100.0
        );
        on.stop().await;
        off.stop().await;
    });
}
