//! Reloading plugins while the server serves: a swap under load drops no request and every
//! request sent after a reload meets the new build; a component that fails to load leaves
//! the running one and says why (also when its pin refuses it); a removed file unmounts;
//! only an admin key may reload; SIGHUP and `--watch-plugins` reload too; the
//! `plugins reload` client prints what happened.

use std::sync::Arc;
use std::time::{Duration, Instant};

use infrastructor::App;
use infrastructor::config::{Config, Scope};
use infrastructor_tests::load::{Sample, Swapload, failures};
use infrastructor_tests::{
    TestServer, api_key, eventually, in_own_process, plugin_entry, test_plugin_path,
};
use serde_json::Value;

const ADMIN: &str = "reload-admin-key-0123456789";
const READ: &str = "reload-read-key-0123456789";

/// `POST /api/plugins/reload` with `key`.
async fn reload(s: &TestServer, key: Option<&str>) -> (u16, Value) {
    let mut request = s.client.post(s.url("/api/plugins/reload"));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    s.send(request).await
}

async fn hello_version(s: &TestServer, key: Option<&str>) -> (u16, String) {
    let mut request = s.client.get(s.url("/api/hello/version"));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let (status, body) = s.send(request).await;
    (status, body["version"].as_str().unwrap_or("").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_reloads_under_load_fail_no_request_and_switch_builds_at_once() {
    let s = TestServer::start(&["hello"], |c| c.rate_limit.enabled = false).await;
    let installed = s.config.plugins.dir.join("hello.wasm");
    let (status, first) = hello_version(&s, None).await;
    assert_eq!(status, 200);
    let builds = [test_plugin_path("hello_next"), test_plugin_path("hello")];

    let load = Swapload::start(&s.client, &s.url("/api/hello/version"), 8);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // (sent, answered, version serving after it)
    let mut reloads: Vec<(Instant, Instant, String)> = Vec::new();
    for round in 0..3 {
        std::fs::copy(&builds[round % 2], &installed).expect("install a build");
        let sent = Instant::now();
        let (status, report) = reload(&s, None).await;
        let answered = Instant::now();
        assert_eq!(status, 200, "{report}");
        let hello = plugin_entry(&report, "hello");
        assert_eq!(hello["action"], "replaced", "{report}");
        let version = hello["version"].as_str().expect("version").to_owned();
        println!(
            "reload {round}: hello {} -> {version} in {} ms",
            hello["previous_version"], report["took_ms"]
        );
        reloads.push((sent, answered, version));
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let samples = load.stop().await;
    let failures = failures(&samples);
    assert!(
        failures.is_empty(),
        "{} of {} requests failed during the reloads: {:?}",
        failures.len(),
        samples.len(),
        &failures[..failures.len().min(5)]
    );
    let version_of = |s: &Sample| {
        s.outcome
            .as_ref()
            .ok()
            .and_then(|(_, v)| v["version"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    // Every request sent after a reload answered, and before the next one was sent, met
    // the build that reload installed; before the first, the one the server started with.
    for (i, sample) in samples.iter().enumerate() {
        let expected = reloads
            .iter()
            .rev()
            .find(|(_, answered, _)| sample.sent > *answered)
            .map(|(_, _, v)| v.clone())
            .unwrap_or_else(|| first.clone());
        let in_a_swap = reloads
            .iter()
            .any(|(sent, answered, _)| sample.sent >= *sent && sample.sent <= *answered);
        if !in_a_swap {
            assert_eq!(version_of(sample), expected, "request {i}");
        }
    }
    let seen: std::collections::BTreeSet<String> = samples.iter().map(version_of).collect();
    assert_eq!(seen.len(), 2, "both builds answered: {seen:?}");
    assert_ne!(reloads[0].2, first, "the next build has its own version");
    let in_swaps = samples
        .iter()
        .filter(|s| reloads.iter().any(|(a, b, _)| s.sent >= *a && s.sent <= *b))
        .count();
    println!(
        "{} requests, none failed, {in_swaps} sent while a reload was running; versions {seen:?}",
        samples.len()
    );
    s.stop().await;
}

/// `config` with `hello` pinned to `sha256`.
fn pinned(config: &Config, sha256: String) -> Config {
    let mut pinned = config.clone();
    if let Some(hello) = pinned.plugins.entries.get_mut("hello") {
        hello.sha256 = Some(sha256);
    }
    pinned
}

/// Writes `config` where a reload reads it.
fn write_config(path: &std::path::Path, config: &Config) {
    std::fs::write(path, toml::to_string(config).expect("config as TOML")).expect("config file");
}

#[tokio::test]
async fn a_refused_component_leaves_the_running_version_and_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = infrastructor_tests::test_config(dir.path(), &["hello"]);
    config.auth.keys = vec![
        api_key("admin", ADMIN, Scope::Admin),
        api_key("reader", READ, Scope::Read),
    ];
    let file = dir.path().join("config.toml");
    write_config(&file, &config);
    let s = TestServer::start_app(dir, config.clone(), |app: App| {
        app.config_file(Some(file.clone()))
    })
    .await;
    let installed = s.config.plugins.dir.join("hello.wasm");
    let (_, running) = hello_version(&s, Some(READ)).await;

    // Only an admin key reloads.
    let (status, body) = reload(&s, Some(READ)).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = reload(&s, None).await;
    assert_eq!(status, 401, "{body}");

    // Nothing changed: nothing swapped.
    let (status, report) = reload(&s, Some(ADMIN)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["changed"], false, "{report}");
    assert_eq!(plugin_entry(&report, "hello")["action"], "unchanged");

    // A truncated component: the running build stays, the report and the list say why.
    let good = std::fs::read(&installed).expect("hello");
    std::fs::write(&installed, &good[..good.len() / 2]).expect("truncate");
    let (status, report) = reload(&s, Some(ADMIN)).await;
    assert_eq!(status, 200, "{report}");
    let hello = plugin_entry(&report, "hello");
    assert_eq!(hello["action"], "kept", "{report}");
    let error = hello["error"].as_str().expect("error");
    assert!(!error.is_empty());
    assert_eq!(hello_version(&s, Some(READ)).await, (200, running.clone()));
    let (_, list) = s
        .send(s.client.get(s.url("/api/plugins")).bearer_auth(READ))
        .await;
    let listed = list["plugins"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "hello"))
        .expect("hello listed");
    assert_eq!(listed["status"], "loaded");
    assert_eq!(listed["reload_error"], error, "{listed}");

    // The good bytes back, but a pin they do not match: refused by the pin, still running.
    std::fs::write(&installed, &good).expect("restore");
    write_config(&file, &pinned(&config, "0".repeat(64)));
    let (status, report) = reload(&s, Some(ADMIN)).await;
    assert_eq!(status, 200, "{report}");
    let hello = plugin_entry(&report, "hello");
    assert_eq!(hello["action"], "kept", "{report}");
    assert!(
        hello["error"].as_str().expect("error").contains("sha256"),
        "{report}"
    );
    assert_eq!(hello_version(&s, Some(READ)).await, (200, running.clone()));

    // A configuration that does not parse changes nothing.
    std::fs::write(&file, "[plugins.hello\nbroken").expect("broken config");
    let (status, body) = reload(&s, Some(ADMIN)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "RELOAD_FAILED", "{body}");
    assert_eq!(hello_version(&s, Some(READ)).await, (200, running.clone()));

    // The right pin: accepted; the refusal is gone from the list.
    let running_sha256 = s
        .app_state()
        .plugins()
        .get("hello")
        .expect("hello")
        .sha256
        .clone();
    write_config(&file, &pinned(&config, running_sha256));
    let (status, report) = reload(&s, Some(ADMIN)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        plugin_entry(&report, "hello")["action"],
        "replaced",
        "a new section is a new load: {report}"
    );
    let (_, list) = s
        .send(s.client.get(s.url("/api/plugins")).bearer_auth(READ))
        .await;
    assert!(!list.to_string().contains("reload_error"), "{list}");

    // The file removed: unmounted, its routes gone from the API and the document.
    std::fs::remove_file(&installed).expect("remove");
    let (status, report) = reload(&s, Some(ADMIN)).await;
    assert_eq!(status, 200, "{report}");
    let generation = report["generation"].as_u64().expect("generation");
    let hello = plugin_entry(&report, "hello");
    assert!(
        hello["action"] == "removed" || hello["action"] == "failed",
        "{report}"
    );
    assert_eq!(hello_version(&s, Some(READ)).await.0, 404);
    let (_, document) = s.get("/api/openapi.json").await;
    assert!(document["paths"].get("/api/hello/version").is_none());

    // Back again: mounted again, a new generation.
    std::fs::write(&installed, &good).expect("reinstall");
    let (status, report) = reload(&s, Some(ADMIN)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        plugin_entry(&report, "hello")["action"],
        "added",
        "{report}"
    );
    assert_eq!(report["generation"].as_u64(), Some(generation + 1));
    assert_eq!(hello_version(&s, Some(READ)).await, (200, running));

    // The command's client prints the same report.
    let printed = infrastructor::reload::client::reload(&s.base, Some(ADMIN))
        .await
        .expect("plugins reload");
    assert!(printed.text.contains("hello"), "{}", printed.text);
    assert_eq!(printed.refused, 0);
    let refused = infrastructor::reload::client::reload(&s.base, Some(READ))
        .await
        .err()
        .expect("a read key is refused");
    assert!(refused.to_string().contains("403"), "{refused}");
    s.stop().await;
}

/// The version of `hello` the server's state says serves.
fn serving(state: &Arc<infrastructor::AppState>) -> Option<String> {
    state
        .plugins()
        .get("hello")
        .map(|p| p.manifest.version.clone())
}

#[tokio::test]
async fn sighup_and_a_watched_file_change_reload() {
    if !in_own_process("plugin_reload::sighup_and_a_watched_file_change_reload") {
        return;
    }
    let start = |adjust: fn(App) -> App| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = infrastructor_tests::test_config(dir.path(), &["hello"]);
        TestServer::start_app(dir, config, adjust).await
    };
    let on_sighup = start(|app| app.reload_on_sighup()).await;
    let watching = start(|app| app.watch_plugins(None, Duration::from_millis(100))).await;
    let (_, first) = hello_version(&on_sighup, None).await;

    // SIGHUP: the server listening for it reloads the build installed.
    std::fs::copy(
        test_plugin_path("hello_next"),
        on_sighup.config.plugins.dir.join("hello.wasm"),
    )
    .expect("install next");
    let state = on_sighup.app_state().clone();
    // To this very process: the test runs alone in it, and the server's handler takes it.
    nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGHUP)
        .expect("SIGHUP");
    assert!(
        eventually(Duration::from_secs(30), || serving(&state).as_deref()
            != Some(first.as_str()))
        .await,
        "SIGHUP reloaded the new build"
    );
    let (status, version) = hello_version(&on_sighup, None).await;
    assert_eq!(status, 200);
    assert_ne!(version, first);

    // A watched directory: a changed file is reloaded with no signal.
    let state = watching.app_state().clone();
    assert_eq!(
        serving(&state).as_deref(),
        Some(first.as_str()),
        "SIGHUP did not touch it"
    );
    std::fs::copy(
        test_plugin_path("hello_next"),
        watching.config.plugins.dir.join("hello.wasm"),
    )
    .expect("install next");
    assert!(
        eventually(Duration::from_secs(30), || serving(&state).as_deref()
            == Some(version.as_str()))
        .await,
        "the watcher reloaded the changed file"
    );
    assert_eq!(hello_version(&watching, None).await, (200, version));
    on_sighup.stop().await;
    watching.stop().await;
}
