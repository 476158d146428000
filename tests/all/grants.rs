//! Constant scripts run only programs the plugin is granted: through `ssh.run-script`, through
//! a collector step, and under partial grants, against a real sshd device. A refused script
//! must not have run at all: each refused call names a canary file the script would create.

use infrastructor_tests::testbed::{Sshd, SshdOptions};
use infrastructor_tests::{REMOTE_DECLARED, TestServer, remote_server};
use serde_json::{Value, json};

fn device() -> Sshd {
    Sshd::start(SshdOptions::default()).expect("sshd device starts")
}

async fn post(s: &TestServer, path: &str, body: Value) -> (u16, Value) {
    s.send(s.client.post(s.url(path)).json(&body)).await
}

fn bytes(v: &Value) -> Vec<u8> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_u64)
                .map(|b| b as u8)
                .collect()
        })
        .unwrap_or_default()
}

/// `printf '%s\0' ARGS…` run here: what the `args` and `pair` scripts print.
fn nul_joined(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("printf")
        .arg("%s\\0")
        .args(args)
        .output()
        .expect("printf runs here");
    assert!(out.status.success());
    out.stdout
}

/// Asserts a 403 whose message names exactly the missing `exec:` grant of `remote`.
fn assert_refused(status: u16, body: &Value, program: &str, what: &str) {
    assert_eq!(status, 403, "{what}: {body}");
    assert_eq!(body["error"]["code"], "FORBIDDEN", "{what}: {body}");
    assert_eq!(
        body["error"]["message"],
        format!("plugin `remote` is not granted `exec:{program}`"),
        "{what}: {body}"
    );
}

#[tokio::test]
async fn a_script_using_an_ungranted_program_is_refused_before_it_runs() {
    let d = device();
    let s = remote_server(&d, |_| {}).await;
    let host = d.host();
    let canary = d.dir().join("forbidden-ran");
    let c = canary.display().to_string();

    // The routes work: a granted script runs, directly and as a collector step.
    let (status, body) = post(
        &s,
        &format!("/api/remote/{host}/script"),
        json!({"name": "pair", "args": ["a", "b c"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bytes(&body["stdout"]), nul_joined(&["a", "b c"]));
    let (status, body) = post(
        &s,
        &format!("/api/remote/{host}/collect-script"),
        json!({"name": "args", "args": ["x"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bytes(&body["data"]["stdout"]), nul_joined(&["x"]));

    // `forbidden` runs `cat` (granted) and `tee` (declared, never granted): refused, naming
    // `tee`.
    let (status, body) = post(
        &s,
        &format!("/api/remote/{host}/script"),
        json!({"name": "forbidden", "args": [c]}),
    )
    .await;
    assert_refused(status, &body, "tee", "ssh.run-script");
    let (status, body) = post(
        &s,
        &format!("/api/remote/{host}/collect-script"),
        json!({"name": "forbidden", "args": [c]}),
    )
    .await;
    assert_refused(status, &body, "tee", "a collector step");
    assert!(
        !canary.exists(),
        "the refused script never ran on the device"
    );
    s.stop().await;
}

#[tokio::test]
async fn partial_grants_allow_exactly_the_granted_programs() {
    let d = device();
    // `printf`, `hostname` and the collector, not `cat`, `sh` or `sleep`; `rm` granted but
    // never declared by the plugin.
    let granted = ["exec:printf **", "exec:hostname", "collector", "exec:rm **"];
    let s = remote_server(&d, |c| {
        c.plugins.entries.entry("remote".into()).or_default().grants =
            Some(granted.iter().map(|g| g.to_string()).collect());
    })
    .await;
    let host = d.host();
    let canary = d.dir().join("forbidden-ran");
    let c = canary.display().to_string();

    let (_, plugins) = s.get("/api/plugins").await;
    let remote = plugins["plugins"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "remote"))
        .unwrap_or_else(|| panic!("remote listed: {plugins}"));
    assert_eq!(
        remote["capabilities"]["declared"],
        json!(REMOTE_DECLARED),
        "{remote}"
    );
    let in_force: Vec<&str> = REMOTE_DECLARED
        .iter()
        .copied()
        .filter(|d| granted.contains(d))
        .collect();
    assert_eq!(
        remote["capabilities"]["effective"],
        json!(in_force),
        "declared ∩ granted: {remote}"
    );

    // Granted: a script of printf alone, argv of printf, the hostname collector.
    let (status, body) = post(
        &s,
        &format!("/api/remote/{host}/script"),
        json!({"name": "args", "args": ["a"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bytes(&body["stdout"]), nul_joined(&["a"]));
    let (status, body) = post(
        &s,
        &format!("/api/remote/{host}/exec"),
        json!({"argv": ["printf", "ok"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(
        &s,
        &format!("/api/remote/{host}/collect-script"),
        json!({"name": "args", "args": ["b"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.get(&format!("/api/remote/{host}/collect")).await;
    assert_eq!(status, 200, "{body}");

    // `pair` runs printf (granted) and cat (not): refused as a whole, naming cat.
    for route in ["script", "collect-script"] {
        let (status, body) = post(
            &s,
            &format!("/api/remote/{host}/{route}"),
            json!({"name": "pair", "args": ["a"]}),
        )
        .await;
        assert_refused(status, &body, "cat", route);
        // `forbidden`: neither cat nor tee is granted now.
        let (status, body) = post(
            &s,
            &format!("/api/remote/{host}/{route}"),
            json!({"name": "forbidden", "args": [c]}),
        )
        .await;
        assert_refused(status, &body, "cat", route);
    }
    // Ungranted argv: refused naming the whole command.
    for argv in [
        json!(["cat"]),
        json!(["sleep", "1"]),
        json!(["sh", "-c", "true", "sh"]),
    ] {
        let (status, body) = post(
            &s,
            &format!("/api/remote/{host}/exec"),
            json!({ "argv": argv }),
        )
        .await;
        assert_eq!(status, 403, "{argv}: {body}");
        let words: Vec<&str> = argv
            .as_array()
            .expect("argv")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            body["error"]["message"],
            format!("plugin `remote` is not granted `exec:{}`", words.join(" ")),
            "{body}"
        );
    }
    assert!(!canary.exists(), "no refused script ran");
    s.stop().await;
}
