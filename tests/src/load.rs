//! A small HTTP load client for the benchmarks: sequential keep-alive requests, and many
//! connections at once (a number of requests each, or for a fixed time), with latency
//! percentiles. Every answer must be a success.
//!
//! [`concurrent`] shares the caller's client: its pool opens a connection whenever none is
//! idle at that moment, so it may hold more connections than requests in flight.
//! [`concurrent_for`] gives each of its clients a connection of its own: exactly `conns`.

use std::time::{Duration, Instant};

/// The median of `v` (sorts it).
pub fn median(v: &mut [Duration]) -> Duration {
    percentile(v, 0.5)
}

/// The `p` quantile of `v` (0.0..=1.0, nearest rank below; sorts it).
pub fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p) as usize]
}

/// `n` runs of `f` one after the other; the time of each, in order. With `yield_between`
/// the task yields after each run (off the clock), as a connection task waits for its next
/// request: what a run leaves to other tasks on this worker then runs between the runs.
pub async fn times<F, Fut>(n: usize, mut f: F, yield_between: bool) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await;
        out.push(t.elapsed());
        if yield_between {
            tokio::task::yield_now().await;
        }
    }
    out
}

/// [`times`] with yields, on a thread of its own with a single-threaded runtime: one worker
/// serving one connection. The clean-up task a plugin call leaves (dropping its instance,
/// making the next one) then runs on that thread between the runs, as it does on the
/// server's worker once the answer is written. (On a multi-threaded runtime each yield
/// would wake the other worker to steal, and the measured calls would bounce between
/// threads, which no connection does.)
pub fn times_on_one_thread<F, Fut>(n: usize, f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a single-threaded runtime")
            .block_on(times(n, f, true))
    })
    .join()
    .expect("the measuring thread panicked")
}

/// `n` GETs of `url` one after the other; their latencies.
pub async fn sequential(client: &reqwest::Client, url: &str, n: usize) -> Vec<Duration> {
    sequential_timed(client, url, n).await.0
}

/// [`sequential`], and for each request the server's own time, as its `x-process-time`
/// header says (from the request's arrival at the server's edge to its answer, in seconds;
/// zero when the header is missing): (latencies, server times).
pub async fn sequential_timed(
    client: &reqwest::Client,
    url: &str,
    n: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let mut out = Vec::with_capacity(n);
    let mut server = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = client.get(url).send().await.expect("send");
        assert!(r.status().is_success(), "{url}: {}", r.status());
        let own = r
            .headers()
            .get("x-process-time")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok())
            .map(Duration::from_secs_f64)
            .unwrap_or_default();
        let _ = r.bytes().await.expect("body");
        out.push(t.elapsed());
        server.push(own);
    }
    (out, server)
}

/// What a concurrent run measured.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Completed requests.
    pub requests: usize,
    /// Completed requests per second over the whole run.
    pub requests_per_sec: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

/// `conns` concurrent clients each doing `per` sequential GETs of `url`.
pub async fn concurrent(client: &reqwest::Client, url: &str, conns: usize, per: usize) -> Load {
    let started = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            let c = client.clone();
            let u = url.to_string();
            tokio::spawn(async move { sequential(&c, &u, per).await })
        })
        .collect();
    let mut all = Vec::with_capacity(conns * per);
    for t in tasks {
        all.extend(t.await.expect("join"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    Load {
        requests: all.len(),
        requests_per_sec: all.len() as f64 / elapsed,
        p50: median(&mut all),
        p99: percentile(&mut all, 0.99),
    }
}

/// `conns` clients, each with its own connection (exactly `conns` connections, kept open
/// from the first request to the end), each doing sequential GETs of `url` until `duration`
/// has passed (a request under way then is finished and counted).
pub async fn concurrent_for(url: &str, conns: usize, duration: Duration) -> Load {
    let clients: Vec<reqwest::Client> = (0..conns)
        .map(|_| {
            reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("client")
        })
        .collect();
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| {
            let u = url.to_string();
            tokio::spawn(async move {
                let mut out = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = c.get(&u).send().await.expect("send");
                    assert!(r.status().is_success(), "{u}: {}", r.status());
                    let _ = r.bytes().await.expect("body");
                    out.push(t.elapsed());
                }
                out
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("join"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    Load {
        requests: all.len(),
        requests_per_sec: all.len() as f64 / elapsed,
        p50: median(&mut all),
        p99: percentile(&mut all, 0.99),
    }
}

/// One request of [`Swapload`]: when it was sent, and its status and JSON answer (or the
/// transport error).
pub struct Sample {
    /// When it was sent.
    pub sent: Instant,
    /// Status and answer, or why there was none.
    pub outcome: Result<(u16, serde_json::Value), String>,
}

/// Clients sending `GET url` back to back while something changes under them (a reload):
/// nothing is asserted while they run; [`Swapload::stop`] returns every request made.
pub struct Swapload {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<Vec<Sample>>>,
}

impl Swapload {
    /// Starts `clients` clients on `url`, sharing `client`'s pool.
    pub fn start(client: &reqwest::Client, url: &str, clients: usize) -> Swapload {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let clients = (0..clients)
            .map(|_| {
                let client = client.clone();
                let url = url.to_owned();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut samples = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let sent = Instant::now();
                        let outcome = match client.get(&url).send().await {
                            Ok(r) => {
                                let status = r.status().as_u16();
                                r.json::<serde_json::Value>()
                                    .await
                                    .map(|v| (status, v))
                                    .map_err(|e| e.to_string())
                            }
                            Err(e) => Err(e.to_string()),
                        };
                        samples.push(Sample { sent, outcome });
                    }
                    samples
                })
            })
            .collect();
        Swapload { stop, clients }
    }

    /// Stops the clients and returns every request they made.
    pub async fn stop(self) -> Vec<Sample> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut samples = Vec::new();
        for c in self.clients {
            samples.extend(c.await.expect("load client"));
        }
        samples
    }
}

/// The requests of `samples` that failed (not a 200, or no answer), described.
pub fn failures(samples: &[Sample]) -> Vec<String> {
    samples
        .iter()
        .filter_map(|s| match &s.outcome {
            Ok((200, _)) => None,
            Ok((status, body)) => Some(format!("status {status}: {body}")),
            Err(e) => Some(e.clone()),
        })
        .collect()
}
