//! Plugin API versions: plugins built against the frozen API 0.1.0 (`tests/plugins-v0.1.0`,
//! kept as built, never rebuilt) served beside the same plugins built against 0.2.0, through
//! every import they use (config, storage, registry, ssh exec and script, collector, parser,
//! streamed response); a component naming a version the host does not know refused at load
//! with both versions named; and one manifest rule set for the SDK and the host.

use infrastructor::plugins::bindings::ApiVersion;
use infrastructor::plugins::manifest::Manifest;
use infrastructor_sdk::prelude::*;
use infrastructor_tests::testbed::{Sshd, SshdOptions};
use infrastructor_tests::{REMOTE_GRANTS, TestServer, test_plugin_path};
use serde_json::{Value, json};

/// Both hello plugins answer the same thing to the same requests.
#[tokio::test]
async fn a_0_1_0_plugin_is_served_beside_its_0_2_0_twin() {
    let s = TestServer::start(&["hello", "hello-v010"], |c| c.rate_limit.enabled = false).await;
    let (status, plugins) = s.get("/api/plugins").await;
    assert_eq!(status, 200);
    let version = |name: &str| {
        plugins["plugins"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["name"] == name))
            .map(|p| p["api_version"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(version("hello"), json!("0.2.0"));
    assert_eq!(version("hello-v010"), json!("0.1.0"));

    for path in [
        "/greet/ann?times=3&loud=yes&ratio=0.5",
        "/greet/ann",
        "/config",
        "/ping",
        "/devices/nosuchhost",
        "/fail/conflict",
        "/greet/Ann",
    ] {
        let new = s.get(&format!("/api/hello{path}")).await;
        let old = s.get(&format!("/api/hello-v010{path}")).await;
        assert_eq!(new.0, old.0, "{path}: {} vs {}", new.1, old.1);
        let strip = |mut v: Value| {
            // The error envelope names the path, request id and time.
            if let Some(e) = v.get_mut("error").and_then(Value::as_object_mut) {
                e.remove("path");
                e.remove("request_id");
                e.remove("timestamp");
            }
            v
        };
        assert_eq!(strip(new.1), strip(old.1), "{path}");
    }

    // Storage through the 0.1.0 imports, kept apart from the 0.2.0 plugin's documents.
    let (status, _) = s
        .send(
            s.client
                .put(s.url("/api/hello-v010/docs/one"))
                .json(&json!({"colour": "green"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(s.get("/api/hello-v010/docs/one").await.1["colour"], "green");
    assert_eq!(s.get("/api/hello/docs/one").await.0, 404, "plugin-scoped");

    // The registry's status travels as a string in 0.1.0 and as an enum in 0.2.0.
    let (status, body) = s
        .send(
            s.client
                .post(s.url("/api/devices"))
                .json(&json!({"hostname": "web1", "ip_address": "127.0.0.1"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // The probe queued by the create marks it offline (nothing listens on port 22 here);
    // wait for that, so both plugins read the same row.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.get("/api/hello/devices/web1").await.1["status"] == "unknown" {
        assert!(std::time::Instant::now() < deadline, "the probe never ran");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let old = s.get("/api/hello-v010/devices/web1").await;
    let new = s.get("/api/hello/devices/web1").await;
    assert_eq!(old.0, 200, "{}", old.1);
    assert_eq!(old.1, new.1);
    assert_eq!(old.1["status"], "offline");
    s.stop().await;
}

/// The remote imports (exec, script, collector with the plugin's own parser, a streamed
/// response) through the 0.1.0 plugin against a real sshd, and the same grant refusals.
#[tokio::test]
async fn a_0_1_0_plugin_reaches_devices_through_the_same_grants() {
    let d = Sshd::start(SshdOptions::default()).expect("sshd device starts");
    let key = d.client_key_path();
    let known = d.known_hosts_path();
    let port = d.port();
    let s = TestServer::start(&["remote", "remote-v010"], move |c| {
        c.ssh.identity_files = vec![key];
        c.ssh.known_hosts = known;
        c.ssh.default_port = port;
        c.ssh.allow_unregistered_hosts = true;
        c.rate_limit.enabled = false;
        for name in ["remote", "remote-v010"] {
            c.plugins.entries.entry(name.into()).or_default().grants =
                Some(REMOTE_GRANTS.iter().map(|s| s.to_string()).collect());
        }
    })
    .await;
    let host = d.host();
    for plugin in ["remote", "remote-v010"] {
        let (status, body) = s
            .send(
                s.client
                    .post(s.url(&format!("/api/{plugin}/{host}/exec")))
                    .json(&json!({"argv": ["printf", "%s|", "a b", "$HOME"]})),
            )
            .await;
        assert_eq!(status, 200, "{plugin}: {body}");
        assert_eq!(body["stdout"], json!(b"a b|$HOME|".to_vec()), "{plugin}");

        let (status, body) = s
            .send(
                s.client
                    .post(s.url(&format!("/api/{plugin}/{host}/script")))
                    .json(&json!({"args": ["x", "y z"]})),
            )
            .await;
        assert_eq!(status, 200, "{plugin}: {body}");
        assert_eq!(body["stdout"], json!(b"x\0y z\0".to_vec()), "{plugin}");

        let (status, body) = s
            .send(
                s.client
                    .post(s.url(&format!("/api/{plugin}/{host}/script")))
                    .json(&json!({"name": "forbidden", "args": []})),
            )
            .await;
        assert_eq!(status, 403, "{plugin}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("exec:tee")),
            "{plugin}: {body}"
        );

        let (status, body) = s
            .send(
                s.client
                    .post(s.url(&format!("/api/{plugin}/{host}/exec")))
                    .json(&json!({"argv": ["rm", "-rf", "/tmp/x"]})),
            )
            .await;
        assert_eq!(status, 403, "{plugin}: {body}");

        let (status, body) = s
            .get(&format!("/api/{plugin}/{host}/collect?variant={plugin}"))
            .await;
        assert_eq!(status, 200, "{plugin}: {body}");
        assert_eq!(
            body["data"]["value"],
            json!(local_hostname()),
            "{plugin}: {body}"
        );
        assert_eq!(body["collection_metadata"]["cache_hit"], false);
        let again = s
            .get(&format!("/api/{plugin}/{host}/collect?variant={plugin}"))
            .await;
        assert_eq!(
            again.1["collection_metadata"]["cache_hit"], true,
            "{plugin}"
        );

        let mut response = s
            .client
            .get(s.url(&format!("/api/{plugin}/{host}/follow")))
            .send()
            .await
            .expect("follow");
        assert_eq!(response.status(), 200, "{plugin}");
        let first = tokio::time::timeout(std::time::Duration::from_secs(10), response.chunk())
            .await
            .expect("a first event in time")
            .expect("chunk")
            .expect("not the end");
        assert!(
            String::from_utf8_lossy(&first).contains("data: line 0"),
            "{plugin}: {first:?}"
        );
    }
    s.stop().await;
}

fn local_hostname() -> String {
    let out = std::process::Command::new("hostname")
        .output()
        .expect("hostname (Debian package hostname)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A component built against a version the host does not serve is refused at load, naming
/// its version and the host's.
#[tokio::test]
async fn an_unknown_api_version_is_refused_at_load_naming_both() {
    let wasm = std::fs::read(test_plugin_path("hello-v010")).expect("0.1.0 plugin");
    // Same length, so the binary stays well-formed: every `@0.1.0` of the package becomes
    // `@0.9.0` (WASI's own names are `@0.2.x` and stay).
    let renamed = replace_all(&wasm, b"infrastructor:plugin/", b"@0.1.0", b"@0.9.0");
    assert_ne!(renamed, wasm);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = infrastructor_tests::test_config(dir.path(), &[]);
    std::fs::write(config.plugins.dir.join("hello-v010.wasm"), &renamed).expect("write");
    config.rate_limit.enabled = false;
    // Required: its failure stops start-up (otherwise it would be skipped and listed).
    config
        .plugins
        .entries
        .entry("hello-v010".into())
        .or_default()
        .required = true;
    let err = match infrastructor::App::build(config).await {
        Ok(_) => panic!("a 0.9.0 plugin must not load"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("hello-v010"), "{err}");
    assert!(err.contains("0.9.0"), "{err}");
    assert!(
        err.contains(&format!(
            "this host serves {}",
            ApiVersion::SUPPORTED.map(ApiVersion::as_str).join(", ")
        )),
        "{err}"
    );
}

/// Replaces `from` by `to` (same length) wherever it follows `prefix` and a name.
fn replace_all(bytes: &[u8], prefix: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut i = 0;
    while let Some(p) = find(&out[i..], prefix) {
        let start = i + p + prefix.len();
        let end = (start + 64).min(out.len());
        if let Some(q) = find(&out[start..end], from) {
            out[start + q..start + q + from.len()].copy_from_slice(to);
        }
        i = start;
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn ok(_: &Request) -> Result<Response, Error> {
    Ok(Response::empty(204))
}

/// Each rule on which the SDK and the host used to disagree, as an app: the SDK's
/// `App::validate` and the host's load-time check (`Manifest::compile`) give the same answer.
#[test]
fn the_sdk_and_the_host_apply_one_rule_set() {
    let base = || App::new("rules", "1.0.0").mount("/rules");
    let cases: Vec<(&str, App, bool)> = vec![
        (
            "quota spelled 60/min",
            base().route(Route::get("/a", "a").summary("a").rate_limit("60/min"), ok),
            true,
        ),
        (
            "quota spelled 60/fortnight",
            base().route(
                Route::get("/a", "a")
                    .summary("a")
                    .rate_limit("60/fortnight"),
                ok,
            ),
            false,
        ),
        (
            "trailing slash on a path",
            base().route(Route::get("/a/", "a").summary("a"), ok),
            false,
        ),
        (
            "boolean default `yes`",
            base().route(
                Route::get("/a", "a")
                    .summary("a")
                    .param(Param::query("f").boolean().default("yes")),
                ok,
            ),
            true,
        ),
        (
            "boolean default `sure`",
            base().route(
                Route::get("/a", "a")
                    .summary("a")
                    .param(Param::query("f").boolean().default("sure")),
                ok,
            ),
            false,
        ),
        (
            "a space in a path segment",
            base().route(Route::get("/a b", "a").summary("a"), ok),
            false,
        ),
        (
            "`%` in a path segment",
            base().route(Route::get("/a%20b", "a").summary("a"), ok),
            false,
        ),
        (
            "a script running an undeclared program",
            base()
                .capability("exec:cat *")
                .script("s", "cat /proc/uptime; df", &["cat", "df"]),
            false,
        ),
        (
            "a script running declared programs",
            base()
                .capability("exec:cat *")
                .capability("exec:df **")
                .script("s", "cat /proc/uptime; df", &["cat", "df"]),
            true,
        ),
        (
            "an invalid pattern",
            base().route(
                Route::get("/a", "a")
                    .summary("a")
                    .param(Param::query("q").pattern("(unclosed")),
                ok,
            ),
            false,
        ),
    ];
    for (what, app, valid) in cases {
        let sdk = app.validate();
        let (model, conversion) = app.model();
        let host = if conversion.is_empty() {
            Manifest::compile(model, ApiVersion::CURRENT)
                .map(drop)
                .map_err(|e| e.to_string())
        } else {
            Err(conversion.join("; "))
        };
        assert_eq!(sdk.is_ok(), valid, "SDK on {what}: {sdk:?}");
        assert_eq!(host.is_ok(), valid, "host on {what}: {host:?}");
    }
}
