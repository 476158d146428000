//! Third-party plugins for the people who ship them: a bad plugin is skipped (not fatal)
//! unless required, pinning by SHA-256, provenance in `GET /api/plugins`, `plugins.NAME.file`,
//! and `infrastructor plugins check`.

use infrastructor_tests::plugin_entry;
use infrastructor_tests::sha256_hex;
use std::path::PathBuf;

use infrastructor::Config;
use infrastructor::plugins::bindings::ApiVersion;
use infrastructor_tests::{TestServer, test_config, test_plugin_path};

fn wasm_of(name: &str) -> Vec<u8> {
    let path = test_plugin_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A copy of the `trap` test plugin cut in half: not a component any more.
fn truncated() -> Vec<u8> {
    let wasm = wasm_of("trap");
    wasm[..wasm.len() / 2].to_vec()
}

/// A truncated component and one whose manifest breaks the rules are skipped with their
/// errors; the server starts and its other plugins answer.
#[tokio::test]
async fn a_broken_third_party_plugin_is_skipped_and_listed_with_its_error() {
    let broken = truncated();
    let oops = wasm_of("oops");
    let s = TestServer::start(&["hello"], |c| {
        std::fs::write(c.plugins.dir.join("broken.wasm"), &broken).expect("write");
        std::fs::write(c.plugins.dir.join("oops.wasm"), &oops).expect("write");
    })
    .await;
    let (status, list) = s.get("/api/plugins").await;
    assert_eq!(status, 200, "{list}");

    let b = plugin_entry(&list, "broken");
    assert_eq!(b["status"], "failed", "{b}");
    assert_eq!(b["enabled"], false);
    assert_eq!(b["sha256"], sha256_hex(&broken));
    assert_eq!(b["source"]["kind"], "file");
    assert!(
        b["error"]
            .as_str()
            .expect("error")
            .contains("cannot compile"),
        "{b}"
    );

    let o = plugin_entry(&list, "oops");
    assert_eq!(o["status"], "failed", "{o}");
    let error = o["error"].as_str().expect("error");
    // The plugin's own version and route, the rule it breaks; nothing about the SDK.
    assert!(
        error.contains(&format!("version {}", env!("CARGO_PKG_VERSION"))),
        "{error}"
    );
    assert!(error.contains("no_summary"), "{error}");
    assert!(error.contains("summary"), "{error}");
    assert!(!error.contains("sdk"), "{error}");
    assert!(!error.contains('\n'), "one line: {error}");

    // The good plugin answers, with its provenance listed.
    let (status, body) = s.get("/api/hello/ping").await;
    assert_eq!(status, 200, "{body}");
    let h = plugin_entry(&list, "hello");
    assert_eq!(h["status"], "loaded");
    assert_eq!(h["sha256"], sha256_hex(&wasm_of("hello")));
    assert_eq!(h["api_version"], ApiVersion::CURRENT.as_str());
    assert_eq!(h["source"]["kind"], "file");
    assert!(
        h["source"]["path"]
            .as_str()
            .expect("path")
            .ends_with("hello.wasm"),
        "{h}"
    );
    let (_, info) = s.get("/api/system-info").await;
    let loaded_at = h["loaded_at"].as_str().expect("loaded_at");
    let started = info["startup_time"].as_str().expect("startup_time");
    let now = info["current_time"].as_str().expect("current_time");
    assert!(
        started <= loaded_at && loaded_at <= now,
        "{started} ≤ {loaded_at} ≤ {now}"
    );
    assert!(h["load_time_ms"].as_f64().expect("ms") > 0.0);
    // Built-ins say so, with their hash too.
    let builtin = list["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["source"]["kind"] == "builtin")
        .expect("a built-in plugin");
    assert_eq!(builtin["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(
        list["total"].as_u64(),
        Some(list["plugins"].as_array().expect("plugins").len() as u64)
    );
    s.stop().await;
}

async fn build(config: Config) -> Result<(), String> {
    match infrastructor::App::build(config).await {
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// The same plugins with `required = true` stop start-up with one clear error naming them.
#[tokio::test]
async fn a_required_broken_plugin_stops_start_up_with_one_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path(), &[]);
    std::fs::write(config.plugins.dir.join("broken.wasm"), truncated()).expect("write");
    config
        .plugins
        .entries
        .entry("broken".into())
        .or_default()
        .required = true;
    let err = build(config).await.expect_err("required and broken");
    assert!(err.contains("plugin `broken`"), "{err}");
    assert!(err.contains("cannot compile"), "{err}");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path(), &[]);
    std::fs::write(config.plugins.dir.join("oops.wasm"), wasm_of("oops")).expect("write");
    config
        .plugins
        .entries
        .entry("oops".into())
        .or_default()
        .required = true;
    let err = build(config).await.expect_err("required and invalid");
    assert!(err.contains("plugin `oops`"), "{err}");
    assert!(err.contains("no_summary"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");

    // A required plugin that is nowhere.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path(), &[]);
    config
        .plugins
        .entries
        .entry("absent".into())
        .or_default()
        .required = true;
    let err = build(config).await.expect_err("required and absent");
    assert!(err.contains("plugins.absent.required"), "{err}");
}

/// `plugins.NAME.sha256` loads the reviewed build and refuses any other, naming both hashes.
#[tokio::test]
async fn a_pinned_plugin_loads_only_with_the_pinned_hash() {
    let hello = wasm_of("hello");
    let good = sha256_hex(&hello);
    let s = TestServer::start(&["hello"], |c| {
        c.plugins.entries.entry("hello".into()).or_default().sha256 = Some(good.to_uppercase());
    })
    .await;
    let (status, _) = s.get("/api/hello/ping").await;
    assert_eq!(
        status, 200,
        "the pinned build loads (hash case does not matter)"
    );
    s.stop().await;

    // A tampered copy: one more byte in a custom section would still compile; the pin
    // refuses it before.
    let mut tampered = hello.clone();
    tampered.extend_from_slice(&[0, 4, 3, b'x', b'y', b'z']);
    let bad = sha256_hex(&tampered);
    assert_ne!(bad, good);
    let s = TestServer::start(&[], |c| {
        std::fs::write(c.plugins.dir.join("hello.wasm"), &tampered).expect("write");
        c.plugins.entries.entry("hello".into()).or_default().sha256 = Some(good.clone());
    })
    .await;
    let (status, _) = s.get("/api/hello/ping").await;
    assert_eq!(status, 404, "the tampered copy is not mounted");
    let (_, list) = s.get("/api/plugins").await;
    let h = plugin_entry(&list, "hello");
    assert_eq!(h["status"], "failed", "{h}");
    assert_eq!(h["sha256"], bad);
    let error = h["error"].as_str().expect("error");
    assert!(error.contains(&good) && error.contains(&bad), "{error}");
    assert!(error.contains("plugins.hello.sha256"), "{error}");
    s.stop().await;

    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path(), &[]);
    std::fs::write(config.plugins.dir.join("hello.wasm"), &tampered).expect("write");
    let e = config.plugins.entries.entry("hello".into()).or_default();
    e.sha256 = Some(good.clone());
    e.required = true;
    let err = build(config).await.expect_err("required and refused");
    assert!(err.contains(&good) && err.contains(&bad), "{err}");
}

/// `plugins.NAME.file` names a file whatever it is called; a file named otherwise without
/// it is skipped with an error saying exactly that.
#[tokio::test]
async fn a_section_names_its_file() {
    let hello = wasm_of("hello");
    let s = TestServer::start(&[], |c| {
        std::fs::create_dir_all(c.plugins.dir.join("vendor")).expect("mkdir");
        std::fs::write(c.plugins.dir.join("vendor/hello-build-7.wasm"), &hello).expect("write");
        c.plugins.entries.entry("hello".into()).or_default().file =
            Some(PathBuf::from("vendor/hello-build-7.wasm"));
        // Named otherwise and not named by config.
        std::fs::write(c.plugins.dir.join("hello-copy.wasm"), &hello).expect("write");
    })
    .await;
    let (status, body) = s.get("/api/hello/ping").await;
    assert_eq!(status, 200, "{body}");
    let (_, list) = s.get("/api/plugins").await;
    let h = plugin_entry(&list, "hello");
    assert_eq!(h["status"], "loaded");
    assert!(
        h["source"]["path"]
            .as_str()
            .expect("path")
            .ends_with("vendor/hello-build-7.wasm"),
        "{h}"
    );
    let copy = plugin_entry(&list, "hello-copy");
    assert_eq!(copy["status"], "failed");
    let error = copy["error"].as_str().expect("error");
    assert!(error.contains("calls it `hello`"), "{error}");
    assert!(error.contains("plugins.hello.file"), "{error}");
    s.stop().await;
}

/// `infrastructor plugins check` (its function, which `main` runs and whose error it prints
/// once with a non-zero exit): the report of a good plugin with its grants from the config;
/// one clear line for bad ones; the config's pin applies.
#[tokio::test]
async fn plugins_check_reports_a_plugin_and_fails_on_a_bad_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path(), &[]);
    let granted = "storage";
    config
        .plugins
        .entries
        .entry("hello".into())
        .or_default()
        .grants = Some(vec![granted.into()]);
    // A file named as cargo names it: the manifest's name picks the section.
    let file = dir.path().join("test_plugin_hello.wasm");
    let hello = wasm_of("hello");
    std::fs::write(&file, &hello).expect("copy");
    let check = |config: Config, file: PathBuf| async move {
        infrastructor::plugin_check::check(&config, &file).await
    };

    let report = check(config.clone(), file.clone())
        .await
        .expect("hello checks");
    let json = serde_json::to_value(&report).expect("JSON report");
    assert_eq!(json["name"], "hello");
    assert_eq!(json["sha256"], sha256_hex(&hello));
    assert_eq!(json["api_version"], ApiVersion::CURRENT.as_str());
    assert_eq!(json["section"], "plugins.hello");
    let caps = json["capabilities"].as_array().expect("capabilities");
    assert!(caps.len() >= 2, "{json}");
    for c in caps {
        let cap = c["capability"].as_str().expect("capability");
        assert_eq!(c["granted"], cap == granted, "{c}");
    }
    assert!(!json["routes"].as_array().expect("routes").is_empty());
    // Built without WASI's standard library, reading no clock and no file: no WASI at all.
    assert_eq!(json["wasi_imports"], serde_json::json!([]), "{json}");
    let text = report.to_text();
    assert!(text.contains("wasi         none"), "{text}");
    let version = json["version"].as_str().expect("version");
    assert!(text.contains(&format!("hello {version}")), "{text}");
    assert!(text.contains(&sha256_hex(&hello)), "{text}");
    assert!(text.contains("/api/hello/ping"), "{text}");
    for c in caps {
        let cap = c["capability"].as_str().expect("capability");
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(cap))
            .unwrap_or_else(|| panic!("no line for {cap} in {text}"));
        assert_eq!(!line.contains("NOT granted"), cap == granted, "{line}");
    }
    // Nothing of the throwaway server is left behind in the configured places.
    assert!(!config.database.path.exists());

    // Broken and invalid: an error, one line naming the plugin and the cause.
    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, truncated()).expect("write");
    let err = check(config.clone(), broken)
        .await
        .expect_err("broken")
        .to_string();
    assert!(err.contains("plugin `broken`"), "{err}");
    assert!(err.contains("cannot compile"), "{err}");

    let oops = dir.path().join("oops.wasm");
    std::fs::write(&oops, wasm_of("oops")).expect("write");
    let err = check(config.clone(), oops)
        .await
        .expect_err("invalid")
        .to_string();
    assert!(err.contains("plugin `oops`"), "{err}");
    assert!(err.contains("no_summary"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");

    // The pin applies to a check too.
    config
        .plugins
        .entries
        .entry("hello".into())
        .or_default()
        .sha256 = Some("0".repeat(64));
    let err = check(config.clone(), file.clone())
        .await
        .expect_err("pinned to another build")
        .to_string();
    assert!(err.contains(&sha256_hex(&hello)), "{err}");
    assert!(err.contains("plugins.hello.sha256"), "{err}");
}

/// A third-party plugin whose mount a built-in has is skipped; the built-in keeps it.
#[tokio::test]
async fn a_third_party_plugin_on_a_taken_mount_is_skipped() {
    let s = TestServer::start(&["hello"], |c| {
        c.plugins.entries.entry("hello".into()).or_default().mount = Some("/devices".into());
    })
    .await;
    let (_, list) = s.get("/api/plugins").await;
    let h = plugin_entry(&list, "hello");
    assert_eq!(h["status"], "failed", "{h}");
    let error = h["error"].as_str().expect("error");
    assert!(
        error.contains("`/devices`") && error.contains("`devices`"),
        "{error}"
    );
    assert_eq!(plugin_entry(&list, "devices")["status"], "loaded");
    let (status, body) = s.get("/api/devices").await;
    assert_eq!(status, 200, "the built-in still answers: {body}");
    s.stop().await;
}

/// A component that needs host functions this server lacks (as one built with a newer SDK
/// at the same API version would) is refused with one line naming the API version, not a
/// bare linker error.
#[tokio::test]
async fn a_component_needing_unknown_host_functions_is_refused_clearly() {
    let wasm = wasm_of("remote");
    // Same length, so the component stays well-formed: it now imports an interface
    // `infrastructor:plugin/sxh@VERSION` no host provides.
    let needle = b"infrastructor:plugin/ssh@";
    let mut renamed = wasm.clone();
    let mut i = 0;
    while let Some(p) = renamed[i..].windows(needle.len()).position(|w| w == needle) {
        renamed[i + p + 22] = b'x';
        i += p + needle.len();
    }
    assert_ne!(renamed, wasm, "the remote test plugin imports ssh");
    let s = TestServer::start(&[], |c| {
        std::fs::write(c.plugins.dir.join("remote.wasm"), &renamed).expect("write");
    })
    .await;
    let (_, list) = s.get("/api/plugins").await;
    let r = plugin_entry(&list, "remote");
    assert_eq!(r["status"], "failed", "{r}");
    let error = r["error"].as_str().expect("error");
    assert!(
        error.contains(&format!("plugin API {}", ApiVersion::CURRENT.as_str())),
        "{error}"
    );
    assert!(error.contains("newer SDK"), "{error}");
    assert!(error.contains("sxh"), "names what is missing: {error}");
    assert!(!error.contains('\n'), "one line: {error}");
    s.stop().await;
}

/// Whether `GET /api/plugins` says `name`'s manifest came from the cache.
async fn manifest_from_cache(s: &TestServer, name: &str) -> bool {
    let (status, list) = s.get("/api/plugins").await;
    assert_eq!(status, 200, "{list}");
    plugin_entry(&list, name)["manifest_from_cache"]
        .as_bool()
        .unwrap_or_else(|| panic!("no manifest_from_cache for {name}: {list:#}"))
}

/// A warm start reads every manifest from the cache (no guest runs at load) and the plugins
/// answer as before; a changed plugin config makes that plugin's guest answer again.
#[tokio::test]
async fn a_warm_start_reads_manifests_from_the_cache_and_a_new_config_does_not() {
    let cache = tempfile::tempdir().expect("cache dir");
    let start = |greeting: &'static str| {
        let cache = cache.path().to_path_buf();
        TestServer::start(&["hello"], move |c| {
            c.plugins.cache_dir = cache;
            let hello = c.plugins.entries.entry("hello".into()).or_default();
            hello.config = serde_json::json!({"greeting": greeting, "answer": 42});
        })
    };
    let cold = start("hi").await;
    let (_, list) = cold.get("/api/plugins").await;
    let names: Vec<String> = list["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .filter(|p| p["status"] == "loaded")
        .map(|p| p["name"].as_str().expect("name").to_string())
        .collect();
    assert!(
        names.len() > 1 && names.contains(&"hello".to_string()),
        "{names:?}"
    );
    for name in &names {
        assert!(
            !manifest_from_cache(&cold, name).await,
            "{name}: an empty cache has no manifest"
        );
    }
    let (status, first) = cold.get("/api/hello/greet/ann?times=2").await;
    assert_eq!(status, 200, "{first}");
    cold.stop().await;

    let warm = start("hi").await;
    for name in &names {
        assert!(
            manifest_from_cache(&warm, name).await,
            "{name}: the same component and config reuse the kept manifest"
        );
    }
    let (status, again) = warm.get("/api/hello/greet/ann?times=2").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again, first,
        "the plugin answers as it did after a cold start"
    );
    let (_, status_doc) = warm.get("/api/openapi.json").await;
    assert!(status_doc["paths"]["/api/hello/greet/{name}"].is_object());
    warm.stop().await;

    let reconfigured = start("hey").await;
    assert!(
        !manifest_from_cache(&reconfigured, "hello").await,
        "a changed config asks the guest again"
    );
    assert!(
        manifest_from_cache(&reconfigured, "containers").await,
        "the other plugins keep theirs"
    );
    reconfigured.stop().await;
}
