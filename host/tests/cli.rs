//! The `infrastructor` binary: config precedence and masking, OpenAPI output, invalid config,
//! and `serve` answering then shutting down gracefully on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_infrastructor");

fn command(dir: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_remove("INFRA_CONFIG")
        .env("INFRA_PLUGINS__DIR", dir.join("no-plugins"))
        .env("INFRA_DATABASE__PATH", dir.join("db.sqlite"))
        .env("INFRA_PLUGINS__CACHE_DIR", dir.join("cache"));
    c
}

#[test]
fn config_show_applies_file_then_env_and_masks_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:7001\"\ndebug = true\n[[auth.keys]]\nname = \"ops\"\nkey = \"very-secret-token-123\"\nscope = \"admin\"\n",
    )
    .expect("write");
    let out = command(dir.path())
        .args(["config", "show", "--config"])
        .arg(&file)
        .env("INFRA_SERVER__LISTEN", "127.0.0.1:7002")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("listen = \"127.0.0.1:7002\""),
        "env wins over file:\n{text}"
    );
    assert!(
        text.contains("debug = true"),
        "file wins over defaults:\n{text}"
    );
    assert!(
        !text.contains("very-secret-token-123"),
        "secret masked:\n{text}"
    );
    assert!(text.contains("***"));
}

#[test]
fn invalid_config_stops_with_the_key_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = command(dir.path())
        .args(["config", "show"])
        .env("INFRA_RATE_LIMIT__PER_MINUTE", "0")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rate_limit.per_minute"), "{err}");
}

#[test]
fn openapi_prints_the_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = command(dir.path()).arg("openapi").output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/status"].is_object());
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn serve_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut child = command(dir.path())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let answer = loop {
        if let Some(a) = http_get(port, "/api/status") {
            break a;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("operational"));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    let mut logs = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut logs).expect("stderr");
    }
    assert!(!logs.contains("panicked"), "{logs}");
    // `--log-format json`: every line on stderr is one JSON object, with the start-up and
    // shutdown events among them.
    let events: Vec<serde_json::Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    assert!(
        events
            .iter()
            .all(|e| e["level"].is_string() && e["timestamp"].is_string()),
        "{logs}"
    );
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("infrastructor listening")),
        "{logs}"
    );
    let listening = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("infrastructor listening"))
        })
        .expect("listening event");
    assert_eq!(listening["level"], "INFO", "{listening}");
    assert_eq!(
        listening["address"],
        format!("127.0.0.1:{port}"),
        "fields are flattened into the event: {listening}"
    );
    assert!(
        messages.contains(&"stopped"),
        "the shutdown is logged: {logs}"
    );
}
