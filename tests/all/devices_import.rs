//! `POST /api/devices/import` over HTTP: every ssh_config fixture (text and path, dry run,
//! real run, again with update_existing on and off), the alias/HostName/first-match rules
//! on a hand-written config, and the import directory's boundary (`..`, absolute paths,
//! symlinks out, missing files), with nothing written when a request is refused.

use std::path::Path;

use infrastructor_tests::TestServer;
use infrastructor_tests::testbed::tools;
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

/// Fixtures the import refuses, each with what its refusal message must name. (None today:
/// every fixture is a config ssh itself reads, or one whose unsupported parts are skipped
/// with a warning.)
const EXPECTED_REFUSALS: &[(&str, &str)] = &[];

/// Aliases whose imported device is compared with what OpenSSH resolves for them
/// (`ssh -G -F FIXTURE ALIAS`): first-match order across blocks and `Host *` defaults,
/// duplicate blocks, `*ell` patterns, CRLF lines, extra spaces, quoted values, comments.
/// Fixtures with `Match` or `Include` are left out: the import skips `Match` blocks (with a
/// warning), and ssh resolves a relative `Include` against `~/.ssh`.
const SSH_G_ALIASES: &[(&str, &[&str])] = &[
    (
        "jc_ssh_config1",
        &["server1", "nas01", "uk.gw.lan", "proxyus"],
    ),
    ("jc_ssh_config2", &["targaryen", "tyrell", "martell"]),
    ("dotfiles_007_config", &["geek", "palpatine", "r2d5"]),
    ("kevinburke_dos-lines", &["wap", "wap2"]),
    ("kevinburke_extraspace", &["test.test"]),
    ("kevinburke_eol-comments", &["example"]),
    ("kevinburke_quoted-identities", &["hasquotedhostname"]),
];

/// `ssh -G -F CONFIG ALIAS`: OpenSSH's resolved (hostname, port, user).
fn ssh_g(config: &Path, alias: &str) -> (String, u64, String) {
    let ssh = tools::require("ssh", "openssh-client");
    let out = std::process::Command::new(ssh)
        .arg("-G")
        .arg("-F")
        .arg(config)
        .arg(alias)
        .output()
        .expect("ssh -G runs");
    assert!(
        out.status.success(),
        "ssh -G -F {} {alias}: {}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("ssh -G printed no {key}: {text}"))
            .to_string()
    };
    (
        get("hostname"),
        get("port").parse().expect("port"),
        get("user"),
    )
}

/// Compares the device imported for `alias` with what `ssh -G` resolves from `config`.
/// A field the import leaves empty must be one the config does not set, which ssh shows as
/// its own default (what it resolves from an empty config).
async fn assert_matches_ssh(s: &TestServer, config: &Path, alias: &str) {
    let (hostname, port, user) = ssh_g(config, alias);
    let (default_host, default_port, default_user) = ssh_g(Path::new("/dev/null"), alias);
    let (status, device) = s
        .get(&format!("/api/devices/{}", alias.to_lowercase()))
        .await;
    assert_eq!(status, 200, "{alias}: {device}");
    let what = format!("{alias} in {}: {device}", config.display());
    assert_eq!(device["tags"]["ssh_config_host"], alias, "{what}");
    assert_eq!(
        device["ip_address"].as_str().unwrap_or(&default_host),
        hostname,
        "HostName: {what}"
    );
    assert_eq!(
        device["ssh_port"].as_u64().unwrap_or(default_port),
        port,
        "Port: {what}"
    );
    assert_eq!(
        device["ssh_username"].as_str().unwrap_or(&default_user),
        user,
        "User: {what}"
    );
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
    let mut refused: Vec<String> = Vec::new();
    let mut compared = 0;
    for name in fixture_names() {
        let text = std::fs::read_to_string(Path::new(FIXTURES).join(&name)).expect("read");
        let (status, dry) = import(&s, json!({"ssh_config": text, "dry_run": true})).await;
        let (path_status, by_path) =
            import(&s, json!({"ssh_config_path": name, "dry_run": true})).await;
        assert_eq!(status, path_status, "{name}: text and path agree");
        if status == 400 {
            let message = dry["error"]["message"].as_str().unwrap_or_default();
            let reason = EXPECTED_REFUSALS
                .iter()
                .find(|(f, _)| *f == name)
                .map_or("", |(_, reason)| *reason);
            assert!(
                message.contains("ssh_config") && message.contains(reason),
                "{name}: a refusal names the file, line and {reason:?}: {dry}"
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

        if let Some((_, aliases)) = SSH_G_ALIASES.iter().find(|(f, _)| *f == name) {
            for alias in *aliases {
                assert_matches_ssh(&s, &Path::new(FIXTURES).join(&name), alias).await;
            }
            compared += aliases.len();
        }

        let (_, again) = import(&s, json!({"ssh_config": text, "update_existing": false})).await;
        assert_eq!(
            again["summary"]["skipped"], found,
            "{name}: nothing changes: {again}"
        );
    }
    assert!(imported >= 40, "the fixtures hold many hosts: {imported}");
    let expected: Vec<&str> = EXPECTED_REFUSALS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        refused, expected,
        "only the known broken configs are refused"
    );
    assert_eq!(
        compared,
        SSH_G_ALIASES.iter().map(|(_, a)| a.len()).sum::<usize>(),
        "every listed alias was compared with ssh -G"
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
    // `web`'s key exists in an allowed key directory.
    let keys = tempfile::tempdir().expect("keys");
    let web_key = keys.path().join("web_ed25519");
    std::fs::write(&web_key, "not really a key\n").expect("key");
    let config_text = CONFIG.replace("~/.ssh/web_ed25519", &web_key.display().to_string());
    let allowed = keys.path().to_path_buf();
    let s = TestServer::start(&[], move |c| {
        c.rate_limit.enabled = false;
        c.ssh.identity_dirs = vec![allowed];
    })
    .await;
    let config = config_text.as_str();
    let (status, dry) = import(
        &s,
        json!({"ssh_config": config, "dry_run": true, "tag_prefix": "lab"}),
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

    let (status, real) = import(&s, json!({"ssh_config": config, "tag_prefix": "lab"})).await;
    assert_eq!(status, 200, "{real}");
    assert_eq!(real["summary"]["created"], 3);
    let (_, web) = s.get("/api/devices/web").await;
    assert_eq!(web["ip_address"], "10.0.0.7");
    assert_eq!(web["ssh_port"], 2222);
    assert_eq!(web["ssh_username"], "deploy");
    assert_eq!(
        web["ssh_identity_file"],
        web_key.display().to_string().as_str(),
        "a key in an allowed directory is kept"
    );

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

    // What OpenSSH resolves from the same text. (`Match host` tests the name after
    // `HostName` applies, db.internal, so ssh does not apply that block to `db` either.)
    let file = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(file.path(), config).expect("write");
    for alias in ["web", "web-alias", "db"] {
        assert_matches_ssh(&s, file.path(), alias).await;
    }

    let (_, same) = import(&s, json!({"ssh_config": config})).await;
    assert_eq!(same["summary"]["skipped"], 3, "already up to date: {same}");

    let changed = config.replace("Port 2222", "Port 2200");
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

    // A key the server refuses (here: missing) is left out with a warning naming the
    // field; the host is still imported and uses the configured keys.
    let lost = "Host lost\n  HostName 10.0.0.9\n  IdentityFile /nonexistent/lost_key\n";
    let (status, result) = import(&s, json!({"ssh_config": lost})).await;
    assert_eq!(status, 200, "{result}");
    let row = &result["results"][0];
    assert_eq!(row["action"], "created", "{result}");
    assert!(
        row["warnings"]
            .as_array()
            .is_some_and(|w| w.iter().any(|w| w
                .as_str()
                .is_some_and(|w| w.starts_with("ssh_identity_file:")))),
        "{row}"
    );
    assert_eq!(
        s.get("/api/devices/lost").await.1["ssh_identity_file"],
        Value::Null
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
        // Outside the import directory: no such file in it.
        ("/etc/passwd", 404),
        // `..` segments: refused by the schema's pattern.
        ("../etc/passwd", 422),
        ("config.d/../../etc/passwd", 422),
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
