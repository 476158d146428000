//! The SSH pool, the `ssh` imports, the collector and streamed responses, over HTTP against
//! real OpenSSH sshd devices on loopback.

use std::process::Command;
use std::time::{Duration, Instant};

use infrastructor::config::HostKeyPolicy;
use infrastructor_tests::api_key as key;
use infrastructor_tests::testbed::{Sshd, SshdOptions, ssh_command};
use infrastructor_tests::{TestServer, audit_rows, eventually, processes_with_arg, remote_server};
use serde_json::{Value, json};

fn device() -> Sshd {
    Sshd::start(SshdOptions::default()).expect("sshd device starts")
}

async fn server_for(
    device: &Sshd,
    configure: impl FnOnce(&mut infrastructor::Config),
) -> TestServer {
    remote_server(device, configure).await
}

async fn exec(s: &TestServer, host: &str, body: Value) -> (u16, Value) {
    s.send(
        s.client
            .post(s.url(&format!("/api/remote/{host}/exec")))
            .json(&body),
    )
    .await
}

/// [`exec`] in a task of its own, for requests in flight together.
fn spawn_exec(s: &TestServer, host: &str, body: Value) -> tokio::task::JoinHandle<(u16, Value)> {
    let client = s.client.clone();
    let url = s.url(&format!("/api/remote/{host}/exec"));
    tokio::spawn(async move {
        let r = client.post(url).json(&body).send().await.expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    })
}

fn bytes(v: &Value) -> Vec<u8> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|b| b.as_u64())
                .map(|b| b as u8)
                .collect()
        })
        .unwrap_or_default()
}

async fn wait_gone(needle: &str, within: Duration) -> bool {
    eventually(within, || processes_with_arg(needle).is_empty()).await
}

#[tokio::test]
async fn argv_arrives_byte_exact_and_nothing_is_interpreted() {
    let d = device();
    let s = server_for(&d, |_| {}).await;
    let canary = d.dir().join("CANARY");
    let c = canary.display().to_string();
    let hostile = vec![
        format!("; touch {c}"),
        format!("| touch {c}"),
        format!("& touch {c} &"),
        format!("$(touch {c})"),
        format!("`touch {c}`"),
        format!("' ; touch {c} ; '"),
        format!("\" ; touch {c} ; \""),
        format!("\ntouch {c}\n"),
        "* ? < > ~ { } ( ) $HOME \\ \t".to_string(),
        "unicode: żółw ✓ 🚀".to_string(),
        "-n".to_string(),
        "--help".to_string(),
        String::new(),
        "  spaces  ".to_string(),
    ];
    let mut argv = vec!["printf".to_string(), "%s\\0".to_string()];
    argv.extend(hostile.iter().cloned());
    let (status, body) = exec(&s, &d.host(), json!({ "argv": argv })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["exit_code"], 0);
    let out = bytes(&body["stdout"]);
    let echoed: Vec<String> = out
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(
        &echoed[..hostile.len()],
        hostile.as_slice(),
        "each argument arrives as one, byte-exact"
    );
    assert!(!canary.exists(), "no metacharacter was interpreted");

    let (status, body) = s
        .send(
            s.client
                .post(s.url(&format!("/api/remote/{}/script", d.host())))
                .json(&json!({ "args": hostile })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let echoed: Vec<String> = bytes(&body["stdout"])
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(
        &echoed[..hostile.len()],
        hostile.as_slice(),
        "script args arrive as $1…"
    );
    assert!(!canary.exists());
    s.stop().await;
}

#[tokio::test]
async fn stdin_binary_round_trip_and_exit_codes() {
    let d = device();
    let s = server_for(&d, |_| {}).await;
    let input: Vec<u8> = (0..=255u8).cycle().take(256 * 1024).collect();
    let (status, body) = exec(&s, &d.host(), json!({"argv": ["cat"], "stdin": input})).await;
    assert_eq!(status, 200);
    assert_eq!(
        bytes(&body["stdout"]),
        input,
        "binary stdin comes back unchanged"
    );
    for code in [0, 1, 125, 126, 127, 255] {
        let (status, body) = exec(
            &s,
            &d.host(),
            json!({"argv": ["sh", "-c", "echo oops >&2; exit \"$1\"", "sh", code.to_string()]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["exit_code"], code, "real exit status kept");
        assert_eq!(body["stderr"], "oops\n", "stderr kept, marker stripped");
    }
    s.stop().await;
}

#[tokio::test]
async fn timeout_is_504_and_the_remote_process_is_gone() {
    let d = device();
    let s = server_for(&d, |_| {}).await;
    let started = Instant::now();
    let (status, body) = exec(
        &s,
        &d.host(),
        json!({"argv": ["sh", "-c", "sleep 47.123; echo never", "sh", "timeout-marker"], "timeout_ms": 1000}),
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(status, 504, "{body}");
    assert!(
        elapsed >= Duration::from_millis(950) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
    let shell_gone = wait_gone("timeout-marker", Duration::from_secs(5)).await;
    let child_gone = wait_gone("47.123", Duration::from_secs(5)).await;
    assert!(
        shell_gone && child_gone,
        "the remote command ({shell_gone}) and its children ({child_gone}) were stopped: {:?} {:?}",
        processes_with_arg("timeout-marker"),
        processes_with_arg("47.123")
    );
    let (status, _) = exec(&s, &d.host(), json!({"argv": ["printf", "ok"]})).await;
    assert_eq!(status, 200, "the connection still serves");
    s.stop().await;
}

#[tokio::test]
async fn unreachable_wrong_key_and_host_keys() {
    let d = device();
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("a")
        .port();
    let s = server_for(&d, |c| c.ssh.default_port = closed).await;
    let started = Instant::now();
    let (status, body) = exec(&s, "127.0.0.1", json!({"argv": ["printf", "x"]})).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "within the connect timeout"
    );
    s.stop().await;

    let other_key = d.dir().join("other_key");
    infrastructor_tests::testbed::sshd::generate_key(&other_key).expect("keygen");
    let s = server_for(&d, |c| c.ssh.identity_files = vec![other_key.clone()]).await;
    let (status, body) = exec(&s, &d.host(), json!({"argv": ["printf", "x"]})).await;
    assert_eq!(status, 503, "wrong key: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("authentication"),
        "{body}"
    );
    s.stop().await;

    // Unknown host key under strict: refused, naming the fingerprint.
    let empty = d.dir().join("empty_known_hosts");
    std::fs::write(&empty, "").expect("write");
    let s = server_for(&d, |c| c.ssh.known_hosts = empty.clone()).await;
    let (status, body) = exec(&s, &d.host(), json!({"argv": ["printf", "x"]})).await;
    assert_eq!(status, 503, "{body}");
    let msg = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        msg.contains("SHA256:") && msg.contains("127.0.0.1"),
        "{msg}"
    );
    s.stop().await;

    // accept-new: first contact recorded.
    let learn = d.dir().join("learned_known_hosts");
    let s = server_for(&d, |c| {
        c.ssh.known_hosts = learn.clone();
        c.ssh.host_key_policy = HostKeyPolicy::AcceptNew;
    })
    .await;
    // A read never records a key: first contact is a request that changes something.
    let (status, body) = exec(&s, &d.host(), json!({"argv": ["printf", "x"]})).await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = s
        .send(
            s.client
                .post(s.url(&format!("/api/remote/{}/jobs/hold?wait=30", d.host())))
                .json(&json!({"seconds": "0"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = exec(&s, &d.host(), json!({"argv": ["printf", "x"]})).await;
    assert_eq!(status, 200, "{body}");
    let recorded = std::fs::read_to_string(&learn).expect("recorded");
    assert!(
        recorded.contains(&format!("[127.0.0.1]:{}", d.port())),
        "{recorded}"
    );
    s.stop().await;
}

#[tokio::test]
async fn changed_host_key_is_refused_under_strict_and_accept_new() {
    let mut d = device();
    let known = d.dir().join("known_before_change");
    std::fs::copy(d.known_hosts_path(), &known).expect("copy");
    d.regenerate_host_key().expect("new host key");
    for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
        let k = known.clone();
        let s = server_for(&d, move |c| {
            c.ssh.known_hosts = k;
            c.ssh.host_key_policy = policy;
        })
        .await;
        let (status, body) = exec(&s, &d.host(), json!({"argv": ["printf", "x"]})).await;
        assert_eq!(status, 503, "{policy:?}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("CHANGED"),
            "{body}"
        );
        s.stop().await;
    }
}

/// The PIDs the device's `name` counter recorded (the counter execs the real program, so
/// each is the program's own PID).
fn counted_pids(d: &Sshd, name: &str) -> Vec<u32> {
    std::fs::read_to_string(d.dir().join("counts").join(name))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[tokio::test]
async fn sshd_killed_mid_command_then_restarted() {
    let mut d = device();
    let s = server_for(&d, |_| {}).await;
    let (status, _) = exec(&s, &d.host(), json!({"argv": ["printf", "warm"]})).await;
    assert_eq!(status, 200);
    d.count_invocations("sleep").expect("counter");
    let host = d.host();
    let client = s.client.clone();
    let url = s.url(&format!("/api/remote/{host}/exec"));
    let running = tokio::spawn(async move {
        let r = client
            .post(url)
            .json(&json!({"argv": ["sleep", "20"], "timeout_ms": 15000}))
            .send()
            .await
            .expect("send");
        (r.status().as_u16(), Instant::now())
    });
    // The remote `sleep` has started and is running before the device goes away.
    let deadline = Instant::now() + Duration::from_secs(10);
    let sleeper = loop {
        if let Some(&pid) = counted_pids(&d, "sleep").first()
            && infrastructor_tests::testbed::process_alive(pid)
        {
            break pid;
        }
        assert!(
            Instant::now() < deadline && !running.is_finished(),
            "the remote sleep never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let stopped_at = Instant::now();
    d.stop().expect("stop sshd");
    assert!(
        !infrastructor_tests::testbed::process_alive(sleeper),
        "the remote sleep went with its sshd"
    );
    let (status, answered_at) = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("an answer, not a hang")
        .expect("join");
    let waited = answered_at.duration_since(stopped_at);
    assert_eq!(
        status, 503,
        "the device went away: unavailable, not a timeout"
    );
    assert!(
        waited < Duration::from_secs(3),
        "answered {waited:?} after the device went away"
    );
    assert_eq!(d.invocations("sleep"), 1, "not retried");
    d.restart().expect("restart sshd");
    let (status, body) = exec(&s, &d.host(), json!({"argv": ["printf", "back"]})).await;
    assert_eq!(status, 200, "a new connection is made: {body}");
    assert_eq!(bytes(&body["stdout"]), b"back");
    s.stop().await;
}

/// An `exec` whose stdin is far larger than the SSH window, for a command that exits
/// after reading a few bytes: its exit status comes back at once, never a wait until the
/// timeout for window space that its closed channel will not open.
#[tokio::test]
async fn a_command_that_exits_without_reading_a_large_stdin_ends_at_once() {
    let d = device();
    let s = server_for(&d, |_| {}).await;
    let stdin = vec![b'x'; 16 * 1024 * 1024];
    let command =
        infrastructor_ssh::RemoteCommand::argv(&["sh", "-c", "head -c 10 > /dev/null; exit 4"]);
    let started = Instant::now();
    let out = s
        .app_state()
        .services
        .remote
        .exec(
            &d.host(),
            &command,
            Some(&stdin),
            20_000,
            infrastructor::remote::HostAccess::Any,
        )
        .await
        .expect("the command runs");
    assert_eq!(out.exit_code, 4, "the command's own status");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "ended at once, not at the 20 s timeout: {:?}",
        started.elapsed()
    );
    let (status, _) = exec(&s, &d.host(), json!({"argv": ["printf", "ok"]})).await;
    assert_eq!(status, 200, "the connection still serves");
    s.stop().await;
}

/// Every session slot of a target held by commands that time out together: each one's kill
/// must still reach the device (it reuses the slot its command held) instead of waiting for
/// a slot that only the kills themselves would free.
#[tokio::test]
async fn commands_timing_out_in_every_session_slot_are_all_stopped() {
    const SLOTS: usize = 2;
    let d = device();
    let s = server_for(&d, |c| c.ssh.max_sessions_per_connection = SLOTS as u32).await;
    let host = d.host();
    let runs: Vec<_> = (0..SLOTS)
        .map(|i| {
            spawn_exec(
                &s,
                &host,
                json!({"argv": ["sh", "-c", "sleep 48.321", "sh", format!("slot-marker-{i}")], "timeout_ms": 1000}),
            )
        })
        .collect();
    for run in runs {
        let (status, body) = run.await.expect("join");
        assert_eq!(status, 504, "{body}");
    }
    let gone = wait_gone("48.321", Duration::from_secs(5)).await;
    assert!(
        gone,
        "every timed-out command was stopped: {:?}",
        processes_with_arg("48.321")
    );
    let (status, _) = exec(&s, &host, json!({"argv": ["printf", "ok"]})).await;
    assert_eq!(status, 200, "the slots are free again");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_execs_on_one_connection_all_succeed() {
    let d = Sshd::start(SshdOptions {
        max_sessions: 10,
        ..SshdOptions::default()
    })
    .expect("sshd");
    let s = server_for(&d, |_| {}).await;
    let host = d.host();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            spawn_exec(
                &s,
                &host,
                json!({"argv": ["sh", "-c", "sleep 0.2; printf \"$1\"", "sh", format!("n{i}")]}),
            )
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        let (status, body) = t.await.expect("join");
        assert_eq!(status, 200, "request {i}: {body}");
        assert_eq!(bytes(&body["stdout"]), format!("n{i}").into_bytes());
    }
    assert_eq!(
        s.app_state().services.remote.pool.connection_count().await,
        1,
        "all on one connection"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_collections_share_one_remote_run() {
    let d = device();
    // What OpenSSH's own client gets from the device.
    let real = ssh_command(&d)
        .arg("hostname")
        .output()
        .expect("ssh hostname");
    assert!(real.status.success(), "{real:?}");
    let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
    assert!(!real.is_empty());
    d.count_invocations("hostname").expect("counter");
    let s = server_for(&d, |_| {}).await;
    let host = d.host();
    let url = s.url(&format!("/api/remote/{host}/collect?variant=a"));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let client = s.client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let r = client.get(url).send().await.expect("send");
                (
                    r.status().as_u16(),
                    r.json::<Value>().await.unwrap_or_default(),
                )
            })
        })
        .collect();
    let mut values = Vec::new();
    for t in tasks {
        let (status, body) = t.await.expect("join");
        assert_eq!(status, 200, "{body}");
        values.push(
            body["data"]["value"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert_eq!(
        d.invocations("hostname"),
        1,
        "exactly one remote run for 100 requests"
    );
    assert_eq!(values.len(), 100);
    assert!(
        values.iter().all(|v| *v == real),
        "all got the device's hostname {real:?}: {values:?}"
    );

    let (_, cached) = s
        .get(&format!("/api/remote/{host}/collect?variant=a"))
        .await;
    assert_eq!(cached["collection_metadata"]["cache_hit"], true);
    assert_eq!(cached["data"]["value"], real.as_str());
    assert_eq!(d.invocations("hostname"), 1);

    let (_, other) = s
        .get(&format!("/api/remote/{host}/collect?variant=b"))
        .await;
    assert_eq!(
        other["collection_metadata"]["cache_hit"], false,
        "different parameters, different entry"
    );
    assert_ne!(
        other["collection_metadata"]["cache_key"],
        cached["collection_metadata"]["cache_key"]
    );
    assert_eq!(d.invocations("hostname"), 2);

    let (_, forced) = s
        .get(&format!("/api/remote/{host}/collect?variant=a&force=true"))
        .await;
    assert_eq!(forced["collection_metadata"]["cache_hit"], false);
    assert_eq!(d.invocations("hostname"), 3, "force_refresh runs again");

    let store = &s.app_state().services.store;
    let rows = audit_rows(store, "remote").await;
    assert_eq!(rows.len(), 3, "an audit row per remote run, none per hit");
    assert!(rows.iter().all(|r| !r.cache_hit), "{rows:?}");
    // The 99 joins of the shared run and the cached read are counted, then written as
    // aggregates.
    let written = s.app_state().services.collector.flush_hits().await;
    assert_eq!(
        written, 1,
        "one row: one plugin, data type, target and requester"
    );
    let hits = infrastructor_tests::hit_total(store, "remote").await;
    assert_eq!(hits, 100);
    let snaps = store
        .call(|c| infrastructor_store::snapshots::count(c, "remote", "hostname", None))
        .await
        .expect("snapshots");
    assert_eq!(snaps, 3, "every fresh result persisted");
    s.stop().await;
}

#[tokio::test]
async fn streamed_sse_follow_stops_the_remote_process_on_disconnect() {
    let d = device();
    let s = server_for(&d, |_| {}).await;
    let mut response = s
        .client
        .get(s.url(&format!("/api/remote/{}/follow", d.host())))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let started = Instant::now();
    let mut text = String::new();
    while !text.contains("data: line 2") {
        let chunk = tokio::time::timeout(Duration::from_secs(2), response.chunk())
            .await
            .expect("a line within 2 s")
            .expect("chunk")
            .expect("not ended");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(text.starts_with("data: line 0\n\n"), "{text}");
    assert!(
        !processes_with_arg("follow-marker").is_empty(),
        "running while followed"
    );
    drop(response);
    assert!(
        wait_gone("follow-marker", Duration::from_secs(5)).await,
        "stopped after the client left"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poller_marks_a_stopped_device_offline_then_online() {
    let mut d = device();
    let port = d.port();
    let s = server_for(&d, |c| {
        // Only the `remote` plugin's collector polls, so the failures counted below are all
        // the poller's (the built-ins' collectors would count towards offline too).
        for builtin in ["devices", "containers"] {
            c.plugins.entries.entry(builtin.into()).or_default().enabled = false;
        }
        c.poller.enabled = true;
        c.poller.backoff_base_ms = 200;
        c.poller.backoff_max_ms = 800;
        c.poller.refresh_secs = 1;
        c.poller.tick_ms = 50;
    })
    .await;
    let store = s.app_state().services.store.clone();
    store
        .call(move |c| {
            infrastructor_store::devices::create(
                c,
                infrastructor_store::devices::DeviceFields {
                    hostname: Some("box1".into()),
                    ip_address: Some(Some("127.0.0.1".into())),
                    ssh_port: Some(Some(port)),
                    ..Default::default()
                },
            )
        })
        .await
        .expect("register device");
    let status = |store: infrastructor_store::Store| async move {
        store
            .call(|c| infrastructor_store::devices::get(c, "box1"))
            .await
            .expect("get")
            .expect("exists")
    };
    let wait_for = |want: &'static str, store: infrastructor_store::Store| async move {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let dev = status(store.clone()).await;
            if dev.status.as_str() == want {
                return dev;
            }
            assert!(
                Instant::now() < deadline,
                "device never became {want} (is {})",
                dev.status.as_str()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let online = wait_for("online", store.clone()).await;
    assert!(online.last_seen.is_some(), "last_seen written");
    d.stop().expect("stop sshd");
    let offline = wait_for("offline", store.clone()).await;
    assert_eq!(
        offline.last_seen,
        online.last_seen.clone().max(offline.last_seen.clone())
    );
    let audit_errors = audit_rows(&store, "remote")
        .await
        .into_iter()
        .filter(|r| r.requester.as_deref() == Some("poller") && r.error.is_some())
        .count();
    assert!(
        audit_errors >= 3,
        "3 failed polls before offline ({audit_errors})"
    );
    d.restart().expect("restart sshd");
    let back = wait_for("online", store.clone()).await;
    assert!(back.last_seen > online.last_seen, "last_seen advanced");
    s.stop().await;
}

#[tokio::test]
async fn output_cap_is_a_clear_error() {
    let d = device();
    let s = server_for(&d, |c| c.ssh.max_output_bytes = 4096).await;
    let input = vec![b'x'; 64 * 1024];
    let (status, body) = exec(&s, &d.host(), json!({"argv": ["cat"], "stdin": input})).await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("4096 bytes"),
        "{body}"
    );
    let (status, _) = exec(&s, &d.host(), json!({"argv": ["printf", "still fine"]})).await;
    assert_eq!(status, 200);
    s.stop().await;
}

#[tokio::test]
async fn one_hosts_output_streams_into_anothers_stdin() {
    let a = device();
    let b = device();
    let config = |d: &Sshd| infrastructor_ssh::PoolConfig {
        identity_files: vec![d.client_key_path()],
        identity_dirs: infrastructor_ssh::identity::canonical_dirs(&[d.dir().to_path_buf()]),
        key_passphrase: None,
        known_hosts: d.known_hosts_path(),
        host_key_policy: infrastructor_ssh::HostKeyPolicy::Strict,
        connect_timeout: Duration::from_secs(5),
        max_sessions: 8,
        idle_timeout: Duration::from_secs(60),
        max_output_bytes: 1 << 20,
        max_command_bytes: 64 * 1024,
    };
    // Each device has its own client key and known_hosts: one pool per side.
    let pool_a = infrastructor_ssh::SshPool::new(config(&a));
    let pool_b = infrastructor_ssh::SshPool::new(config(&b));
    let target = |d: &Sshd| infrastructor_ssh::Target {
        host: d.host(),
        port: d.port(),
        user: "root".into(),
        identity_file: None,
        may_record_key: true,
    };
    // 64 MiB through the server, far above the 1 MiB output cap: it is never buffered whole.
    let size: u64 = 64 * 1024 * 1024;
    let source = pool_a
        .stream(
            &target(&a),
            &infrastructor_ssh::RemoteCommand::argv(&[
                "head",
                "-c",
                &size.to_string(),
                "/dev/zero",
            ]),
            None,
        )
        .await
        .expect("source");
    let (mut chunks, source_end) = source.into_parts();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let sink = pool_b
        .stream(
            &target(&b),
            &infrastructor_ssh::RemoteCommand::argv(&["wc", "-c"]),
            Some(rx),
        )
        .await
        .expect("sink");
    let pump = tokio::spawn(async move {
        while let Some(chunk) = chunks.recv().await {
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
    });
    let mut sink = sink;
    let mut counted = Vec::new();
    while let Some(chunk) = sink.next_chunk().await {
        counted.extend_from_slice(&chunk);
    }
    pump.await.expect("pump");
    let end = sink.finish().await;
    assert_eq!(end.exit_code, 0, "{:?}", end.error);
    assert_eq!(source_end.await.exit_code, 0);
    assert_eq!(String::from_utf8_lossy(&counted).trim(), size.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devices_identity_file_can_never_be_a_device_node_a_fifo_or_a_file_elsewhere() {
    let d = device();
    let s = infrastructor_tests::server_with_device(&d, "idcheck", false, |_| {}).await;
    let fifo = d.dir().join("fifo_key");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let big = d.dir().join("big_key");
    std::fs::write(&big, vec![b'A'; 1024 * 1024]).expect("big");
    for bad in [
        "/dev/zero".to_owned(),
        fifo.display().to_string(),
        big.display().to_string(),
        "/etc/hostname".to_owned(),
    ] {
        let (status, body) = s
            .send(
                s.client
                    .put(s.url("/api/devices/idcheck"))
                    .json(&json!({"ssh_identity_file": bad})),
            )
            .await;
        // Refused at the edge of the registry: 422 naming the field, nothing written.
        assert_eq!(status, 422, "{bad}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("ssh_identity_file:"), "{bad}: {body}");
        let (_, device) = s.get("/api/devices/idcheck").await;
        assert_eq!(device["ssh_identity_file"], Value::Null, "{bad}: {device}");
        // A file a registry written before this check holds is still refused at connect.
        let store = s.app_state().services.store.clone();
        let path = bad.clone();
        store
            .call(move |c| {
                infrastructor_store::devices::update(
                    c,
                    "idcheck",
                    infrastructor_store::devices::DeviceFields {
                        ssh_identity_file: Some(Some(path)),
                        ..Default::default()
                    },
                )
            })
            .await
            .expect("written straight to the store");
        // The pool drops the connection so the next command authenticates again.
        s.app_state().services.remote.pool.disconnect_all().await;
        let started = Instant::now();
        let (status, body) = tokio::time::timeout(
            Duration::from_secs(15),
            s.get("/api/devices/idcheck/status?test_connectivity=true"),
        )
        .await
        .unwrap_or_else(|_| panic!("{bad}: the server stopped answering"));
        // The refused file is skipped; the configured key still authenticates.
        assert_eq!(status, 200, "{bad}: {body}");
        assert_eq!(body["connection_status"], "online", "{bad}: {body}");
        assert!(started.elapsed() < Duration::from_secs(10), "{bad}");
        store
            .call(|c| {
                infrastructor_store::devices::update(
                    c,
                    "idcheck",
                    infrastructor_store::devices::DeviceFields {
                        ssh_identity_file: Some(None),
                        ..Default::default()
                    },
                )
            })
            .await
            .expect("cleared");
    }
    // A key inside the allowed directories is accepted.
    let good = d.client_key_path().display().to_string();
    let (status, body) = s
        .send(
            s.client
                .put(s.url("/api/devices/idcheck"))
                .json(&json!({"ssh_identity_file": good})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ssh_identity_file"], good.as_str());
    s.stop().await;
}

const READER: &str = "reader-key-0123456789";
const WRITER: &str = "writer-key-0123456789";

/// Unregistered hosts are off by default (404 naming the setting); when on, a read key
/// cannot reach them, and a write key's read request never records a new host key under
/// `accept-new` — only a request that changes something does.
#[tokio::test]
async fn unregistered_hosts_are_off_by_default_and_need_a_write_key() {
    let d = device();
    let s = server_for(&d, |c| c.ssh.allow_unregistered_hosts = false).await;
    let (status, body) = exec(&s, "127.0.0.1", json!({"argv": ["printf", "x"]})).await;
    assert_eq!(status, 404, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("ssh.allow_unregistered_hosts"), "{body}");
    s.stop().await;

    let dir = tempfile::tempdir().expect("tmp");
    let known = dir.path().join("known_hosts");
    std::fs::write(&known, "").expect("known_hosts");
    let known_in = known.clone();
    let s = server_for(&d, move |c| {
        c.ssh.host_key_policy = HostKeyPolicy::AcceptNew;
        c.ssh.known_hosts = known_in;
        c.auth.keys = vec![
            key("reader", READER, infrastructor::config::Scope::Read),
            key("writer", WRITER, infrastructor::config::Scope::Write),
        ];
    })
    .await;
    let call = |token: &'static str| {
        s.client
            .post(s.url("/api/remote/127.0.0.1/exec"))
            .bearer_auth(token)
            .json(&json!({"argv": ["printf", "x"]}))
    };
    let (status, body) = s.send(call(READER)).await;
    assert_eq!(status, 403, "a read key never reaches a raw host: {body}");
    let (status, body) = s.send(call(WRITER)).await;
    assert_eq!(status, 503, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("never by a read"), "{body}");
    assert_eq!(
        std::fs::read_to_string(&known).expect("known_hosts"),
        "",
        "a read request recorded no key"
    );
    // A request that changes something records the key (accept-new), then reads work.
    let (status, body) = s
        .send(
            s.client
                .post(s.url("/api/remote/127.0.0.1/jobs/hold?wait=30"))
                .bearer_auth(WRITER)
                .json(&json!({"seconds": "0"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["exit_code"], 0, "{body}");
    let recorded = std::fs::read_to_string(&known).expect("known_hosts");
    assert!(recorded.contains("127.0.0.1"), "{recorded}");
    let (status, body) = s.send(call(WRITER)).await;
    assert_eq!(status, 200, "{body}");
    s.stop().await;
}

/// A command line over `ssh.max_command_bytes` is refused (413) before anything is sent, so
/// the shared connection — and a command running on it — is untouched; sizes sshd or the
/// kernel would refuse are 413 too.
#[tokio::test]
async fn an_oversized_command_is_413_and_the_shared_connection_survives() {
    let d = device();
    let s = server_for(&d, |_| {}).await;
    let (status, body) = exec(&s, "127.0.0.1", json!({"argv": ["printf", "x"]})).await;
    assert_eq!(status, 200, "{body}");
    let before = s.app_state().services.remote.pool.connection_count().await;
    // A command in flight on the pooled connection while the big ones are refused.
    let slow = exec(
        &s,
        "127.0.0.1",
        json!({"argv": ["sh", "-c", "sleep 1; echo survived", "sh"]}),
    );
    let big = async {
        let mut statuses = Vec::new();
        for size in [100 * 1024, 200 * 1024, 300 * 1024, 1024 * 1024 - 64] {
            let (status, body) = exec(
                &s,
                "127.0.0.1",
                json!({"argv": ["printf", "%s", "x".repeat(size)]}),
            )
            .await;
            let message = body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            statuses.push((size, status, message));
        }
        statuses
    };
    let ((status, body), refused) = tokio::join!(slow, big);
    for (size, status, message) in &refused {
        assert_eq!(*status, 413, "{size} bytes: {message}");
        assert!(message.contains("at most 65536 bytes"), "{size}: {message}");
    }
    assert_eq!(status, 200, "{body}");
    assert_eq!(bytes(&body["stdout"]), b"survived\n");
    // The same connection serves the next command.
    let (status, body) = exec(&s, "127.0.0.1", json!({"argv": ["printf", "after\n"]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bytes(&body["stdout"]), b"after\n");
    assert_eq!(
        s.app_state().services.remote.pool.connection_count().await,
        before,
        "no reconnect"
    );
    // Just under the cap still runs.
    let (status, body) = exec(
        &s,
        "127.0.0.1",
        json!({"argv": ["sh", "-c", "echo ${#1}", "sh", "y".repeat(60 * 1024)]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        bytes(&body["stdout"]),
        format!("{}\n", 60 * 1024).as_bytes()
    );
    s.stop().await;
}
