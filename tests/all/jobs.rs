//! Jobs, host-to-host pipes, streamed request bodies and streamed scripts, over HTTP against
//! real OpenSSH sshd devices on loopback: a job's whole life with its events, `?wait`,
//! cancel killing the remote process, restart marking a running job `interrupted`, 256 MiB
//! through `ssh.pipe` and through a streamed body with bounded server memory, a sink killed
//! mid-way, hostile ids and filters.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use infrastructor_tests::testbed::{Sshd, SshdOptions, ssh_command};
use infrastructor_tests::{
    RssSampler, TestServer, eventually, in_own_process, processes_with_arg, remote_server,
    rss_bytes, server_with_devices, url_escape,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn device() -> Sshd {
    Sshd::start(SshdOptions::default()).expect("sshd device starts")
}

/// One SSE event as received: its name, its data parsed as JSON, and when it arrived.
#[derive(Debug, Clone)]
struct Received {
    event: String,
    id: Option<u64>,
    data: Value,
    at: Instant,
}

/// Reads Server-Sent Events from `response` until the stream ends or `stop` says so; fails
/// the test when nothing arrives for `quiet`.
async fn read_events(
    mut response: reqwest::Response,
    quiet: Duration,
    stop: impl Fn(&Received) -> bool,
) -> Vec<Received> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    loop {
        let chunk = tokio::time::timeout(quiet, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no event for {quiet:?}; so far: {events:#?}"))
            .expect("event stream");
        let Some(chunk) = chunk else {
            return events;
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = String::from("message");
            let mut id = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if data.is_empty() {
                continue; // a keep-alive comment
            }
            let received = Received {
                event,
                id,
                data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
                at: Instant::now(),
            };
            let done = stop(&received);
            events.push(received);
            if done {
                return events;
            }
        }
    }
}

fn is_final(e: &Received) -> bool {
    e.event == "state"
        && matches!(
            e.data["state"].as_str(),
            Some("succeeded" | "failed" | "cancelled" | "interrupted")
        )
}

async fn watch(s: &TestServer, id: &str) -> reqwest::Response {
    let response = s
        .client
        .get(s.url(&format!("/api/jobs/{id}/events")))
        .send()
        .await
        .expect("events");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    response
}

async fn post(s: &TestServer, path: &str, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = s
        .client
        .post(s.url(path))
        .json(&body)
        .send()
        .await
        .expect("post");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

async fn job(s: &TestServer, id: &str) -> Value {
    let (status, body) = s.get(&format!("/api/jobs/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls job `id` until `done` holds for it (at most `within`).
async fn wait_job(
    s: &TestServer,
    id: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let j = job(s, id).await;
        if done(&j) {
            return j;
        }
        assert!(
            Instant::now() < deadline,
            "job did not get there in {within:?}: {j}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for(what: &str, within: Duration, check: impl Fn() -> bool) {
    assert!(
        eventually(within, check).await,
        "{what}: not within {within:?}"
    );
}

/// Waits until job `id`'s remote process (the one with argument `arg`) runs. It fails at once,
/// with the job, when the job ends first, and after 30 s (a loaded CI machine, not the
/// server, sets that bound) with the job's last state.
async fn wait_remote_start(s: &TestServer, id: &str, arg: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if !processes_with_arg(arg).is_empty() {
            return;
        }
        let j = job(s, id).await;
        assert!(
            matches!(j["state"].as_str(), Some("queued" | "running")),
            "job {id} ended before `{arg}` ran: {j}"
        );
        assert!(
            Instant::now() < deadline,
            "`{arg}` did not start within 30 s: {j}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts the `hold` job (a remote `sleep SECONDS`) on `host` and waits until the remote
/// process runs; returns the job's id.
async fn start_hold(s: &TestServer, host: &str, seconds: &str) -> String {
    let (status, _, accepted) = post(
        s,
        &format!("/api/remote/{host}/jobs/hold"),
        json!({"seconds": seconds}),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_owned();
    wait_remote_start(s, &id, seconds).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_lives_its_whole_life_with_progress_logs_and_a_result() {
    let d = device();
    let s = remote_server(&d, |_| {}).await;
    let (status, headers, accepted) = post(
        &s,
        "/api/remote/jobs/steps",
        json!({"host": d.host(), "steps": 5, "sleep": "0.3"}),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_owned();
    assert_eq!(headers["location"], format!("/api/jobs/{id}"));
    assert_eq!(
        accepted["links"]["events"],
        format!("/api/jobs/{id}/events")
    );
    assert!(
        matches!(accepted["state"].as_str(), Some("queued" | "running")),
        "{accepted}"
    );
    assert_eq!(accepted["plugin"], "remote");
    assert_eq!(accepted["operation_id"], "job_steps");
    assert_eq!(
        accepted["request_id"],
        headers["x-request-id"].to_str().expect("request id")
    );

    let events = read_events(watch(&s, &id).await, Duration::from_secs(10), is_final).await;
    let final_at = events.last().expect("events").at;
    assert_eq!(events.last().expect("final").data["state"], "succeeded");
    let progress: Vec<&Received> = events.iter().filter(|e| e.event == "progress").collect();
    assert!(
        progress
            .iter()
            .any(|p| p.at < final_at && p.data["done"].as_u64() < Some(5)),
        "progress seen while it ran: {events:#?}"
    );
    let dones: Vec<u64> = progress
        .iter()
        .filter_map(|p| p.data["done"].as_u64())
        .collect();
    assert!(
        dones.windows(2).all(|w| w[0] <= w[1]),
        "progress only grows: {dones:?}"
    );
    assert_eq!(progress.last().expect("progress").data["done"], 5);
    assert_eq!(progress.last().expect("progress").data["total"], 5);
    let logs: Vec<&str> = events
        .iter()
        .filter(|e| e.event == "log")
        .filter_map(|e| e.data["line"].as_str())
        .collect();
    assert_eq!(
        logs,
        (0..5).map(|i| format!("step {i} of 5")).collect::<Vec<_>>()
    );

    let done = job(&s, &id).await;
    assert_eq!(done["state"], "succeeded");
    assert_eq!(done["result"], json!({"steps": 5, "host": d.host()}));
    assert_eq!(done["result_status"], 200);
    assert!(done["error"].is_null());
    assert_eq!(done["progress"]["done"], 5);
    assert_eq!(done["progress"]["unit"], "steps");
    assert!(
        done["duration_ms"].as_i64().expect("duration") >= 1500,
        "{done}"
    );

    // A watcher that connects late gets the kept events so far, ending with the final state.
    let late = read_events(watch(&s, &id).await, Duration::from_secs(5), |_| false).await;
    let kinds: Vec<(&str, Option<&str>)> = late
        .iter()
        .filter(|e| e.event == "state")
        .map(|e| (e.event.as_str(), e.data["state"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("state", Some("queued")),
            ("state", Some("running")),
            ("state", Some("succeeded"))
        ]
    );
    assert_eq!(late.iter().filter(|e| e.event == "log").count(), 5);
    let ids: Vec<u64> = late.iter().filter_map(|e| e.id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "kept events in order: {ids:?}"
    );
    // Resuming after an event id gives only what came after it.
    let resume_after = ids[ids.len() - 2];
    let resumed = s
        .client
        .get(s.url(&format!("/api/jobs/{id}/events")))
        .header("last-event-id", resume_after.to_string())
        .send()
        .await
        .expect("events");
    let resumed = read_events(resumed, Duration::from_secs(5), |_| false).await;
    assert_eq!(resumed.len(), 1, "{resumed:#?}");
    assert!(is_final(&resumed[0]));

    // Listed, filtered, paged.
    let (status, list) = s
        .get("/api/jobs?plugin=remote&state=succeeded&limit=1")
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["jobs"][0]["id"], id);
    assert_eq!(list["limit"], 1);
    let (_, none) = s.get("/api/jobs?plugin=remote&state=failed").await;
    assert_eq!(none["total"], 0, "{none}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_answers_a_quick_job_inline_and_failures_keep_their_kind() {
    let d = device();
    let s = remote_server(&d, |c| c.jobs.max_wait_secs = 20).await;
    let (status, headers, body) = post(
        &s,
        "/api/remote/jobs/steps?wait=15",
        json!({"host": d.host(), "steps": 1, "sleep": "0.1"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"steps": 1, "host": d.host()}));
    let location = headers["content-location"].to_str().expect("job path");
    let id = location.strip_prefix("/api/jobs/").expect("a job path");
    assert_eq!(job(&s, id).await["state"], "succeeded");

    // A handler error: the job fails with the error's code and status, inline too.
    let (status, _, body) = post(
        &s,
        "/api/remote/jobs/steps?wait=15",
        json!({"host": d.host(), "steps": 3, "fail_at": 1, "sleep": "0"}),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "UPSTREAM_ERROR");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("step 1 failed on purpose")),
        "{body}"
    );
    let (_, failed) = s.get("/api/jobs?state=failed").await;
    let failed = &failed["jobs"][0];
    assert_eq!(failed["error"]["code"], "UPSTREAM_ERROR");
    assert_eq!(failed["error"]["status"], 502);

    // A job that outlasts the wait answers 202.
    let (status, _, body) = post(
        &s,
        "/api/remote/jobs/steps?wait=1",
        json!({"host": d.host(), "steps": 3, "sleep": "1"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");

    // `wait` is the host's, bounded.
    for bad in ["abc", "21", "-1", "1.5"] {
        let (status, _, body) = post(
            &s,
            &format!("/api/remote/jobs/steps?wait={bad}"),
            json!({"host": d.host(), "steps": 1}),
        )
        .await;
        assert_eq!(status, 422, "wait={bad}: {body}");
        assert_eq!(body["error"]["details"]["field"], "wait");
    }
    // A body the route's schema refuses never becomes a job.
    let (status, _, _) = post(&s, "/api/remote/jobs/steps", json!({"host": "a b"})).await;
    assert_eq!(status, 422);
    let (_, all) = s.get("/api/jobs?plugin=remote").await;
    assert_eq!(all["total"], 3, "{all}");
    s.stop().await;
}

/// Sends `method path` with the bearer `key`.
async fn with_key(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    key: &str,
) -> reqwest::Response {
    s.client
        .request(method, s.url(path))
        .header("authorization", key)
        .send()
        .await
        .expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_kills_the_remote_process_and_needs_the_routes_scope() {
    let d = device();
    let s = remote_server(&d, |c| {
        use infrastructor::config::Scope;
        use infrastructor_tests::api_key;
        c.auth.keys = vec![
            api_key("reader", "reader-key-0123456789", Scope::Read),
            api_key("writer", "writer-key-0123456789", Scope::Write),
            api_key("ops", "admin-key-0123456789", Scope::Admin),
        ];
    })
    .await;
    let writer = "Bearer writer-key-0123456789";
    let reader = "Bearer reader-key-0123456789";
    let admin = "Bearer admin-key-0123456789";
    let marker = "987.6543";
    let response = s
        .client
        .post(s.url(&format!("/api/remote/{}/jobs/hold", d.host())))
        .header("authorization", writer)
        .json(&json!({"seconds": marker}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.expect("job");
    let id = accepted["id"].as_str().expect("id").to_owned();
    assert_eq!(accepted["principal"], "writer");
    assert_eq!(accepted["device"], d.host());
    wait_for("the remote sleep starts", Duration::from_secs(30), || {
        !processes_with_arg(marker).is_empty()
    })
    .await;

    // A key sees its own jobs; another key's job reads as absent; admin sees everyone's.
    let read = with_key(&s, reqwest::Method::GET, &format!("/api/jobs/{id}"), writer).await;
    assert_eq!(read.status(), 200);
    let hidden = with_key(&s, reqwest::Method::GET, &format!("/api/jobs/{id}"), reader).await;
    assert_eq!(hidden.status(), 404);
    let seen = with_key(&s, reqwest::Method::GET, &format!("/api/jobs/{id}"), admin).await;
    assert_eq!(seen.status(), 200);
    let listed = |key: &'static str| {
        let s = &s;
        async move {
            let r = with_key(s, reqwest::Method::GET, "/api/jobs", key).await;
            let page: Value = r.json().await.expect("page");
            page["total"].as_u64().expect("total")
        }
    };
    assert_eq!(listed(writer).await, 1);
    assert_eq!(listed(admin).await, 1);
    assert_eq!(listed(reader).await, 0, "another key's jobs are not listed");
    let refused = with_key(
        &s,
        reqwest::Method::DELETE,
        &format!("/api/jobs/{id}"),
        reader,
    )
    .await;
    assert_eq!(refused.status(), 404);
    assert!(
        !processes_with_arg(marker).is_empty(),
        "still running after a refused cancel"
    );

    let asked = Instant::now();
    let response = with_key(
        &s,
        reqwest::Method::DELETE,
        &format!("/api/jobs/{id}"),
        writer,
    )
    .await;
    assert_eq!(response.status(), 200);
    let cancelled: Value = response.json().await.expect("job");
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["error"]["message"], "cancelled by a client");
    wait_for("the remote sleep is gone", Duration::from_secs(5), || {
        processes_with_arg(marker).is_empty()
    })
    .await;
    eprintln!("remote process gone {:?} after the cancel", asked.elapsed());

    let again = with_key(
        &s,
        reqwest::Method::DELETE,
        &format!("/api/jobs/{id}"),
        writer,
    )
    .await;
    assert_eq!(again.status(), 409);
    let events = with_key(
        &s,
        reqwest::Method::GET,
        &format!("/api/jobs/{id}/events"),
        admin,
    )
    .await;
    let events = read_events(events, Duration::from_secs(5), |_| false).await;
    assert_eq!(events.last().expect("events").data["state"], "cancelled");
    // Both cancels (the refused one too) and the start are in the operation audit.
    let ops = s
        .app_state()
        .services
        .store
        .call(|c| infrastructor_store::operations::list(c, None))
        .await
        .expect("operations");
    let summary: Vec<(String, u16, Option<String>)> = ops
        .iter()
        .map(|o| (o.operation_id.clone(), o.status, o.principal.clone()))
        .collect();
    assert!(
        summary.contains(&("job_hold".into(), 202, Some("writer".into()))),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("jobs_cancel".into(), 404, Some("reader".into()))),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("jobs_cancel".into(), 200, Some("writer".into()))),
        "{summary:?}"
    );
    assert!(
        ops.iter()
            .any(|o| o.operation_id == "job_hold" && o.job_id.as_deref() == Some(id.as_str())),
        "the start names its job: {summary:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_marks_a_running_job_interrupted() {
    let d = device();
    let s = remote_server(&d, |_| {}).await;
    let id = start_hold(&s, &d.host(), "876.5432").await;
    wait_job(&s, &id, Duration::from_secs(10), |j| {
        j["state"] == "running"
    })
    .await;
    // The server dies without a graceful shutdown: nothing marks the job.
    let (dir, config) = s.crash();
    let s = TestServer::start_with(dir, config).await;
    let j = job(&s, &id).await;
    assert_eq!(j["state"], "interrupted", "{j}");
    assert!(j["finished_at"].is_string());
    assert!(
        j["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("server stopped")),
        "{j}"
    );
    let events = read_events(watch(&s, &id).await, Duration::from_secs(5), |_| false).await;
    assert_eq!(events.last().expect("events").data["state"], "interrupted");

    // A graceful stop interrupts its running jobs itself and kills their remote commands.
    let marker = "765.4321";
    let id = start_hold(&s, &d.host(), marker).await;
    let store = s.app_state().services.store.clone();
    s.stop().await;
    let stored = store
        .call({
            let id = id.clone();
            move |c| infrastructor_store::jobs::get(c, &id)
        })
        .await
        .expect("store")
        .expect("job");
    assert_eq!(
        stored.state,
        infrastructor_store::jobs::JobState::Interrupted
    );
    wait_for("the remote sleep is gone", Duration::from_secs(5), || {
        processes_with_arg(marker).is_empty()
    })
    .await;
}

#[tokio::test]
async fn hostile_job_ids_and_filters_are_422_or_404_never_500() {
    let d = device();
    let s = remote_server(&d, |_| {}).await;
    let unknown = "6f9619ff-8b86-d011-b42d-00c04fc964ff";
    for (path, expected) in [
        ("/api/jobs/not-a-uuid".to_owned(), 422),
        (format!("/api/jobs/{}", url_escape("../../etc/passwd")), 422),
        (format!("/api/jobs/{}", url_escape("1' OR '1'='1")), 422),
        (format!("/api/jobs/{}", "x".repeat(5000)), 422),
        (format!("/api/jobs/{unknown}"), 404),
        (format!("/api/jobs/{unknown}/events"), 404),
        ("/api/jobs/not-a-uuid/events".to_owned(), 422),
        ("/api/jobs?state=bogus".to_owned(), 422),
        (format!("/api/jobs?plugin={}", url_escape("../x")), 422),
        (
            format!("/api/jobs?plugin={}", url_escape("a'; DROP TABLE jobs;--")),
            422,
        ),
        (format!("/api/jobs?device={}", url_escape("a b")), 422),
        (
            format!("/api/jobs?device={}", url_escape("-oProxyCommand=x")),
            422,
        ),
        ("/api/jobs?limit=100000".to_owned(), 422),
        ("/api/jobs?limit=-1".to_owned(), 422),
        ("/api/jobs?offset=x".to_owned(), 422),
        ("/api/jobs?state=running&state=failed".to_owned(), 422),
        ("/api/jobs?plugin=nosuchplugin".to_owned(), 200),
    ] {
        let (status, body) = s.get(&path).await;
        assert_eq!(status, expected, "{path}: {body}");
        if expected != 200 {
            assert!(body["error"]["message"].is_string(), "{path}: {body}");
        }
    }
    for (path, expected) in [
        ("/api/jobs/not-a-uuid".to_owned(), 422),
        (format!("/api/jobs/{unknown}"), 404),
    ] {
        let (status, body) = s.send(s.client.delete(s.url(&path))).await;
        assert_eq!(status, expected, "DELETE {path}: {body}");
    }
    s.stop().await;
}

/// Deterministic pseudo-random bytes (xorshift64*), so the data does not compress and every
/// position differs.
struct Noise(u64);

impl Noise {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Writes `size` pseudo-random bytes to `path`; returns their SHA-256.
fn random_file(path: &Path, size: usize) -> String {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut hasher = Sha256::new();
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len());
        noise.fill(&mut buf[..n]);
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).expect("write");
        left -= n;
    }
    file.flush().expect("flush");
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn file_sha256(path: &Path) -> String {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path).expect("open");
    std::io::copy(&mut file, &mut hasher).expect("read");
    hex(&hasher.finalize())
}

/// A server reaching two devices, registered as `dev-a` and `dev-b`.
async fn two_device_server(a: &Sshd, b: &Sshd, dir: &Path) -> TestServer {
    server_with_devices(
        &["remote"],
        &[("dev-a", a, true), ("dev-b", b, true)],
        dir,
        |_| {},
    )
    .await
}

const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_256_mib_pipe_between_devices_lands_intact_with_bounded_memory() {
    if !in_own_process("jobs::a_256_mib_pipe_between_devices_lands_intact_with_bounded_memory") {
        return;
    }
    let (a, b) = (device(), device());
    let work = tempfile::tempdir().expect("tmp");
    let size = 256 * MIB;
    let source: PathBuf = work.path().join("source.bin");
    let expected = random_file(&source, size as usize);
    let target = work.path().join("target.bin");
    let s = two_device_server(&a, &b, work.path()).await;
    // Warm up: connections, instance pool, compiled plugin.
    let (status, _, warm) = post(
        &s,
        "/api/remote/jobs/pipe?wait=20",
        json!({
            "source": {"host": "dev-a", "argv": ["printf", "warm"]},
            "sink": {"host": "dev-b", "argv": ["sh", "-c", "cat > /dev/null", "sh"]},
        }),
    )
    .await;
    assert_eq!(status, 200, "{warm}");

    let baseline = rss_bytes();
    let sampler = RssSampler::start();
    let started = Instant::now();
    let (status, _, accepted) = post(
        &s,
        "/api/remote/jobs/pipe",
        json!({
            "source": {"host": "dev-a", "argv": ["sh", "-c", "cat \"$1\"", "sh", source]},
            "sink": {"host": "dev-b", "argv": ["sh", "-c", "cat > \"$1\"", "sh", target]},
            "expected_bytes": size,
        }),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_owned();
    let events = read_events(watch(&s, &id).await, Duration::from_secs(60), is_final).await;
    let elapsed = started.elapsed();
    let peak = sampler.peak();
    drop(sampler);
    let done = job(&s, &id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["result"]["bytes"], size, "{done}");
    assert_eq!(done["progress"]["done"], size);
    assert_eq!(done["progress"]["total"], size);
    assert_eq!(done["progress"]["unit"], "bytes");
    assert_eq!(file_sha256(&target), expected, "the same bytes landed");

    // Progress at least every second while it ran.
    let running_at = events
        .iter()
        .find(|e| e.event == "state" && e.data["state"] == "running")
        .map(|e| e.at)
        .expect("running event");
    let final_at = events.last().expect("final").at;
    let mut times: Vec<Instant> = vec![running_at];
    times.extend(
        events
            .iter()
            .filter(|e| e.event == "progress")
            .map(|e| e.at),
    );
    times.push(final_at);
    let longest_gap = times
        .windows(2)
        .map(|w| w[1].saturating_duration_since(w[0]))
        .max()
        .unwrap_or_default();
    assert!(
        longest_gap <= Duration::from_millis(1000),
        "progress every second at least; longest gap {longest_gap:?}"
    );
    let growth = peak.saturating_sub(baseline);
    let job_ms = done["result"]["duration_ms"]
        .as_u64()
        .expect("duration")
        .max(1);
    let mb_s = size as f64 / 1e6 / (job_ms as f64 / 1000.0);

    // The same transfer by OpenSSH alone: ssh A cat | ssh B cat.
    let target2 = work.path().join("target2.bin");
    let openssh = Instant::now();
    let mut src = ssh_command(&a)
        .args(["cat", &source.display().to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("ssh A");
    let src_out = src.stdout.take().expect("stdout");
    let sink_status = ssh_command(&b)
        .args([format!("cat > {}", target2.display())])
        .stdin(src_out)
        .status()
        .expect("ssh B");
    assert!(src.wait().expect("ssh A").success() && sink_status.success());
    let openssh = openssh.elapsed();
    assert_eq!(file_sha256(&target2), expected);
    let openssh_mb_s = size as f64 / 1e6 / openssh.as_secs_f64();
    eprintln!(
        "pipe 256 MiB: {mb_s:.0} MB/s through the server ({job_ms} ms in the job, {elapsed:?} end to end), \
         OpenSSH `ssh A cat | ssh B cat` {openssh_mb_s:.0} MB/s ({openssh:?}); ratio {:.2}; \
         server RSS {} MiB → peak {} MiB (+{} MiB); {} progress events, longest gap {longest_gap:?}",
        mb_s / openssh_mb_s,
        baseline / MIB,
        peak / MIB,
        growth / MIB,
        events.iter().filter(|e| e.event == "progress").count(),
    );
    assert!(growth < 64 * MIB, "RSS grew by {} MiB", growth / MIB);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_sinks_sshd_mid_pipe_fails_the_job_and_stops_the_source() {
    let (a, mut b) = (device(), device());
    let work = tempfile::tempdir().expect("tmp");
    let s = two_device_server(&a, &b, work.path()).await;
    let marker = "pipe-source-marker-7731";
    let id = start_pipe(
        &s,
        "while :; do head -c 1048576 /dev/zero; sleep 0.05; done",
        marker,
        "cat > /dev/null",
    )
    .await;
    wait_job(&s, &id, Duration::from_secs(15), |j| {
        j["progress"]["done"].as_u64().unwrap_or(0) >= 4 * MIB
    })
    .await;
    assert!(!processes_with_arg(marker).is_empty(), "the source runs");
    b.stop().expect("stop the sink's sshd");
    let failed = wait_job(&s, &id, Duration::from_secs(15), |j| {
        j["state"] != "running" && j["state"] != "queued"
    })
    .await;
    assert_eq!(failed["state"], "failed", "{failed}");
    let message = failed["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("sink") && message.contains("connection"),
        "a clear error: {failed}"
    );
    assert_eq!(failed["error"]["code"], "SERVICE_UNAVAILABLE", "{failed}");
    wait_for("the source is stopped", Duration::from_secs(5), || {
        processes_with_arg(marker).is_empty()
    })
    .await;
    s.stop().await;
}

/// Starts a pipe job from the shell script `source` on dev-a (with `marker` as its `$1`,
/// to find it among the processes) into the shell script `sink` on dev-b, without waiting
/// for it; its id.
async fn start_pipe(s: &TestServer, source: &str, marker: &str, sink: &str) -> String {
    let (status, _, accepted) = post(
        s,
        "/api/remote/jobs/pipe",
        json!({
            "source": {"host": "dev-a", "argv": ["sh", "-c", source, "sh", marker]},
            "sink": {"host": "dev-b", "argv": ["sh", "-c", sink, "sh"]},
        }),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    accepted["id"].as_str().expect("id").to_owned()
}

/// A sink that exits after a few bytes while the source floods its SSH window (what
/// `zfs receive` into an existing dataset does): every round ends at once with the sink's
/// status and the source stopped, never a pipe waiting forever for a window that a closed
/// channel will not open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_that_exits_early_ends_the_pipe_and_stops_the_flooding_source() {
    let (a, b) = (device(), device());
    let work = tempfile::tempdir().expect("tmp");
    let s = two_device_server(&a, &b, work.path()).await;
    for round in 0..12 {
        let marker = format!("flood-source-marker-{round}");
        let id = start_pipe(
            &s,
            "while :; do head -c 4194304 /dev/zero; done",
            &marker,
            "head -c 300 > /dev/null; exit 3",
        )
        .await;
        let ended = wait_job(&s, &id, Duration::from_secs(20), |j| {
            j["state"] != "running" && j["state"] != "queued"
        })
        .await;
        // The plugin's `check` names the source first: killed because the sink ended.
        assert_eq!(ended["state"], "failed", "round {round}: {ended}");
        let message = ended["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("the sink ended first"),
            "round {round}: {ended}"
        );
        wait_for(
            &format!("round {round}: the source is stopped"),
            Duration::from_secs(5),
            || processes_with_arg(&marker).is_empty(),
        )
        .await;
    }
    s.stop().await;
}

/// A source that writes a little, then neither writes nor ends (a hung `zfs send`), and a
/// sink that stops reading (a hung `zfs receive`): each pipe is stopped once no byte moved
/// for `ssh.pipe_idle_secs`, failed as a timeout that says so, both remote sides killed,
/// rather than held until `ssh.max_pipe_secs` (48 h by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipe_that_moves_nothing_for_its_idle_limit_is_stopped_on_both_sides() {
    let (a, b) = (device(), device());
    let work = tempfile::tempdir().expect("tmp");
    let s = server_with_devices(
        &["remote"],
        &[("dev-a", &a, true), ("dev-b", &b, true)],
        work.path(),
        |c| c.ssh.pipe_idle_secs = 2,
    )
    .await;
    // (case, source, sink, the argument of the `sleep` that hangs it): the source's shell
    // keeps its marker, the sleeps have arguments of their own to be found by.
    let cases = [
        (
            "a silent source",
            "head -c 1000 /dev/zero; sleep 7201",
            "cat > /dev/null",
            "7201",
        ),
        (
            "a sink that stops reading",
            "while :; do head -c 1048576 /dev/zero; done",
            "head -c 1000 > /dev/null; sleep 7202",
            "7202",
        ),
    ];
    for (n, (case, source, sink, hang)) in cases.into_iter().enumerate() {
        let marker = format!("stalled-pipe-source-{n}");
        let started = Instant::now();
        let id = start_pipe(&s, source, &marker, sink).await;
        let ended = wait_job(&s, &id, Duration::from_secs(30), |j| {
            j["state"] != "running" && j["state"] != "queued"
        })
        .await;
        let took = started.elapsed();
        assert_eq!(ended["state"], "failed", "{case}: {ended}");
        assert_eq!(ended["error"]["code"], "TIMEOUT", "{case}: {ended}");
        let message = ended["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("moved no bytes for 2 s"),
            "{case}: the error says why: {ended}"
        );
        // Well under the job's own limits: only the idle limit can have ended it.
        assert!(took < Duration::from_secs(25), "{case}: took {took:?}");
        wait_for(
            &format!("{case}: the source is stopped"),
            Duration::from_secs(10),
            || processes_with_arg(&marker).is_empty(),
        )
        .await;
        wait_for(
            &format!("{case}: the hanging `sleep {hang}` is stopped"),
            Duration::from_secs(10),
            || processes_with_arg(hang).is_empty(),
        )
        .await;
    }
    s.stop().await;
}

/// A request body of `size` pseudo-random bytes, produced 64 KiB at a time (never held
/// whole), and the SHA-256 it will have.
fn noise_body(size: u64) -> (reqwest::Body, String) {
    let mut hasher = Sha256::new();
    let mut noise = Noise(0x1234_5678_9ABC_DEF1);
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = size;
    while left > 0 {
        let n = (left as usize).min(buf.len());
        noise.fill(&mut buf[..n]);
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    let expected = hex(&hasher.finalize());
    let stream = futures::stream::unfold(
        (Noise(0x1234_5678_9ABC_DEF1), size),
        |(mut noise, left)| async move {
            if left == 0 {
                return None;
            }
            let n = (left as usize).min(64 * 1024);
            let mut chunk = vec![0u8; n];
            noise.fill(&mut chunk);
            Some((Ok::<_, std::io::Error>(chunk), (noise, left - n as u64)))
        },
    );
    (reqwest::Body::wrap_stream(stream), expected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_256_mib_streamed_body_reaches_the_remote_stdin_with_bounded_memory() {
    if !in_own_process("jobs::a_256_mib_streamed_body_reaches_the_remote_stdin_with_bounded_memory")
    {
        return;
    }
    let d = device();
    let s = remote_server(&d, |_| {}).await;
    let url = s.url(&format!("/api/remote/{}/upload", d.host()));
    let (warm, _) = noise_body(1024);
    let response = s.client.put(&url).body(warm).send().await.expect("warm");
    assert_eq!(response.status(), 200);
    let size = 256 * MIB;
    let (body, expected) = noise_body(size);
    let baseline = rss_bytes();
    let sampler = RssSampler::start();
    let started = Instant::now();
    let response = s
        .client
        .put(&url)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("upload");
    let elapsed = started.elapsed();
    let peak = sampler.peak();
    drop(sampler);
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["exit_code"], 0, "{answer}");
    assert_eq!(
        answer["stdout"], expected,
        "the remote sha256sum saw the same bytes"
    );
    let growth = peak.saturating_sub(baseline);
    eprintln!(
        "streamed body 256 MiB: {:.0} MB/s; server RSS {} MiB → peak {} MiB (+{} MiB)",
        size as f64 / 1e6 / elapsed.as_secs_f64(),
        baseline / MIB,
        peak / MIB,
        growth / MIB
    );
    // Client and server share this process: the client's side is streamed too.
    assert!(growth < 64 * MIB, "RSS grew by {} MiB", growth / MIB);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_is_cut_off_and_its_command_never_sees_eof() {
    let d = device();
    let s = remote_server(&d, |c| c.server.body_idle_secs = 1).await;
    let work = tempfile::tempdir().expect("tmp");
    let target = work.path().join("upload.bin");
    let stream = futures::stream::unfold(0u32, |n| async move {
        match n {
            0..=3 => Some((Ok::<_, std::io::Error>(vec![7u8; 256 * 1024]), n + 1)),
            4 => {
                tokio::time::sleep(Duration::from_secs(4)).await;
                Some((Ok(vec![7u8; 16]), n + 1))
            }
            _ => None,
        }
    });
    let url = s.url(&format!(
        "/api/remote/{}/upload?to={}",
        d.host(),
        url_escape(&target.display().to_string())
    ));
    let response = s
        .client
        .put(&url)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("sent nothing") && message.contains("bytes"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !target.exists(),
        "a cut-off upload never completes the file"
    );

    // The same route whole: the file lands.
    let (body, expected) = noise_body(3 * MIB);
    let response = s.client.put(&url).body(body).send().await.expect("upload");
    assert_eq!(response.status(), 200);
    assert_eq!(file_sha256(&target), expected);
    // A JSON route refuses a big body; a streamed one has its own limit.
    s.stop().await;
}

#[tokio::test]
async fn a_streamed_response_can_run_a_declared_script() {
    let d = device();
    let s = remote_server(&d, |_| {}).await;
    let tag = "scriptmarker-42";
    let mut response = s
        .client
        .get(s.url(&format!("/api/remote/{}/follow-script?tag={tag}", d.host())))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    while !text.contains(&format!("data: {tag} 2")) {
        let chunk = tokio::time::timeout(Duration::from_secs(3), response.chunk())
            .await
            .expect("a line within 3 s")
            .expect("chunk")
            .expect("not ended");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.starts_with(&format!("data: {tag} 0\n\n")), "{text}");
    assert!(
        !processes_with_arg(tag).is_empty(),
        "running while followed"
    );
    drop(response);
    wait_for("the script is stopped", Duration::from_secs(5), || {
        processes_with_arg(tag).is_empty()
    })
    .await;
    // Without `sleep` granted, the script is refused before anything runs.
    let s2 = remote_server(&d, |c| {
        c.plugins.entries.entry("remote".into()).or_default().grants =
            Some(vec!["exec:printf **".into(), "exec:sh -c * sh **".into()]);
    })
    .await;
    let (status, body) = s2
        .get(&format!("/api/remote/{}/follow-script", d.host()))
        .await;
    assert_eq!(status, 403, "{body}");
    s2.stop().await;
    s.stop().await;
}

#[tokio::test]
async fn internal_routes_run_as_listed_jobs_and_the_api_documents_jobs() {
    let d = device();
    let s = remote_server(&d, |_| {}).await;
    // Registering a device queues the devices plugin's probe as a job.
    let (status, body) = s
        .send(s.client.post(s.url("/api/devices")).json(&json!({
            "hostname": "probed", "ip_address": "127.0.0.1", "ssh_port": d.port(),
        })))
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, list) = s.get("/api/jobs?plugin=devices").await;
    let probe = &list["jobs"][0];
    assert_eq!(list["total"], 1, "{list}");
    let id = probe["id"].as_str().expect("id").to_owned();
    let done = wait_job(&s, &id, Duration::from_secs(20), |j| {
        j["state"] == "succeeded" || j["state"] == "failed"
    })
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let (_, device) = s.get("/api/devices/probed").await;
    assert_eq!(device["status"], "online", "{device}");

    let (_, doc) = s.get("/api/openapi.json").await;
    let steps = &doc["paths"]["/api/remote/jobs/steps"]["post"];
    assert!(steps["responses"]["202"].is_object(), "{steps}");
    assert!(
        steps["parameters"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["name"] == "wait")),
        "{steps}"
    );
    let upload = &doc["paths"]["/api/remote/{host}/upload"]["put"];
    assert!(
        upload["requestBody"]["content"]["application/octet-stream"].is_object(),
        "{upload}"
    );
    for (path, method) in [
        ("/api/jobs", "get"),
        ("/api/jobs/{id}", "get"),
        ("/api/jobs/{id}", "delete"),
        ("/api/jobs/{id}/events", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{path} {method}");
    }
    assert!(doc["paths"]["/api/jobs/{id}/events"]["get"]["responses"]["200"]["content"]["text/event-stream"].is_object());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_device_limits_queue_jobs_and_a_cancelled_queued_job_never_runs() {
    let d = device();
    let s = remote_server(&d, |c| c.jobs.max_per_device = 1).await;
    let host = d.host();
    let start = |seconds: &'static str| {
        let s = &s;
        let host = host.clone();
        async move {
            let (status, _, j) = post(
                s,
                &format!("/api/remote/{host}/jobs/hold"),
                json!({"seconds": seconds}),
            )
            .await;
            assert_eq!(status, 202, "{j}");
            j["id"].as_str().expect("id").to_owned()
        }
    };
    let first = start("654.3211").await;
    let second = start("654.3212").await;
    let third = start("654.3213").await;
    wait_remote_start(&s, &first, "654.3211").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(job(&s, &second).await["state"], "queued");
    assert!(
        processes_with_arg("654.3212").is_empty(),
        "one job per device"
    );
    // Cancelling a queued job: it never starts.
    let (status, cancelled) = s
        .send(s.client.delete(s.url(&format!("/api/jobs/{second}"))))
        .await;
    assert_eq!((status, &cancelled["state"]), (200, &json!("cancelled")));
    assert!(cancelled["started_at"].is_null(), "{cancelled}");
    // Freeing the device's slot starts the next one in line.
    let (status, _) = s
        .send(s.client.delete(s.url(&format!("/api/jobs/{first}"))))
        .await;
    assert_eq!(status, 200);
    wait_remote_start(&s, &third, "654.3213").await;
    assert!(
        processes_with_arg("654.3212").is_empty(),
        "the cancelled one never ran"
    );
    let (_, running) = s
        .get(&format!("/api/jobs?state=running&device={host}"))
        .await;
    assert_eq!(running["total"], 1, "{running}");
    assert_eq!(running["jobs"][0]["id"], third);
    s.stop().await;
}

#[tokio::test]
async fn a_pipe_checks_the_grants_of_both_sides_before_anything_runs() {
    let (a, b) = (device(), device());
    let work = tempfile::tempdir().expect("tmp");
    let s = two_device_server(&a, &b, work.path()).await;
    let marker = "ungranted-pipe-marker";
    let (status, _, body) = post(
        &s,
        "/api/remote/jobs/pipe?wait=20",
        json!({
            "source": {"host": "dev-a", "argv": ["sh", "-c", "sleep 30", "sh", marker]},
            // `tee` is declared by the plugin and never granted.
            "sink": {"host": "dev-b", "argv": ["tee", "/dev/null"]},
        }),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("exec:tee /dev/null")),
        "{body}"
    );
    assert!(
        processes_with_arg(marker).is_empty(),
        "the source never ran"
    );
    s.stop().await;
}
