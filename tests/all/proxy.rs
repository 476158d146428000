//! The proxy plugin against a SWAG-like container (Debian's nginx in an image tagged as
//! linuxserver's SWAG, a bind-mounted `/config` tree with real samples) on the testbed's
//! private dockerd, over real SSH: detection finds it and misses a device without SWAG;
//! scans reconcile new, changed and deleted files; list, get, content and summary agree
//! with the files; outdated confs are flagged and diffed; confs are created from samples,
//! changed and deleted through `nginx -t` in the container, and a change nginx refuses
//! leaves the directory as it was; hostile names are refused.

use infrastructor_tests::sha256_hex;
use std::collections::BTreeMap;
use std::path::Path;

use infrastructor_tests::testbed::swag::{SWAG_IMAGE, SwagContainer, SwagTree};
use infrastructor_tests::testbed::{Docker, Sshd, SshdOptions};
use infrastructor_tests::{TestServer, server_with_devices, url_escape};
use serde_json::{Value, json};

const SAMPLES: &[&str] = &[
    "nextcloud.subdomain.conf.sample",
    "jellyfin.subdomain.conf.sample",
    "sonarr.subfolder.conf.sample",
    "radarr.subdomain.conf.sample",
];

/// Every file of a directory (not recursing), name → content: the state a refused change
/// must leave untouched.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

/// The value of the first active `set $upstream_<var>` line of a conf.
fn upstream_in(text: &str, var: &str) -> Option<String> {
    let needle = format!("set $upstream_{var} ");
    text.lines().find_map(|l| {
        l.trim_start()
            .strip_prefix(&needle)
            .map(|v| v.trim_end().trim_end_matches(';').trim().to_owned())
    })
}

struct Bed<'a> {
    server: TestServer,
    tree: &'a SwagTree,
    container: SwagContainer<'a>,
    _devices: (Sshd, Sshd),
    _dir: tempfile::TempDir,
}

/// A private dockerd with the SWAG image, and a `/config` tree with [`SAMPLES`] (nextcloud
/// and sonarr active).
fn engine_and_tree() -> (Docker, SwagTree) {
    let docker = Docker::start().expect("dockerd");
    docker.build_swag_image(SWAG_IMAGE).expect("swag image");
    let tree = SwagTree::new(SAMPLES).expect("tree");
    tree.activate("nextcloud.subdomain.conf.sample")
        .expect("nextcloud");
    tree.activate("sonarr.subfolder.conf.sample")
        .expect("sonarr");
    (docker, tree)
}

impl<'a> Bed<'a> {
    /// SWAG running over `tree`; device `box` reaches its engine, `bare` has no docker.
    async fn start(docker: &'a Docker, tree: &'a SwagTree) -> Bed<'a> {
        let container =
            SwagContainer::start(docker, tree, SWAG_IMAGE, "swag-test").expect("swag container");
        let swag_box = Sshd::start(SshdOptions::default()).expect("sshd");
        swag_box.use_docker(docker).expect("use_docker");
        let bare = Sshd::start(SshdOptions::default()).expect("sshd");
        let dir = tempfile::tempdir().expect("tmp");
        let server = server_with_devices(
            &[],
            &[("box", &swag_box, true), ("bare", &bare, true)],
            dir.path(),
            |_| {},
        )
        .await;
        Bed {
            server,
            tree,
            container,
            _devices: (swag_box, bare),
            _dir: dir,
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.server.get(path).await
    }

    async fn text(&self, path: &str) -> (u16, String) {
        let r = self
            .server
            .client
            .get(self.server.url(path))
            .send()
            .await
            .expect("request");
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.server.client.request(method, self.server.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.server.send(req).await
    }

    fn conf(&self, name: &str) -> String {
        std::fs::read_to_string(self.tree.proxy_confs().join(name)).expect("conf")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detection_scan_records_summary_outdated_and_samples() {
    let (docker, tree) = engine_and_tree();
    let bed = Bed::start(&docker, &tree).await;
    let confs_dir = bed.tree.proxy_confs();

    // Detection: the container and its /config mount on `box`, nothing on `bare`.
    let (status, body) = bed.get("/api/proxies/detection").await;
    assert_eq!(status, 200, "{body}");
    let by_device: BTreeMap<String, Value> = body["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| (d["device"].as_str().expect("device").to_owned(), d.clone()))
        .collect();
    let swag = &by_device["box"];
    assert_eq!(swag["found"], true, "{swag}");
    assert_eq!(swag["container"], "swag-test");
    assert_eq!(swag["image"], SWAG_IMAGE);
    assert_eq!(swag["source"], "container-mount");
    assert_eq!(
        swag["config_dir"].as_str().map(Path::new),
        Some(bed.tree.path())
    );
    let bare = &by_device["bare"];
    assert_eq!(bare["found"], false, "{bare}");
    assert!(bare["reason"].as_str().expect("reason").contains("no SWAG"));
    // Both results are remembered.
    let (_, again) = bed.get("/api/proxies/detection").await;
    assert!(
        again["devices"]
            .as_array()
            .expect("devices")
            .iter()
            .all(|d| d["cached"] == true),
        "{again}"
    );

    // The first list syncs the detected device live and answers from the records.
    let (status, list) = bed.get("/api/proxies/configs").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["live_sync"]["new_configs"], 2, "{list}");
    assert_eq!(list["total"], 2);
    for item in list["items"].as_array().expect("items") {
        let name = item["file_name"].as_str().expect("file_name");
        let text = bed.conf(name);
        assert_eq!(item["device"], "box");
        assert_eq!(item["status"], "active", "{item}");
        assert_eq!(item["content_hash"], sha256_hex(text.as_bytes()), "{name}");
        assert_eq!(item["file_size"], text.len());
        assert_eq!(
            item["upstream_app"].as_str(),
            upstream_in(&text, "app").as_deref(),
            "{name}"
        );
        assert_eq!(
            item["upstream_port"].as_str(),
            upstream_in(&text, "port").as_deref()
        );
        assert!(
            item.get("parsed").is_none(),
            "lists leave the full parse out"
        );
    }

    // A scan with nothing changed; then a change, a deletion and a new file.
    let (status, scan) = bed
        .send(reqwest::Method::POST, "/api/proxies/scan?device=box", None)
        .await;
    assert_eq!(status, 200, "{scan}");
    assert_eq!(
        (
            scan["new_configs"].as_u64(),
            scan["unchanged_configs"].as_u64()
        ),
        (Some(0), Some(2)),
        "{scan}"
    );
    let mut nextcloud = bed.conf("nextcloud.subdomain.conf");
    nextcloud.push_str("# changed by the test\n");
    std::fs::write(confs_dir.join("nextcloud.subdomain.conf"), &nextcloud).expect("write");
    bed.tree
        .remove_proxy_conf("sonarr.subfolder.conf")
        .expect("rm");
    bed.tree
        .activate("jellyfin.subdomain.conf.sample")
        .expect("jellyfin");
    let (_, scan) = bed
        .send(reqwest::Method::POST, "/api/proxies/scan?device=box", None)
        .await;
    assert_eq!(
        [
            &scan["new_configs"],
            &scan["updated_configs"],
            &scan["removed_configs"],
            &scan["unchanged_configs"]
        ],
        [&json!(1), &json!(1), &json!(1), &json!(0)],
        "{scan}"
    );
    assert_eq!(scan["total_files_found"], 2);
    // A dry run reports without writing.
    std::fs::write(confs_dir.join("extra.conf"), "server { listen 8080; }\n").expect("extra");
    let (_, dry) = bed
        .send(
            reqwest::Method::POST,
            "/api/proxies/scan?device=box&sync_to_database=false",
            None,
        )
        .await;
    assert_eq!(dry["new_configs"], 1, "{dry}");
    assert_eq!(dry["synced_to_database"], false);
    let (_, list) = bed.get("/api/proxies/configs?device=box").await;
    assert_eq!(list["total"], 2, "a dry run wrote records: {list}");
    std::fs::remove_file(confs_dir.join("extra.conf")).expect("rm extra");

    // One conf: record, full parse and content as on disk.
    let (status, one) = bed.get("/api/proxies/configs/nextcloud?device=box").await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["content"], nextcloud);
    assert_eq!(one["content_hash"], sha256_hex(nextcloud.as_bytes()));
    assert_eq!(one["parsed"]["kind"], "subdomain", "{one}");
    assert!(
        one["server_names"]
            .as_array()
            .expect("names")
            .contains(&json!("nextcloud.*"))
    );
    assert_eq!(one["ssl_enabled"], true);
    assert_eq!(one["auth_method"], "none");
    let (status, content) = bed
        .text("/api/proxies/configs/nextcloud/content?device=box")
        .await;
    assert_eq!((status, content.as_str()), (200, nextcloud.as_str()));
    let (status, missing) = bed.get("/api/proxies/configs/sonarr?device=box").await;
    assert_eq!(status, 404, "{missing}");

    // Outdated: a conf whose version header is older than its sample's.
    let radarr_sample =
        std::fs::read_to_string(confs_dir.join("radarr.subdomain.conf.sample")).expect("sample");
    let old = radarr_sample.replacen("## Version ", "## Version 2019/01/01\n# was: ", 1);
    std::fs::write(confs_dir.join("radarr.subdomain.conf"), &old).expect("old conf");
    let (_, sync) = bed
        .send(
            reqwest::Method::POST,
            "/api/proxies/configs/radarr/sync?device=box",
            None,
        )
        .await;
    assert_eq!(sync["configs"][0]["outdated"], true, "{sync}");
    assert_eq!(sync["configs"][0]["version"], "2019-01-01");
    let (_, outdated) = bed
        .get("/api/proxies/configs?device=box&outdated=true")
        .await;
    assert_eq!(outdated["total"], 1, "{outdated}");
    assert_eq!(outdated["items"][0]["service_name"], "radarr");
    let (status, diff) = bed.get("/api/proxies/configs/radarr/diff?device=box").await;
    assert_eq!(status, 200, "{diff}");
    assert_eq!(diff["outdated"], true);
    let unified = diff["diff"].as_str().expect("diff");
    assert!(unified.contains("-## Version 2019/01/01"), "{unified}");
    assert!(unified.contains("+## Version "), "{unified}");
    let (_, fresh) = bed
        .get("/api/proxies/configs/nextcloud/diff?device=box")
        .await;
    assert_eq!(fresh["outdated"], false, "{fresh}");

    // The summary counts what is on disk.
    let (status, summary) = bed.get("/api/proxies/summary?device=box").await;
    assert_eq!(status, 200, "{summary}");
    let on_disk = snapshot(&confs_dir)
        .keys()
        .filter(|n| n.ends_with(".conf"))
        .count();
    assert_eq!(summary["total_configs"], on_disk, "{summary}");
    assert_eq!(summary["active_configs"], on_disk);
    assert_eq!(summary["outdated_count"], 1);
    assert_eq!(summary["by_service_type"]["subdomain"], on_disk);
    assert_eq!(summary["by_device"]["box"], on_disk);
    assert_eq!(summary["ssl_enabled_count"], on_disk);
    assert!(summary["last_sync"].is_string());

    // Samples and templates, read over SSH.
    let (status, samples) = bed.get("/api/proxies/samples?device=box").await;
    assert_eq!(status, 200, "{samples}");
    let on_disk_samples = snapshot(&confs_dir)
        .keys()
        .filter(|n| n.ends_with(".conf.sample"))
        .count();
    assert_eq!(samples["total_samples"], on_disk_samples);
    let (status, sample) = bed.text("/api/proxies/samples/sonarr?device=box").await;
    assert_eq!(status, 200);
    assert_eq!(
        sample,
        std::fs::read_to_string(confs_dir.join("sonarr.subfolder.conf.sample")).expect("s")
    );
    let (status, template) = bed
        .text("/api/proxies/templates/subfolder?device=box")
        .await;
    assert_eq!(status, 200);
    assert!(template.contains("<container_name>"));
    assert_eq!(
        bed.text("/api/proxies/samples/nope?device=box").await.0,
        404
    );
    assert_eq!(
        bed.get("/api/proxies/templates/other?device=box").await.0,
        422
    );

    // A device without SWAG.
    let (status, body) = bed.get("/api/proxies/configs?device=bare&live=true").await;
    assert_eq!(status, 404, "{body}");

    // Hostile names never reach a path.
    // (`..` alone is resolved away by the client's URL parser, as by any browser.)
    for name in ["../x", "a;b", "x y", "$(id)", "a/b", "-x"] {
        let path = format!("/api/proxies/configs/{}?device=box", url_escape(name));
        assert_eq!(bed.get(&path).await.0, 422, "{name}");
        let (status, _) = bed
            .send(
                reqwest::Method::POST,
                &format!("/api/proxies/configs/{}", url_escape(name)),
                Some(json!({"upstream_app": "x", "upstream_port": 80})),
            )
            .await;
        assert_eq!(status, 422, "{name}");
    }
    for dir in ["relative", "/a/../b"] {
        let path = format!(
            "/api/proxies/scan?device=box&config_directory={}",
            url_escape(dir)
        );
        let status = bed.send(reqwest::Method::POST, &path, None).await.0;
        assert!(status == 422 || status == 400, "{dir}: {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confs_are_created_changed_and_deleted_through_nginx_t() {
    let (docker, tree) = engine_and_tree();
    let bed = Bed::start(&docker, &tree).await;
    let confs_dir = bed.tree.proxy_confs();
    let workers_before = bed.container.worker_pids().expect("workers");

    // A sample that offers no auth lines cannot get Authelia: 400, nothing written.
    let before = snapshot(&confs_dir);
    let (status, no_auth) = bed
        .send(
            reqwest::Method::POST,
            "/api/proxies/configs/jellyfin",
            Some(
                json!({"device": "box", "upstream_app": "10.0.0.7", "upstream_port": 8096,
                        "auth": "authelia"}),
            ),
        )
        .await;
    assert_eq!(status, 400, "{no_auth}");
    assert_eq!(snapshot(&confs_dir), before);

    // Create from the sample, with an upstream and Authelia.
    let (status, created) = bed
        .send(
            reqwest::Method::POST,
            "/api/proxies/configs/radarr",
            Some(
                json!({"device": "box", "upstream_app": "10.0.0.7", "upstream_port": 8096,
                        "auth": "authelia"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let text = bed.conf("radarr.subdomain.conf");
    assert_eq!(upstream_in(&text, "app").as_deref(), Some("10.0.0.7"));
    assert_eq!(upstream_in(&text, "port").as_deref(), Some("8096"));
    assert!(
        text.contains("\n    include /config/nginx/authelia-server.conf;"),
        "{text}"
    );
    assert!(text.contains("#include /config/nginx/authentik-server.conf;"));
    assert!(bed.container.nginx_test().expect("nginx -t").ok);
    assert_eq!(created["record"]["auth_method"], "authelia", "{created}");
    assert_eq!(created["record"]["upstream_app"], "10.0.0.7");
    // Reloaded: nginx replaced its workers.
    let workers_after = bed.container.worker_pids().expect("workers");
    assert!(
        workers_after.is_disjoint(&workers_before),
        "{workers_before:?} {workers_after:?}"
    );
    let (status, again) = bed
        .send(
            reqwest::Method::POST,
            "/api/proxies/configs/radarr",
            Some(json!({"device": "box", "upstream_app": "x", "upstream_port": 1})),
        )
        .await;
    assert_eq!(status, 409, "{again}");

    // A service without a sample comes from SWAG's template.
    let (status, from_template) = bed
        .send(
            reqwest::Method::POST,
            "/api/proxies/configs/myapp",
            Some(
                json!({"device": "box", "upstream_app": "myapp", "upstream_port": 3000,
                        "upstream_proto": "https"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{from_template}");
    let text = bed.conf("myapp.subdomain.conf");
    assert!(text.contains("server_name myapp.*;"), "{text}");
    assert_eq!(upstream_in(&text, "proto").as_deref(), Some("https"));

    // A conf nginx -t refuses is not left behind.
    let before = snapshot(&confs_dir);
    std::fs::write(
        confs_dir.join("broken.subdomain.conf.sample"),
        "## Version 2024/01/01\nserver {\n    listen 443 ssl;\n    server_name broken.*;\n    location / {\n        set $upstream_app broken;\n        set $upstream_port 80;\n        set $upstream_proto http;\n        no_such_directive on;\n        proxy_pass $upstream_proto://$upstream_app:$upstream_port;\n    }\n}\n",
    )
    .expect("broken sample");
    let before_with_sample = snapshot(&confs_dir);
    let (status, refused) = bed
        .send(
            reqwest::Method::POST,
            "/api/proxies/configs/broken",
            Some(json!({"device": "box", "upstream_app": "b", "upstream_port": 80})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    let message = refused["error"]["message"].as_str().expect("message");
    assert!(message.contains("no_such_directive"), "{message}");
    assert_eq!(
        snapshot(&confs_dir),
        before_with_sample,
        "the directory changed"
    );
    std::fs::remove_file(confs_dir.join("broken.subdomain.conf.sample")).expect("rm");
    assert_eq!(snapshot(&confs_dir), before);
    assert!(bed.container.nginx_test().expect("nginx -t").ok);

    // Update: port and auth; the previous file is kept as a backup.
    let previous = bed.conf("radarr.subdomain.conf");
    let (status, updated) = bed
        .send(
            reqwest::Method::PUT,
            "/api/proxies/configs/radarr",
            Some(json!({"device": "box", "upstream_port": 9000, "auth": "basic"})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    let text = bed.conf("radarr.subdomain.conf");
    assert_eq!(upstream_in(&text, "port").as_deref(), Some("9000"));
    assert_eq!(upstream_in(&text, "app").as_deref(), Some("10.0.0.7"));
    assert!(
        text.contains("        auth_basic \"Restricted\";"),
        "{text}"
    );
    assert!(text.contains("#include /config/nginx/authelia-server.conf;"));
    let backup = updated["backup"].as_str().expect("backup");
    assert_eq!(
        std::fs::read_to_string(backup).expect("backup file"),
        previous
    );
    assert_eq!(updated["record"]["auth_method"], "basic", "{updated}");
    let (status, _) = bed
        .send(
            reqwest::Method::PUT,
            "/api/proxies/configs/radarr",
            Some(json!({"device": "box", "upstream_app": "a;b"})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = bed
        .send(
            reqwest::Method::PUT,
            "/api/proxies/configs/radarr",
            Some(json!({"device": "box", "unknown": 1})),
        )
        .await;
    assert_eq!(status, 422);

    // A config already broken by someone else: nothing is written.
    std::fs::write(
        confs_dir.join("zz-bad.subdomain.conf"),
        "server { bogus_directive; }\n",
    )
    .expect("bad");
    let before = snapshot(&confs_dir);
    let (status, blocked) = bed
        .send(
            reqwest::Method::PUT,
            "/api/proxies/configs/radarr",
            Some(json!({"device": "box", "upstream_port": 9100})),
        )
        .await;
    assert_eq!(status, 409, "{blocked}");
    assert_eq!(snapshot(&confs_dir), before);
    std::fs::remove_file(confs_dir.join("zz-bad.subdomain.conf")).expect("rm");

    // Delete: the file goes, a backup stays, the record goes.
    let (status, deleted) = bed
        .send(
            reqwest::Method::DELETE,
            "/api/proxies/configs/radarr?device=box",
            None,
        )
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert!(!confs_dir.join("radarr.subdomain.conf").exists());
    let backup = deleted["backup"].as_str().expect("backup");
    assert_eq!(std::fs::read_to_string(backup).expect("backup"), text);
    let (_, list) = bed
        .get("/api/proxies/configs?device=box&service_name=radarr")
        .await;
    assert_eq!(list["total"], 0, "{list}");
    assert!(bed.container.nginx_test().expect("nginx -t").ok);
    let (status, _) = bed
        .send(
            reqwest::Method::DELETE,
            "/api/proxies/configs/radarr?device=box",
            None,
        )
        .await;
    assert_eq!(status, 404);
}
