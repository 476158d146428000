//! `POST /api/devices/import` over HTTP: every ssh_config fixture (text and path, dry run,
//! real run, again with update_existing on and off), the alias/HostName/first-match rules
//! on a hand-written config, and the import directory's boundary (`..`, absolute paths,
//! symlinks out, missing files), with nothing written when a request is refused.

use std::path::Path;

use infrastructor_tests::TestServer;
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/system/ssh_config");

async fn server(import_dir: Option<&Path>) -> TestServer {
    let dir = import_dir.map(|d| d.display().to_string());
    TestServer::start(&[], move |c| {
        c.rate_limit.enabled = false;
        if let Some(dir) = dir {
            c.plugins
                .entries
                .entry("devices".into())
                .or_default()
                .config = json!({"import_dir": dir});
        }
    })
    .await
}

async fn import(s: &TestServer, body: Value) -> (u16, Value) {
    s.send(s.client.post(s.url("/api/devices/import")).json(&body))
        .await
}

async fn device_count(s: &TestServer) -> u64 {
    let (_, page) = s.get("/api/devices?page_size=1000").await;
    page["total_count"].as_u64().expect("total_count")
}

fn summary_total(v: &Value) -> u64 {
    [
        "created",
        "updated",
        "skipped",
        "errors",
        "would_create",
        "would_update",
        "would_skip",
    ]
    .iter()
    .map(|k| v["summary"][k].as_u64().expect("count"))
    .sum()
}

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(FIXTURES)
        .expect("fixture dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 30, "the ssh_config fixtures are there");
    names
}

#[tokio::test]
async fn every_fixture_imports_as_text_and_as_a_path() {
    // The import directory holds every fixture, so Includes between them resolve.
    let dir = tempfile::tempdir().expect("tmp");
    for name in fixture_names() {
        std::fs::copy(Path::new(FIXTURES).join(&name), dir.path().join(&name)).expect("copy");
    }
    let s = server(Some(dir.path())).await;
    let mut imported = 0;
    let mut refused = Vec::new();
    for name in fixture_names() {
        let text = std::fs::read_to_string(Path::new(FIXTURES).join(&name)).expect("read");
        let (status, dry) = import(&s, json!({"ssh_config": text, "dry_run": true})).await;
        let (path_status, by_path) =
            import(&s, json!({"ssh_config_path": name, "dry_run": true})).await;
        assert_eq!(status, path_status, "{name}: text and path agree");
        if status == 400 {
            assert!(
                dry["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("ssh_config")),
                "{name}: a refusal names the file and line: {dry}"
            );
            refused.push(name);
            continue;
        }
        assert_eq!(status, 200, "{name}: {dry}");
        assert_eq!(
            by_path["total_hosts_found"], dry["total_hosts_found"],
            "{name}"
        );
        let found = dry["total_hosts_found"].as_u64().expect("found");
        assert_eq!(summary_total(&dry), found, "{name}: every action counted");
        assert_eq!(dry["summary"]["errors"], 0, "{name}: {dry}");
        assert_eq!(
            device_count(&s).await,
            imported,
            "{name}: a dry run writes nothing"
        );

        let (status, real) = import(&s, json!({"ssh_config": text})).await;
        assert_eq!(status, 200, "{name}: {real}");
        assert_eq!(summary_total(&real), found, "{name}");
        assert_eq!(real["summary"]["errors"], 0, "{name}: {real}");
        assert_eq!(
            real["summary"]["created"], dry["summary"]["would_create"],
            "{name}: the dry run predicted the creations"
        );
        assert_eq!(
            real["summary"]["updated"], dry["summary"]["would_update"],
            "{name}"
        );
        imported += real["summary"]["created"].as_u64().expect("created");
        assert_eq!(device_count(&s).await, imported, "{name}");

        let (_, again) = import(&s, json!({"ssh_config": text, "update_existing": false})).await;
        assert_eq!(
            again["summary"]["skipped"], found,
            "{name}: nothing changes: {again}"
        );
    }
    assert!(imported >= 40, "the fixtures hold many hosts: {imported}");
    assert!(
        refused.len() <= 2,
        "only broken configs are refused: {refused:?}"
    );
    s.stop().await;
}

const CONFIG: &str = "\
# settings before the first Host apply to every host
ServerAliveInterval 30
Host web web-alias
  HostName 10.0.0.7
  Port 2222
  User deploy
  IdentityFile ~/.ssh/web_ed25519
Host *.lan
  User lanuser
Host db
  HostName=db.internal
Match host db
  User nobody
Host *
  Port 22
  User admin
";

#[tokio::test]
async fn aliases_become_devices_and_reimports_report_the_diff() {
    let s = server(None).await;
    let (status, dry) = import(
        &s,
        json!({"ssh_config": CONFIG, "dry_run": true, "tag_prefix": "lab"}),
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["summary"]["would_create"], 3, "{dry}");
    assert!(
        dry["warnings"].as_array().is_some_and(|w| w
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("Match")))),
        "Match is reported as skipped: {dry}"
    );
    assert_eq!(device_count(&s).await, 0);
    let planned = dry["results"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["hostname"] == "web"))
        .expect("web planned");
    assert_eq!(planned["changes"]["ssh_port"], 2222, "{planned}");
    assert!(
        planned["changes"]
            .as_object()
            .is_some_and(|c| c.values().all(|v| !v.is_null())),
        "only the fields the device gets: {planned}"
    );

    let (status, real) = import(&s, json!({"ssh_config": CONFIG, "tag_prefix": "lab"})).await;
    assert_eq!(status, 200, "{real}");
    assert_eq!(real["summary"]["created"], 3);
    let (_, web) = s.get("/api/devices/web").await;
    assert_eq!(web["ip_address"], "10.0.0.7");
    assert_eq!(web["ssh_port"], 2222);
    assert_eq!(web["ssh_username"], "deploy");
    assert_eq!(web["ssh_identity_file"], "~/.ssh/web_ed25519");
    assert_eq!(web["tags"]["source"], "ssh_config");
    assert_eq!(web["tags"]["ssh_config_host"], "web");
    assert_eq!(web["tags"]["import_prefix"], "lab");
    let (_, alias) = s.get("/api/devices/web-alias").await;
    assert_eq!(alias["ip_address"], "10.0.0.7", "both patterns of the line");
    let (_, db) = s.get("/api/devices/db").await;
    assert_eq!(db["ip_address"], "db.internal", "Keyword=value form");
    assert_eq!(
        db["ssh_username"], "admin",
        "Match skipped, `Host *` applies"
    );
    assert_eq!(db["ssh_port"], 22);

    let (_, same) = import(&s, json!({"ssh_config": CONFIG})).await;
    assert_eq!(same["summary"]["skipped"], 3, "already up to date: {same}");

    let changed = CONFIG.replace("Port 2222", "Port 2200");
    let (_, dry) = import(&s, json!({"ssh_config": changed, "dry_run": true})).await;
    assert_eq!(
        dry["summary"]["would_update"], 2,
        "web and web-alias: {dry}"
    );
    assert_eq!(dry["summary"]["would_skip"], 1);
    let web_result = dry["results"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["hostname"] == "web"))
        .expect("web");
    assert_eq!(web_result["action"], "would_update");
    assert_eq!(
        web_result["changes"],
        json!({"ssh_port": {"from": 2222, "to": 2200}})
    );
    assert_eq!(
        s.get("/api/devices/web").await.1["ssh_port"],
        2222,
        "dry run"
    );

    let (_, kept) = import(&s, json!({"ssh_config": changed, "update_existing": false})).await;
    assert_eq!(kept["summary"]["skipped"], 3);
    assert_eq!(s.get("/api/devices/web").await.1["ssh_port"], 2222);

    let (_, real) = import(&s, json!({"ssh_config": changed})).await;
    assert_eq!(real["summary"]["updated"], 2, "{real}");
    let (_, web) = s.get("/api/devices/web").await;
    assert_eq!(web["ssh_port"], 2200);
    assert_eq!(
        web["description"], "Imported from SSH config: Host web web-alias",
        "kept"
    );
    s.stop().await;
}

#[tokio::test]
async fn paths_stay_inside_the_import_directory() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    std::fs::create_dir(d.join("config.d")).expect("mkdir");
    std::fs::write(
        d.join("main"),
        "Include config.d/*\nHost main-host\n  HostName 10.1.1.1\n",
    )
    .expect("write");
    std::fs::write(d.join("config.d/a"), "Host a-host\n  User a\n").expect("write");
    std::fs::write(d.join("config.d/b"), "Host b-host\n  User b\n").expect("write");
    std::os::unix::fs::symlink("/etc/passwd", d.join("escape")).expect("symlink");
    std::fs::write(d.join("includes-escape"), "Include escape\nHost x\n").expect("write");
    std::fs::write(d.join("binary"), [0xff_u8, 0xfe, 0x00, 0x80]).expect("write");
    let s = server(Some(d)).await;

    let (status, body) = import(&s, json!({"ssh_config_path": "main", "dry_run": true})).await;
    assert_eq!(status, 200, "{body}");
    let hosts: Vec<&str> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["hostname"].as_str())
        .collect();
    assert_eq!(
        hosts,
        ["a-host", "b-host", "main-host"],
        "includes in order, then main"
    );
    let absolute = d.join("main").display().to_string();
    let (status, body) = import(&s, json!({"ssh_config_path": absolute, "dry_run": true})).await;
    assert_eq!(status, 200, "an absolute path inside the directory: {body}");

    for (path, expected) in [
        ("/etc/passwd", 400),
        ("../etc/passwd", 400),
        ("config.d/../../etc/passwd", 400),
        ("escape", 400),
        ("includes-escape", 400),
        ("binary", 400),
        ("config.d", 400),
        ("missing", 404),
    ] {
        let (status, body) = import(&s, json!({"ssh_config_path": path})).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert!(
            !body.to_string().contains("root:x:0:0"),
            "{path}: nothing of /etc/passwd leaks: {body}"
        );
    }
    for bad in [
        json!({}),
        json!({"ssh_config": "Host a", "ssh_config_path": "main"}),
        json!({"ssh_config": "Host a", "dry_run": "yes"}),
        json!({"ssh_config": "Host a", "colour": "red"}),
        json!({"ssh_config": "Host a", "default_device_type": "toaster"}),
    ] {
        let (status, body) = import(&s, bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    let (status, body) = import(
        &s,
        json!({"ssh_config": "Host a\n  Port notaport\n  Bogus\n"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        device_count(&s).await,
        0,
        "nothing was written by any refused request"
    );
    s.stop().await;

    let s = server(None).await;
    let (status, body) = import(&s, json!({"ssh_config_path": "main"})).await;
    assert_eq!(status, 400, "no import directory configured: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("import_dir"))
    );
    s.stop().await;
}
