//! `GET /metrics`: the OpenMetrics text parses (every sample's family described, `# EOF`
//! last), the counters move by what the requests made imply (a plugin route against a
//! testbed device, a 404, a route quota's 429), the SSH and collector families name the
//! registered device, and access: a key on the main listener, none on `metrics.listen`.

use std::collections::{BTreeMap, BTreeSet};

use infrastructor::config::Scope;
use infrastructor_tests::api_key;
use infrastructor_tests::testbed::{Sshd, SshdOptions};
use infrastructor_tests::{TestServer, remote_server, server_with_device};

const READ_KEY: &str = "metrics-read-key-0123456789";

/// One scrape: sample name with its labels as written (`name{a="b"}`) → value.
struct Scrape {
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    /// Parses OpenMetrics text, failing the test on anything the format does not allow: a
    /// sample of a family without `# HELP` and `# TYPE` before it, a value that is no
    /// number, a text not ending with `# EOF`, a duplicate series.
    fn parse(text: &str) -> Scrape {
        assert!(
            text.ends_with("# EOF\n"),
            "the text must end with # EOF: {text}"
        );
        let mut helped = BTreeSet::new();
        let mut typed: BTreeMap<String, String> = BTreeMap::new();
        let mut samples = BTreeMap::new();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helped.insert(rest.split(' ').next().expect("name").to_string());
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split(' ');
                let name = parts.next().expect("name").to_string();
                let kind = parts.next().expect("type").to_string();
                typed.insert(name, kind);
                continue;
            }
            if line.starts_with("# UNIT ") {
                continue;
            }
            if *line == "# EOF" {
                assert_eq!(i, lines.len() - 1, "# EOF is the last line");
                continue;
            }
            assert!(!line.starts_with('#'), "unknown comment line: {line}");
            let (series, value) = line.rsplit_once(' ').expect("sample: series value");
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("not a number in {line}"));
            let name = series.split('{').next().expect("name");
            let family = typed
                .keys()
                .filter(|f| {
                    name == f.as_str()
                        || ["_total", "_bucket", "_count", "_sum", "_created"]
                            .iter()
                            .any(|suffix| name.strip_suffix(suffix) == Some(f.as_str()))
                })
                .max_by_key(|f| f.len())
                .unwrap_or_else(|| panic!("sample {name} has no # TYPE before it"));
            assert!(helped.contains(family), "family {family} has no # HELP");
            assert!(
                samples.insert(series.to_string(), value).is_none(),
                "series {series} appears twice"
            );
        }
        for (family, kind) in &typed {
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind.as_str()),
                "{family} has type {kind}"
            );
        }
        Scrape { samples }
    }

    /// The value of `series` (0 when absent: a counter never incremented).
    fn value(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }

    /// The sum of every series of `name` whose labels include every one of `labels`.
    fn sum(&self, name: &str, labels: &[&str]) -> f64 {
        self.samples
            .iter()
            .filter(|(series, _)| {
                series.split('{').next() == Some(name) && labels.iter().all(|l| series.contains(l))
            })
            .map(|(_, v)| v)
            .sum()
    }
}

async fn scrape(s: &TestServer, url: &str, key: Option<&str>) -> Scrape {
    let mut request = s.client.get(url);
    if let Some(k) = key {
        request = request.bearer_auth(k);
    }
    let response = request.send().await.expect("scrape");
    assert_eq!(response.status().as_u16(), 200, "scrape of {url}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "content type {content_type}"
    );
    Scrape::parse(&response.text().await.expect("text"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_with_the_requests_made() {
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    let s = server_with_device(&device, "box", false, |c| c.rate_limit.enabled = true).await;
    let url = s.url("/metrics");
    let before = scrape(&s, &url, None).await;

    // A plugin route against the device, twice: one real collection, then the cache.
    for _ in 0..2 {
        let (status, body) = s.get("/api/devices/box/metrics").await;
        assert_eq!(status, 200, "{body}");
    }
    // A route that does not exist.
    assert_eq!(s.get("/api/no-such-route").await.0, 404);
    // /api/status has its own quota (60/minute): spend it.
    let (mut ok, mut refused) = (0.0, 0.0);
    for _ in 0..70 {
        match s.get("/api/status").await.0 {
            200 => ok += 1.0,
            429 => refused += 1.0,
            other => panic!("/api/status answered {other}"),
        }
    }
    assert!(
        refused >= 1.0,
        "70 requests within a minute exceed 60/minute"
    );

    let after = scrape(&s, &url, None).await;
    let delta = |series: &str| after.value(series) - before.value(series);
    let sum_delta =
        |name: &str, labels: &[&str]| after.sum(name, labels) - before.sum(name, labels);

    let route = r#"plugin="devices",operation="device_metrics""#;
    assert_eq!(
        delta(&format!(
            r#"infrastructor_http_requests_total{{{route},status_class="2xx"}}"#
        )),
        2.0
    );
    assert_eq!(
        delta(&format!(
            r#"infrastructor_http_request_duration_seconds_count{{{route}}}"#
        )),
        2.0
    );
    assert_eq!(
        delta(
            r#"infrastructor_http_requests_total{plugin="host",operation="unmatched",status_class="4xx"}"#
        ),
        1.0
    );
    assert_eq!(
        delta(
            r#"infrastructor_http_requests_total{plugin="host",operation="status",status_class="2xx"}"#
        ),
        ok
    );
    assert_eq!(
        delta(
            r#"infrastructor_http_requests_total{plugin="host",operation="status",status_class="4xx"}"#
        ),
        refused
    );
    assert_eq!(
        delta(r#"infrastructor_rate_limit_rejections_total{kind="route"}"#),
        refused
    );
    // The first scrape itself, counted once it answered.
    assert_eq!(
        delta(
            r#"infrastructor_http_requests_total{plugin="host",operation="metrics",status_class="2xx"}"#
        ),
        1.0
    );

    // The collector: two requests of the data type, at least the first a real run.
    let data = r#"plugin="devices",data_type="system_metrics""#;
    assert_eq!(
        sum_delta("infrastructor_collector_requests_total", &[data]),
        2.0
    );
    let misses = delta(&format!(
        r#"infrastructor_collector_requests_total{{{data},result="miss"}}"#
    ));
    assert!(misses >= 1.0, "the first request collects");
    assert_eq!(
        delta(&format!(
            r#"infrastructor_collection_duration_seconds_count{{{data}}}"#
        )),
        misses
    );

    // Plugin instances: each timed.
    let started = delta(r#"infrastructor_plugin_instances_started_total{plugin="devices"}"#);
    assert!(
        started >= 2.0,
        "one instance per request at least: {started}"
    );
    assert_eq!(
        delta(r#"infrastructor_plugin_call_duration_seconds_count{plugin="devices"}"#),
        started
    );
    assert_eq!(
        sum_delta(
            "infrastructor_plugin_instances_stopped_total",
            &[r#"plugin="devices""#]
        ),
        0.0
    );

    // SSH, labelled by the registered device's name.
    assert!(after.value(r#"infrastructor_ssh_connects_total{target="box"}"#) >= 1.0);
    assert_eq!(
        after.value(r#"infrastructor_ssh_connections_open{target="box"}"#),
        1.0
    );
    assert_eq!(
        after.value(r#"infrastructor_ssh_channels_in_use{target="box"}"#),
        0.0
    );
    assert_eq!(
        after.value(r#"infrastructor_ssh_connect_failures_total{target="box"}"#),
        0.0
    );
    assert!(
        !after.samples.keys().any(|k| k.contains("127.0.0.1")),
        "no raw address becomes a label"
    );
    // One device registered; every job state listed.
    assert_eq!(after.sum("infrastructor_devices", &[]), 1.0);
    for state in [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "interrupted",
    ] {
        let series = format!(r#"infrastructor_jobs{{state="{state}"}}"#);
        assert!(after.samples.contains_key(&series), "missing {series}");
    }
}

/// A free loopback port (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn read_key(c: &mut infrastructor::Config) {
    c.auth.keys = vec![api_key("reader", READ_KEY, Scope::Read)];
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_on_the_main_listener_none_on_metrics_listen() {
    let main = TestServer::start(&[], |c| {
        read_key(c);
        c.rate_limit.unauthenticated_per_minute = 3;
    })
    .await;
    let before = scrape(&main, &main.url("/metrics"), Some(READ_KEY)).await;
    let (status, body) = main.get("/metrics").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "UNAUTHORIZED");
    // Unauthenticated requests spend their address's budget (3/minute) until refused.
    let (mut unauthorized, mut refused) = (1.0, 0.0);
    for _ in 0..4 {
        match main.get("/metrics").await.0 {
            401 => unauthorized += 1.0,
            429 => refused += 1.0,
            other => panic!("/metrics without a key answered {other}"),
        }
    }
    assert!(refused >= 1.0, "5 requests exceed 3/minute");
    let after = scrape(&main, &main.url("/metrics"), Some(READ_KEY)).await;
    let delta = |series: &str| after.value(series) - before.value(series);
    assert_eq!(
        delta(r#"infrastructor_rate_limit_rejections_total{kind="unauthenticated"}"#),
        refused
    );
    assert_eq!(
        delta(
            r#"infrastructor_http_requests_total{plugin="host",operation="metrics",status_class="4xx"}"#
        ),
        unauthorized + refused
    );
    main.stop().await;

    let port = free_port();
    let own = TestServer::start(&[], |c| {
        read_key(c);
        c.metrics.listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    })
    .await;
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut answered = None;
    for _ in 0..50 {
        match own.client.get(&url).send().await {
            Ok(r) => {
                answered = Some(r.status().as_u16());
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    assert_eq!(answered, Some(200), "metrics.listen answers without a key");
    let first = scrape(&own, &url, None).await;
    assert_eq!(
        own.send(own.client.get(own.url("/api/status"))).await.0,
        200
    );
    let second = scrape(&own, &url, None).await;
    assert_eq!(
        second.value(r#"infrastructor_http_requests_total{plugin="host",operation="status",status_class="2xx"}"#)
            - first.value(r#"infrastructor_http_requests_total{plugin="host",operation="status",status_class="2xx"}"#),
        1.0
    );
    let (status, _) = own
        .send(own.client.get(own.url("/metrics")).bearer_auth(READ_KEY))
        .await;
    assert_eq!(
        status, 404,
        "with metrics.listen, the main listener has no /metrics"
    );
    own.stop().await;

    let off = TestServer::start(&[], |c| {
        read_key(c);
        c.metrics.enabled = false;
    })
    .await;
    let (status, _) = off
        .send(off.client.get(off.url("/metrics")).bearer_auth(READ_KEY))
        .await;
    assert_eq!(status, 404, "metrics.enabled = false serves none");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_hosts_share_one_target_label() {
    let d = Sshd::start(SshdOptions::default()).expect("sshd");
    let exec = |s: &TestServer| {
        s.client
            .post(s.url(&format!("/api/remote/{}/exec", d.host())))
            .json(&serde_json::json!({"argv": ["printf", "x"]}))
    };
    let no_label_names_the_host = |scrape: &Scrape| {
        assert!(
            !scrape.samples.keys().any(|k| k.contains(&d.host())),
            "no raw host becomes a label"
        );
    };

    // Unknown host key under the strict policy: one refused connection attempt.
    let empty = d.dir().join("metrics_empty_known_hosts");
    std::fs::write(&empty, "").expect("known_hosts");
    let s = remote_server(&d, |c| c.ssh.known_hosts = empty.clone()).await;
    let (status, body) = s.send(exec(&s)).await;
    assert_eq!(status, 503, "{body}");
    let after = scrape(&s, &s.url("/metrics"), None).await;
    assert_eq!(
        after.value(r#"infrastructor_ssh_host_key_refusals_total{target="unregistered"}"#),
        1.0
    );
    assert_eq!(
        after.value(r#"infrastructor_ssh_connects_total{target="unregistered"}"#),
        0.0
    );
    assert_eq!(
        after.value(r#"infrastructor_http_requests_total{plugin="remote",operation="exec",status_class="5xx"}"#),
        1.0
    );
    no_label_names_the_host(&after);
    s.stop().await;

    // Known key: one connection, open after the command.
    let s = remote_server(&d, |_| {}).await;
    let (status, body) = s.send(exec(&s)).await;
    assert_eq!(status, 200, "{body}");
    let after = scrape(&s, &s.url("/metrics"), None).await;
    assert_eq!(
        after.value(r#"infrastructor_ssh_connects_total{target="unregistered"}"#),
        1.0
    );
    assert_eq!(
        after.value(r#"infrastructor_ssh_connections_open{target="unregistered"}"#),
        1.0
    );
    assert_eq!(
        after.value(r#"infrastructor_ssh_host_key_refusals_total{target="unregistered"}"#),
        0.0
    );
    no_label_names_the_host(&after);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_plugin_instances_are_counted_by_reason() {
    let s = TestServer::start(&["trap", "spin", "membomb"], |c| {
        c.plugins
            .entries
            .entry("spin".into())
            .or_default()
            .timeout_secs = 1;
        c.plugins
            .entries
            .entry("membomb".into())
            .or_default()
            .memory_limit_mb = 32;
    })
    .await;
    let url = s.url("/metrics");
    let before = scrape(&s, &url, None).await;
    let mut answered = Vec::new();
    for path in [
        "/api/trap/boom",
        "/api/trap/ok",
        "/api/spin/forever",
        "/api/membomb/grow",
    ] {
        let (status, body) = s.get(path).await;
        answered.push((path, status, body["error"]["code"].clone()));
    }
    let after = scrape(&s, &url, None).await;
    let delta = |series: &str| after.value(series) - before.value(series);
    for (plugin, reason, path) in [
        ("trap", "trapped", "/api/trap/boom"),
        ("spin", "timeout", "/api/spin/forever"),
        ("membomb", "memory_limit", "/api/membomb/grow"),
    ] {
        let status = answered
            .iter()
            .find(|(p, _, _)| *p == path)
            .map(|(_, status, _)| *status)
            .expect("answered");
        assert!(status >= 500, "{path} answered {status}: {answered:?}");
        assert_eq!(
            delta(&format!(
                r#"infrastructor_plugin_instances_stopped_total{{plugin="{plugin}",reason="{reason}"}}"#
            )),
            1.0,
            "{plugin} stopped by {reason}"
        );
        assert_eq!(
            delta(&format!(
                r#"infrastructor_http_requests_total{{plugin="{plugin}",operation="{}",status_class="5xx"}}"#,
                path.rsplit('/').next().expect("op")
            )),
            1.0,
            "{path}: {answered:?}"
        );
    }
    // The healthy call of the same plugin: started and timed, not stopped.
    assert_eq!(
        delta(r#"infrastructor_plugin_instances_started_total{plugin="trap"}"#),
        2.0
    );
    assert_eq!(
        after.sum(
            "infrastructor_plugin_instances_stopped_total",
            &[r#"plugin="trap""#]
        ) - before.sum(
            "infrastructor_plugin_instances_stopped_total",
            &[r#"plugin="trap""#]
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_collections_count_one_miss() {
    let d = Sshd::start(SshdOptions::default()).expect("sshd");
    d.count_invocations("hostname").expect("counter");
    let s = remote_server(&d, |_| {}).await;
    let before = scrape(&s, &s.url("/metrics"), None).await;
    let url = s.url(&format!("/api/remote/{}/collect?variant=a", d.host()));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let client = s.client.clone();
            let url = url.clone();
            tokio::spawn(async move { client.get(url).send().await.expect("send").status() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("join").as_u16(), 200);
    }
    let after = scrape(&s, &s.url("/metrics"), None).await;
    let delta = |series: &str| after.value(series) - before.value(series);
    let data = r#"plugin="remote",data_type="hostname""#;
    let runs = d.invocations("hostname") as f64;
    assert_eq!(
        delta(&format!(
            r#"infrastructor_collector_requests_total{{{data},result="miss"}}"#
        )),
        runs,
        "one miss per remote run"
    );
    assert_eq!(
        delta(&format!(
            r#"infrastructor_collector_requests_total{{{data},result="hit"}}"#
        )) + delta(&format!(
            r#"infrastructor_collector_requests_total{{{data},result="shared"}}"#
        )),
        50.0 - runs,
        "every other request a hit or a join of the run in flight"
    );
    assert_eq!(
        delta(&format!(
            r#"infrastructor_collection_duration_seconds_count{{{data}}}"#
        )),
        runs
    );
}
