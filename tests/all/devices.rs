//! The built-in devices plugin over HTTP: registry CRUD, pagination and filters, the error
//! statuses, and the live connectivity status against real sshd devices.

use infrastructor_tests::TestServer;
use infrastructor_tests::testbed::{Sshd, SshdOptions};
use serde_json::{Value, json};

async fn create(s: &TestServer, body: Value) -> (u16, Value) {
    s.send(s.client.post(s.url("/api/devices")).json(&body))
        .await
}

#[tokio::test]
async fn crud_pagination_filters_and_errors() {
    let s = TestServer::start(&[], |c| c.rate_limit.enabled = false).await;
    let (status, body) = create(
        &s,
        json!({"hostname": "Web-01", "ip_address": "10.0.0.5", "ssh_port": 2222, "device_type": "server",
               "location": "Rack A", "description": "front web", "tags": {"env": "prod"}}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["hostname"], "web-01", "lower-cased");
    assert_eq!(body["status"], "unknown", "no SSH ran on the create path");
    assert_eq!(body["glances_port"], 61208);
    assert_eq!(body["tags"]["env"], "prod");

    let (status, body) = create(&s, json!({"hostname": "web-01"})).await;
    assert_eq!(status, 409, "duplicate: {body}");
    for (bad, field) in [
        (json!({"hostname": "bad host!"}), "hostname"),
        (
            json!({"hostname": "ok", "device_type": "toaster"}),
            "device_type",
        ),
        (json!({"hostname": "ok", "ssh_port": 70000}), "ssh_port"),
        (json!({"hostname": "ok", "colour": "red"}), "colour"),
        (json!({}), "hostname"),
    ] {
        let (status, body) = create(&s, bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["error"]["details"]["field"], field, "{bad}: {body}");
    }
    for (bad, field) in [
        (
            json!({"hostname": "x", "ip_address": "not an ip!"}),
            "ip_address",
        ),
        (
            json!({"hostname": "x", "ssh_username": "root\nx"}),
            "ssh_username",
        ),
        (
            json!({"hostname": "x", "ssh_username": "a;b"}),
            "ssh_username",
        ),
        (
            json!({"hostname": "x", "ssh_username": "a\u{0}b"}),
            "ssh_username",
        ),
        (
            json!({"hostname": "x", "ssh_identity_file": "/k;rm"}),
            "ssh_identity_file",
        ),
        (json!({"hostname": "x", "location": "rack\n2"}), "location"),
    ] {
        let (status, body) = create(&s, bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["error"]["details"]["field"], field, "{bad}: {body}");
    }
    let (status, body) = create(
        &s,
        json!({"hostname": "y", "description": "two\nlines\tok"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    s.send(s.client.delete(s.url("/api/devices/y"))).await;

    for i in 0..7 {
        let t = if i % 2 == 0 { "storage" } else { "router" };
        let (status, _) = create(
            &s,
            json!({"hostname": format!("node-{i}"), "device_type": t, "location": if i < 3 { "Basement" } else { "attic" },
                   "monitoring_enabled": i != 6}),
        )
        .await;
        assert_eq!(status, 201);
    }
    let (status, page) = s.get("/api/devices?page=2&page_size=3").await;
    assert_eq!(status, 200);
    assert_eq!(page["total_count"], 8);
    assert_eq!(page["total_pages"], 3);
    assert_eq!(page["has_next"], true);
    assert_eq!(page["has_previous"], true);
    let names: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|d| d["hostname"].as_str())
        .collect();
    assert_eq!(names, ["node-3", "node-4", "node-5"], "ordered by hostname");
    let (_, storage) = s.get("/api/devices?device_type=storage").await;
    assert_eq!(storage["total_count"], 4);
    let (_, basement) = s.get("/api/devices?location=basement").await;
    assert_eq!(basement["total_count"], 3, "case-insensitive substring");
    let (_, search) = s.get("/api/devices?search=FRONT").await;
    assert_eq!(
        search["items"][0]["hostname"], "web-01",
        "search covers description"
    );
    let (_, unmonitored) = s.get("/api/devices?monitoring_enabled=false").await;
    assert_eq!(unmonitored["total_count"], 1);
    assert_eq!(s.get("/api/devices?page_size=0").await.0, 422);
    assert_eq!(s.get("/api/devices?status=sleeping").await.0, 422);

    let (status, got) = s.get("/api/devices/web-01").await;
    assert_eq!(status, 200);
    assert_eq!(got["ssh_port"], 2222);
    assert_eq!(s.get("/api/devices/nope").await.0, 404);

    let (status, updated) = s
        .send(
            s.client
                .put(s.url("/api/devices/web-01"))
                .json(&json!({"location": null, "ssh_port": 22})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["location"], Value::Null, "null clears");
    assert_eq!(updated["ssh_port"], 22);
    assert_eq!(
        updated["description"], "front web",
        "unsent fields unchanged"
    );
    let (status, _) = s
        .send(
            s.client
                .put(s.url("/api/devices/web-01"))
                .json(&json!({"hostname": "node-1"})),
        )
        .await;
    assert_eq!(status, 409, "rename onto an existing hostname");
    assert_eq!(
        s.send(
            s.client
                .put(s.url("/api/devices/ghost"))
                .json(&json!({"location": "x"}))
        )
        .await
        .0,
        404
    );

    let (status, summary) = s.get("/api/devices/web-01/summary").await;
    assert_eq!(status, 200);
    assert_eq!(summary["hostname"], "web-01");

    let (status, deleted) = s.send(s.client.delete(s.url("/api/devices/web-01"))).await;
    assert_eq!(status, 200);
    assert_eq!(deleted["success"], true);
    assert_eq!(s.get("/api/devices/web-01").await.0, 404);
    assert_eq!(
        s.send(s.client.delete(s.url("/api/devices/web-01")))
            .await
            .0,
        404
    );
    s.stop().await;
}

#[tokio::test]
async fn status_of_a_live_and_of_a_stopped_device() {
    let mut d = Sshd::start(SshdOptions::default()).expect("sshd");
    let key = d.client_key_path();
    let known = d.known_hosts_path();
    let s = TestServer::start(&[], move |c| {
        c.ssh.identity_files = vec![key];
        c.ssh.known_hosts = known;
        c.ssh.connect_timeout_secs = 3;
    })
    .await;
    let (status, _) = create(
        &s,
        json!({"hostname": "box", "ip_address": "127.0.0.1", "ssh_port": d.port(), "ssh_username": "root"}),
    )
    .await;
    assert_eq!(status, 201);
    // The background probe queued by the create marks the device online on its own.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, dev) = s.get("/api/devices/box").await;
        if dev["status"] == "online" {
            assert!(dev["last_seen"].is_string(), "last_seen written: {dev}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "background probe never ran: {dev}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, _) = s
        .send(
            s.client
                .post(s.url("/api/devices/jobs/probe"))
                .json(&json!({"hostname": "box"})),
        )
        .await;
    assert_eq!(status, 404, "internal job routes are not mounted");
    let (status, live) = s.get("/api/devices/box/status").await;
    assert_eq!(status, 200, "{live}");
    assert_eq!(live["connection_status"], "online");
    assert!(
        live["response_time_ms"]
            .as_f64()
            .is_some_and(|ms| ms > 0.0 && ms < 3000.0),
        "{live}"
    );
    assert_eq!(
        s.get("/api/devices/box").await.1["status"],
        "online",
        "written back"
    );

    d.stop().expect("stop");
    let (status, dead) = s.get("/api/devices/box/status").await;
    assert_eq!(status, 200, "{dead}");
    assert_eq!(dead["connection_status"], "offline");
    assert!(dead["error_message"].is_string());
    assert_eq!(s.get("/api/devices/box").await.1["status"], "offline");
    let (_, stored) = s
        .get("/api/devices/box/status?test_connectivity=false")
        .await;
    assert_eq!(
        stored["connection_status"], "offline",
        "stored status without a probe"
    );
    s.stop().await;
}

fn local_mem_total_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .expect("local MemTotal")
}

#[tokio::test]
async fn metrics_over_ssh_in_one_round_trip() {
    let d = Sshd::start(SshdOptions::default()).expect("sshd");
    d.count_invocations("cat").expect("counter");
    let key = d.client_key_path();
    let known = d.known_hosts_path();
    let s = TestServer::start(&[], move |c| {
        c.ssh.identity_files = vec![key];
        c.ssh.known_hosts = known;
    })
    .await;
    let (status, _) = create(
        &s,
        json!({"hostname": "box", "ip_address": "127.0.0.1", "ssh_port": d.port(), "monitoring_enabled": false}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, m) = s.get("/api/devices/box/metrics").await;
    assert_eq!(status, 200, "{m}");
    // The device is this machine (a private mount namespace): compare with what we read.
    assert_eq!(
        m["system_metrics"]["memory"]["total"],
        local_mem_total_bytes()
    );
    let cpu = &m["system_metrics"]["cpu"];
    let sum = cpu["total"].as_f64().unwrap_or(-1.0)
        + cpu["idle"].as_f64().unwrap_or(-1.0)
        + cpu["iowait"].as_f64().unwrap_or(-1.0);
    assert!(
        (sum - 100.0).abs() < 0.5,
        "busy + idle + iowait = 100 %: {cpu}"
    );
    assert!(
        m["filesystem_usage"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["mount_point"] == "/")),
        "{m}"
    );
    assert!(
        m["network_stats"]
            .as_array()
            .is_some_and(|n| n.iter().any(|i| i["interface_name"] == "lo"))
    );
    assert_eq!(m["collection_metadata"]["cache_hit"], false);
    assert_eq!(d.invocations("cat"), 6, "one script run: six /proc reads");
    let (_, again) = s.get("/api/devices/box/metrics").await;
    assert_eq!(
        again["collection_metadata"]["cache_hit"], true,
        "served from the collector cache"
    );
    let (_, live) = s.get("/api/devices/box/metrics?live=true").await;
    assert_eq!(live["collection_metadata"]["cache_hit"], false);
    let (status, history) = s.get("/api/devices/box/metrics?history=10").await;
    assert_eq!(status, 200);
    assert_eq!(
        history["history"].as_array().map(Vec::len),
        Some(2),
        "both fresh samples persisted"
    );
    assert_eq!(s.get("/api/devices/ghost/metrics").await.0, 404);
    s.stop().await;
}

#[tokio::test]
async fn ports_from_ss_include_the_devices_own_sshd() {
    let d = Sshd::start(SshdOptions::default()).expect("sshd");
    let key = d.client_key_path();
    let known = d.known_hosts_path();
    let port = d.port();
    let s = TestServer::start(&[], move |c| {
        c.ssh.identity_files = vec![key];
        c.ssh.known_hosts = known;
        c.ssh.default_port = port;
        c.ssh.allow_unregistered_hosts = true;
    })
    .await;
    // A raw host (not registered, allowed by config) is reached with the configured defaults.
    let (status, body) = s.get("/api/devices/127.0.0.1/ports").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["source"], "ss");
    let ours = body["ports"]
        .as_array()
        .and_then(|p| {
            p.iter()
                .find(|s| s["local_port"] == port && s["protocol"] == "tcp")
        })
        .unwrap_or_else(|| panic!("the device's own sshd port {port} is listed: {body}"));
    assert_eq!(ours["state"], "LISTEN");
    assert!(
        ours["processes"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["name"] == "sshd")),
        "process names visible to root: {ours}"
    );
    assert_eq!(s.get("/api/devices/bad%20host/ports").await.0, 422);
    s.stop().await;
}
