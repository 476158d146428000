//! The containers plugin over HTTP against the testbed's private dockerd reached over real
//! SSH: every expectation is read from the same engine directly (`docker ps`, `docker
//! inspect`) and compared with what the API answers.

use std::time::{Duration, Instant};

use futures::future::join_all;
use infrastructor_tests::testbed::{Docker, Sshd, SshdOptions};
use infrastructor_tests::{TestServer, server_with_device, url_escape};
use serde_json::{Value, json};

const IMAGE: &str = "tb-busybox:containers";

/// Prints `out N` on stdout and `err N` on stderr every 100 ms.
const TALKER: &str =
    "i=0; while true; do echo \"out $i\"; echo \"err $i\" >&2; i=$((i+1)); sleep 0.1; done";

struct Bed {
    docker: Docker,
    device: Sshd,
    server: TestServer,
}

/// dockerd with the busybox image, a device using it, a server with `box` registered.
async fn bed() -> Bed {
    let docker = Docker::start().expect("dockerd");
    docker.build_busybox_image(IMAGE).expect("image");
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    device.use_docker(&docker).expect("use_docker");
    let server = server_with_device(&device, "box", false, |_| {}).await;
    Bed {
        docker,
        device,
        server,
    }
}

impl Bed {
    fn docker(&self, args: &[&str]) -> String {
        self.docker.run(args).expect("docker")
    }

    /// `name state` of every container, sorted, as docker itself lists them.
    fn direct_list(&self, all: bool) -> Vec<(String, String)> {
        let mut args = vec!["ps", "--format", "{{.Names}} {{.State}}"];
        if all {
            args.push("-a");
        }
        let mut v: Vec<(String, String)> = self
            .docker(&args)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect();
        v.sort();
        v
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.server.get(path).await
    }

    async fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.server.client.post(self.server.url(path));
        if let Some(b) = body {
            r = r.json(&b);
        }
        self.server.send(r).await
    }
}

fn api_list(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_string(),
                c["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The PIDs of `docker logs --follow` clients on this machine (the device is this machine).
fn follow_clients() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            (cmd.contains("logs --follow") && cmd.contains("talker")).then_some(pid)
        })
        .collect()
}

#[tokio::test]
async fn inventory_inspect_logs_and_follow_match_the_engine() {
    let b = bed().await;
    b.docker(&["run", "-d", "--name", "talker", IMAGE, "sh", "-c", TALKER]);
    b.docker(&["run", "--name", "done", IMAGE, "true"]);
    b.docker(&["run", "-d", "--name", "frozen", IMAGE, "sleep", "300"]);
    b.docker(&["pause", "frozen"]);

    // 100 concurrent identical lists on a cold cache: one docker ps on the device (later
    // arrivals are served from the cache the first run filled).
    b.device.count_invocations("docker").expect("counter");
    let requests = (0..100).map(|_| b.get("/api/containers/box"));
    let answers = join_all(requests).await;
    let engine = b.direct_list(true);
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        assert_eq!(api_list(answer), engine, "each answer is the engine's list");
    }
    assert_eq!(
        b.device.invocations("docker"),
        1,
        "one remote run for 100 requests"
    );

    // Lists: all, running (docker's default), by state, paged.
    let (status, all) = b.get("/api/containers/box").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(api_list(&all), b.direct_list(true));
    let (_, running) = b.get("/api/containers/box?all_containers=false").await;
    assert_eq!(api_list(&running), b.direct_list(false));
    let (_, exited) = b.get("/api/containers/box?status=exited").await;
    assert_eq!(api_list(&exited), vec![("done".into(), "exited".into())]);
    let (_, page) = b.get("/api/containers/box?limit=1&offset=1").await;
    assert_eq!(page["containers"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["total_count"], 3);
    assert_eq!(page["pagination"]["has_more"], true);
    let talker = all["containers"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "talker"))
        .expect("talker listed");
    assert!(
        talker["created"].is_string(),
        "created as a timestamp: {talker}"
    );
    assert!(talker["labels"].is_object(), "{talker}");
    assert!(talker["ports"].is_array(), "{talker}");

    // The database view across devices, written by the live list.
    let (status, db) = b.get("/api/containers?device_hostname=box").await;
    assert_eq!(status, 200, "{db}");
    assert_eq!(db["total_count"], 3);
    let (_, paused) = b.get("/api/containers?status=paused").await;
    assert_eq!(paused["items"][0]["name"], "frozen", "{paused}");
    assert_eq!(paused["items"][0]["device_hostname"], "box");

    // Inspect.
    let (status, info) = b.get("/api/containers/box/talker").await;
    assert_eq!(status, 200, "{info}");
    let id = b.docker(&["inspect", "-f", "{{.Id}}", "talker"]);
    assert_eq!(info["container"]["Id"], id.trim());
    assert_eq!(info["summary"]["running"], true);
    let (_, frozen) = b.get("/api/containers/box/frozen").await;
    assert_eq!(frozen["summary"]["paused"], true, "{frozen}");

    // Logs: both streams, apart and merged, never another container's.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (status, logs) = b.get("/api/containers/box/talker/logs?tail=5").await;
    assert_eq!(status, 200, "{logs}");
    let out = logs["stdout"].as_array().expect("stdout");
    let err = logs["stderr"].as_array().expect("stderr");
    assert!(!out.is_empty() && out.len() <= 5, "{logs}");
    assert!(!err.is_empty() && err.len() <= 5, "{logs}");
    assert!(
        out.iter()
            .all(|l| l["message"].as_str().is_some_and(|m| m.starts_with("out ")))
    );
    assert!(
        err.iter()
            .all(|l| l["message"].as_str().is_some_and(|m| m.starts_with("err ")))
    );
    assert!(out[0]["timestamp"].is_string(), "timestamps by default");
    let (_, other) = b.get("/api/containers/box/frozen/logs?tail=5").await;
    assert_eq!(other["line_count"], 0, "frozen printed nothing: {other}");
    let (_, plain) = b
        .get("/api/containers/box/talker/logs?tail=3&timestamps=false&since=1h")
        .await;
    assert!(plain["stdout"][0]["timestamp"].is_null(), "{plain}");

    // Follow: new lines of both streams arrive within 2 s; disconnecting ends the remote.
    let response = b
        .server
        .client
        .get(
            b.server
                .url("/api/containers/box/talker/logs?follow=true&tail=1&timestamps=false"),
        )
        .send()
        .await
        .expect("follow");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("text/event-stream")
    );
    let mut response = response;
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !(seen.contains("data: out ") && seen.contains("event: stderr\ndata: err ")) {
        assert!(Instant::now() < deadline, "no new lines in 2 s: {seen}");
        let chunk = tokio::time::timeout(Duration::from_secs(2), response.chunk())
            .await
            .expect("a chunk in time")
            .expect("stream")
            .expect("not ended");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        !follow_clients().is_empty(),
        "the remote docker logs -f runs"
    );
    drop(response);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !follow_clients().is_empty() {
        assert!(
            Instant::now() < deadline,
            "docker logs -f still running after the client left: {:?}",
            follow_clients()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    b.server.stop().await;
}

#[tokio::test]
async fn lifecycle_stats_exec_and_unknown_or_hostile_names() {
    let mut b = bed().await;
    b.docker(&["run", "-d", "--name", "web", IMAGE, "sleep", "300"]);
    b.docker(&["create", "--name", "idle", IMAGE, "sleep", "300"]);
    b.docker(&["run", "--name", "old", IMAGE, "true"]);
    let state = |name: &str| {
        b.docker(&["inspect", "-f", "{{.State.Status}}", name])
            .trim()
            .to_string()
    };

    // Stop, stop again (not an error), start, start again, restart.
    let (status, body) = b.post("/api/containers/box/web/stop?timeout=1", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"]["Status"], "exited");
    assert_eq!(state("web"), "exited");
    let (status, again) = b.post("/api/containers/box/web/stop?timeout=1", None).await;
    assert_eq!(status, 200, "stopping a stopped container: {again}");
    let (status, body) = b.post("/api/containers/box/web/start", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"]["Running"], true);
    assert_eq!(state("web"), "running");
    let (status, _) = b.post("/api/containers/box/web/start", None).await;
    assert_eq!(status, 200, "starting a running container");
    let started = b.docker(&["inspect", "-f", "{{.State.StartedAt}}", "web"]);
    let (status, body) = b
        .post("/api/containers/box/web/restart?timeout=1", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(
        b.docker(&["inspect", "-f", "{{.State.StartedAt}}", "web"]),
        started
    );
    let (status, body) = b
        .post("/api/containers/box/web/stop?force=true", None)
        .await;
    assert_eq!(
        (status, body["action"].as_str()),
        (200, Some("kill")),
        "{body}"
    );
    b.post("/api/containers/box/web/start", None).await;

    // Stats, compared with the engine: `web` runs `sleep` alone (1 PID) without a memory
    // limit (docker reports the host's memory); `capped` has the limit docker inspect shows.
    b.docker(&[
        "run", "-d", "--name", "capped", "--memory", "48m", IMAGE, "sleep", "300",
    ]);
    let engine_limit: u64 = b
        .docker(&["inspect", "-f", "{{.HostConfig.Memory}}", "capped"])
        .trim()
        .parse()
        .expect("HostConfig.Memory");
    assert!(engine_limit > 0, "the engine applied the limit");
    // `docker stats --no-stream` here: (MemUsage's limit part, PIDs).
    let engine_stats = |name: &str| {
        let line = b.docker(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.MemUsage}}|{{.PIDs}}",
            name,
        ]);
        let (usage, pids) = line.trim().split_once('|').expect("MemUsage|PIDs");
        let limit = usage
            .split_once('/')
            .expect("used / limit")
            .1
            .trim()
            .to_string();
        (limit, pids.to_string())
    };
    for name in ["web", "capped"] {
        let (status, one) = b.get(&format!("/api/containers/box/{name}/stats")).await;
        assert_eq!(status, 200, "{one}");
        let s = &one["stats"];
        let (engine_limit_text, engine_pids) = engine_stats(name);
        assert_eq!(engine_pids, "1", "{name} runs sleep alone");
        assert_eq!(s["pids"], 1, "{name}: {s}");
        assert_eq!(s["pids_text"], engine_pids.as_str(), "{name}: {s}");
        let api_limit_text = s["mem_usage"]
            .as_str()
            .and_then(|u| u.split_once('/'))
            .map(|(_, l)| l.trim())
            .unwrap_or_else(|| panic!("{name}: mem_usage: {s}"));
        assert_eq!(
            api_limit_text, engine_limit_text,
            "{name}: the limit docker reports"
        );
        let used = s["memory_used_bytes"].as_u64().expect("used");
        let limit = s["memory_limit_bytes"].as_u64().expect("limit");
        assert!(used > 0 && used <= limit, "{s}");
        assert!(s["cpu_percent"].as_f64().is_some_and(|c| c >= 0.0), "{s}");
        if name == "capped" {
            assert_eq!(limit, engine_limit, "{name}: the limit in bytes: {s}");
        }
    }
    b.device.count_invocations("docker").expect("counter");
    let (status, host) = b.get("/api/containers/box/stats?live=true").await;
    assert_eq!(status, 200, "{host}");
    let running = b.docker(&["ps", "-q"]).lines().count();
    assert_eq!(host["container_count"], running);
    assert_eq!(
        b.device.invocations("docker"),
        1,
        "one docker stats for all"
    );

    // Exec.
    let (status, hi) = b
        .post(
            "/api/containers/box/web/exec",
            Some(json!({"command": ["echo", "hi"]})),
        )
        .await;
    assert_eq!(status, 200, "{hi}");
    assert_eq!(
        (hi["exit_code"].as_i64(), hi["stdout"].as_str()),
        (Some(0), Some("hi\n"))
    );
    let (status, q) = b
        .post(
            "/api/containers/box/web/exec?command=echo%20'a%20%20b'%20%24HOME",
            None,
        )
        .await;
    assert_eq!(status, 200, "{q}");
    assert_eq!(q["stdout"], "a  b $HOME\n", "shell words, no shell: {q}");
    let (status, f) = b
        .post(
            "/api/containers/box/web/exec",
            Some(json!({"command": ["false"]})),
        )
        .await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(
        (f["success"].as_bool(), f["exit_code"].as_i64()),
        (Some(false), Some(1))
    );
    let (status, missing) = b
        .post(
            "/api/containers/box/web/exec",
            Some(json!({"command": ["no-such-binary"]})),
        )
        .await;
    assert_eq!(status, 400, "{missing}");
    let (status, no_dir) = b
        .post(
            "/api/containers/box/web/exec",
            Some(json!({"command": ["ls"], "workdir": "/no/such/dir"})),
        )
        .await;
    assert_eq!(status, 400, "{no_dir}");
    // Each says what docker said, so the two failures read differently.
    let (m1, m2) = (
        missing["error"]["message"].as_str().unwrap_or_default(),
        no_dir["error"]["message"].as_str().unwrap_or_default(),
    );
    assert!(
        m1.contains("no-such-binary") && m1.contains("not found"),
        "{m1}"
    );
    assert!(m2.contains("/no/such/dir"), "{m2}");
    assert_ne!(m1.replace("no-such-binary", "ls"), m2);
    let (status, stopped) = b
        .post(
            "/api/containers/box/idle/exec",
            Some(json!({"command": ["echo", "hi"]})),
        )
        .await;
    assert_eq!(status, 404, "not running: {stopped}");
    let (status, _) = b.post("/api/containers/box/web/exec", None).await;
    assert_eq!(status, 400, "a command is required");

    // Remove.
    let (status, body) = b
        .server
        .send(
            b.server
                .client
                .delete(b.server.url("/api/containers/box/old")),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(!b.direct_list(true).iter().any(|(n, _)| n == "old"));

    // Unknown containers: 404 on every route.
    let canary_dir = tempfile::tempdir().expect("tmp");
    let canary = canary_dir.path().join("canary");
    for name in ["ghost", "0123456789ab"] {
        for (method, path) in [
            ("GET", ""),
            ("GET", "/logs"),
            ("GET", "/logs?follow=true"),
            ("GET", "/stats"),
            ("POST", "/start"),
            ("POST", "/stop"),
            ("POST", "/restart"),
            ("POST", "/exec"),
            ("DELETE", ""),
        ] {
            let url = b.server.url(&format!("/api/containers/box/{name}{path}"));
            let req = match method {
                "GET" => b.server.client.get(url),
                "POST" => b
                    .server
                    .client
                    .post(url)
                    .json(&json!({"command": ["true"]})),
                _ => b.server.client.delete(url),
            };
            let (status, body) = b.server.send(req).await;
            assert_eq!(status, 404, "{method} {name}{path}: {body}");
        }
    }
    // Hostile names: 422 before anything runs.
    let c = canary.display().to_string();
    for hostile in [
        format!("x;touch {c}"),
        format!("$(touch {c})"),
        format!("`touch {c}`"),
        "-rf".to_string(),
        format!("a\ntouch {c}"),
        "web --privileged".to_string(),
    ] {
        let name = url_escape(&hostile);
        for path in ["", "/logs", "/stats"] {
            let (status, body) = b.get(&format!("/api/containers/box/{name}{path}")).await;
            assert_eq!(status, 422, "{hostile:?}{path}: {body}");
            assert_eq!(body["error"]["details"]["field"], "container");
        }
        let (status, _) = b
            .post(
                &format!("/api/containers/box/{name}/exec"),
                Some(json!({"command": ["true"]})),
            )
            .await;
        assert_eq!(status, 422, "{hostile:?}");
    }
    assert!(!canary.exists(), "the canary was never created");

    // With the docker daemon down, exec answers 503 like every other route.
    b.docker.stop().expect("dockerd stops");
    let (status, body) = b
        .post(
            "/api/containers/box/web/exec",
            Some(json!({"command": ["echo", "hi"]})),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = b.get("/api/containers/box?live=true").await;
    assert_eq!(status, 503, "{body}");
    b.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poller_lists_a_monitored_devices_containers_without_a_live_request() {
    let docker = Docker::start().expect("dockerd");
    docker.build_busybox_image(IMAGE).expect("image");
    docker
        .run(&["run", "-d", "--name", "polled", IMAGE, "sleep", "300"])
        .expect("container");
    docker
        .run(&["create", "--name", "resting", IMAGE, "true"])
        .expect("container");
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    device.use_docker(&docker).expect("use_docker");
    // The built-in plugins stay enabled: the containers plugin's own periodic collector runs.
    let server = server_with_device(&device, "box", true, |c| {
        c.poller.enabled = true;
        c.poller.refresh_secs = 1;
        c.poller.tick_ms = 50;
    })
    .await;
    let b = Bed {
        docker,
        device,
        server,
    };
    let engine = b.direct_list(true);
    assert_eq!(engine.len(), 2, "{engine:?}");

    // Only the database view is asked for: nothing but the poller lists containers live.
    // (The collector's first run is due within 30 s of the device being seen.)
    let deadline = Instant::now() + Duration::from_secs(60);
    let listed = loop {
        let (status, db) = b.get("/api/containers?device_hostname=box").await;
        assert_eq!(status, 200, "{db}");
        if db["total_count"].as_u64().is_some_and(|n| n > 0) {
            break db;
        }
        assert!(
            Instant::now() < deadline,
            "the poller never listed box's containers: {db}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let mut got: Vec<(String, String)> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| {
            assert_eq!(c["device_hostname"], "box", "{c}");
            (
                c["name"].as_str().unwrap_or("").to_string(),
                c["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got, engine,
        "the engine's containers, as the poller saw them"
    );
    let rows =
        infrastructor_tests::audit_rows(&b.server.app_state().services.store, "containers").await;
    assert!(
        rows.iter().any(|r| r.error.is_none()),
        "a successful collection wrote it"
    );
    assert!(
        rows.iter()
            .all(|r| r.requester.as_deref() == Some("poller")),
        "every containers collection was the poller's: {:?}",
        rows.iter().map(|r| &r.requester).collect::<Vec<_>>()
    );
    b.server.stop().await;
}
