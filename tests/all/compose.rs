//! The compose plugin against the testbed's private dockerd and `docker-compose` (v1) over
//! real SSH: every fixture through `/modify` and back through `docker-compose config -q`,
//! port assignment around a real listener and a real published port, a two-service deploy
//! that really starts, a broken second deploy that leaves the first running and its file
//! unchanged, a failed `up` rolled back, the SWAG conf through `nginx -t`, existing projects
//! adopted, hostile names refused.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use infrastructor_tests::testbed::{Docker, Sshd, SshdOptions, nginx_check};
use infrastructor_tests::{TestServer, server_with_device};
use serde_json::{Value, json};

const IMAGE: &str = "tb-busybox:compose";

struct Bed {
    docker: Docker,
    _device: Sshd,
    server: TestServer,
    work: tempfile::TempDir,
}

async fn bed() -> Bed {
    let docker = Docker::start().expect("dockerd");
    docker.build_busybox_image(IMAGE).expect("image");
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    device.use_docker(&docker).expect("use_docker");
    let server = server_with_device(&device, "box", false, |_| {}).await;
    Bed {
        docker,
        _device: device,
        server,
        work: tempfile::tempdir().expect("tmp"),
    }
}

impl Bed {
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.server
            .send(self.server.client.post(self.server.url(path)).json(&body))
            .await
    }

    /// `docker-compose -f FILE config -q` with this engine: accepted, and its stderr.
    fn config_ok(&self, file: &Path) -> (bool, String) {
        let out = self
            .docker
            .compose_cmd()
            .arg("-f")
            .arg(file)
            .args(["config", "-q"])
            .current_dir(file.parent().expect("dir"))
            .output()
            .expect("docker-compose runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `name state` of the containers of compose project `project`, sorted.
    fn project_containers(&self, project: &str) -> Vec<(String, String)> {
        let filter = format!("label=com.docker.compose.project={project}");
        let mut v: Vec<(String, String)> = self
            .docker
            .run(&[
                "ps",
                "-a",
                "--filter",
                &filter,
                "--format",
                "{{.Names}} {{.State}}",
            ])
            .expect("docker ps")
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(n, s)| (n.to_owned(), s.to_owned()))
            .collect();
        v.sort();
        v
    }

    fn stack_dir(&self, name: &str) -> PathBuf {
        let dir = self.work.path().join(name);
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/compose");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures/compose")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    files
}

/// A two-service stack of the busybox image, without networking (the testbed's dockerd
/// runs with `--bridge=none`).
fn stack(tag: &str) -> String {
    format!(
        "# stack {tag}\nservices:\n  web:\n    image: {IMAGE}\n    command: [\"sleep\", \"3600\"]\n    network_mode: none\n    labels:\n      tag: {tag}\n  worker:\n    image: {IMAGE}\n    command: [\"sleep\", \"3600\"]\n    network_mode: none\n"
    )
}

async fn deploy(b: &Bed, body: Value) -> (u16, Value) {
    b.post("/api/compose/deploy?wait=60", body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_survives_modify_and_compose_accepts_what_it_accepted() {
    let b = bed().await;
    let mut rejected_as_given = Vec::new();
    for fixture in fixtures() {
        let name = fixture
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let content = std::fs::read_to_string(&fixture).expect("read");
        let (status, body) = b
            .post(
                "/api/compose/modify",
                json!({
                    "compose_content": content, "target_device": "box",
                    "default_network": "proxy", "custom_appdata_path": "/srv/appdata",
                }),
            )
            .await;
        assert_eq!(status, 200, "{name}: {body}");
        let modified = body["modified_compose"].as_str().expect("modified");
        let dir = b.stack_dir(&name.replace('.', "_"));
        let input = dir.join("input.yml");
        std::fs::write(&input, &content).expect("write");
        let output = dir.join("output.yml");
        std::fs::write(&output, modified).expect("write");
        let (accepted_in, why_in) = b.config_ok(&input);
        let (accepted_out, why_out) = b.config_ok(&output);
        if accepted_in {
            assert!(
                accepted_out,
                "{name}: compose accepted the input but not the output: {why_out}\n{modified}"
            );
        } else {
            rejected_as_given.push(format!(
                "{name}: {}",
                why_in.lines().last().unwrap_or_default()
            ));
        }
    }
    eprintln!(
        "docker-compose 1.29 rejects these fixtures as given ({}):\n{}",
        rejected_as_given.len(),
        rejected_as_given.join("\n")
    );
    // Invalid YAML: 400 naming the line and column, before anything remote.
    let (status, body) = b
        .post(
            "/api/compose/modify",
            json!({"compose_content": "services:\n  web:\n    image: [x\n", "target_device": "box"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("line")),
        "{body}"
    );
    let (status, _) = b
        .post(
            "/api/compose/modify",
            json!({"compose_content": "services: {}", "target_device": "nosuchdevice"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_avoid_a_real_listener_and_every_other_service() {
    let b = bed().await;
    let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("listen");
    let taken = listener.local_addr().expect("addr").port();
    let start = taken.saturating_sub(1).max(1024);
    let compose = format!(
        "services:\n  a:\n    image: {IMAGE}\n    ports:\n      - \"{taken}:80\"\n  b:\n    image: {IMAGE}\n    ports:\n      - \"{taken}:81\"\n"
    );
    let (status, body) = b
        .post(
            "/api/compose/modify",
            json!({
                "compose_content": compose, "target_device": "box",
                "port_range_start": start, "port_range_end": start + 10,
                "update_networks": false, "generate_proxy_configs": false,
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let a = body["port_assignments"]["a"][0]["host_port"]
        .as_u64()
        .expect("a moved");
    let b_port = body["port_assignments"]["b"][0]["host_port"]
        .as_u64()
        .expect("b moved");
    assert_ne!(a, u64::from(taken), "{body}");
    assert_ne!(b_port, u64::from(taken), "{body}");
    assert_ne!(a, b_port, "two services never share a port: {body}");
    assert!((u64::from(start)..=u64::from(start) + 10).contains(&a));

    let (status, scan) = b
        .post(
            "/api/compose/scan-ports",
            json!({"device": "box", "port_range_start": start, "port_range_end": start + 10}),
        )
        .await;
    assert_eq!(status, 200, "{scan}");
    let used: Vec<u64> = scan["used_ports"]
        .as_array()
        .expect("used")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(used.contains(&u64::from(taken)), "{scan}");
    let available: Vec<u64> = scan["available_ports"]
        .as_array()
        .expect("available")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(!available.contains(&u64::from(taken)));
    assert_eq!(
        available.len()
            + used
                .iter()
                .filter(|p| (u64::from(start)..=u64::from(start) + 10).contains(p))
                .count(),
        11
    );
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_starts_both_services_and_a_broken_one_changes_nothing() {
    let b = bed().await;
    let dir = b.stack_dir("web1");
    let path = dir.join("compose.yaml");
    let path_s = path.display().to_string();
    let project = "web1";
    let (status, first) = deploy(
        &b,
        json!({"device": "box", "compose_content": stack("one"), "deployment_path": path_s, "pull_images": false}),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["success"], true, "{first}");
    assert_eq!(first["compose"], "v1");
    let steps: Vec<&str> = first["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["step"].as_str())
        .collect();
    assert_eq!(
        steps,
        ["write", "validate", "replace", "up", "ps"],
        "{first}"
    );
    assert_eq!(
        b.project_containers(project),
        [
            ("web1_web_1".to_owned(), "running".to_owned()),
            ("web1_worker_1".to_owned(), "running".to_owned())
        ]
    );
    assert_eq!(std::fs::read_to_string(&path).expect("file"), stack("one"));
    assert_eq!(
        first["services"].as_array().map(Vec::len),
        Some(2),
        "{first}"
    );

    // An unknown key: compose refuses it on the device before anything is replaced.
    let broken = stack("two").replace(
        "    command: [\"sleep\", \"3600\"]\n    network_mode: none\n    labels",
        "    imagee: nope\n    network_mode: none\n    labels",
    );
    let (status, second) = deploy(
        &b,
        json!({"device": "box", "compose_content": broken, "deployment_path": path_s, "pull_images": false}),
    )
    .await;
    assert_eq!(status, 422, "{second}");
    assert_eq!(
        std::fs::read_to_string(&path).expect("file"),
        stack("one"),
        "file unchanged"
    );
    assert!(
        std::fs::read_dir(&dir)
            .expect("dir")
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().ends_with(".tmp")),
        "no temp file left"
    );
    assert_eq!(
        b.project_containers(project)
            .iter()
            .filter(|(_, s)| s == "running")
            .count(),
        2
    );

    // A failing `up` (an image that does not exist, no registry to pull from): rolled back
    // to the previous file and stack.
    let missing = stack("three").replacen(IMAGE, "tb-missing:none", 1);
    let (status, third) = deploy(
        &b,
        json!({"device": "box", "compose_content": missing, "deployment_path": path_s, "pull_images": false}),
    )
    .await;
    assert_eq!(status, 502, "{third}");
    assert_eq!(third["rolled_back"], true, "{third}");
    assert!(third["backup_file_path"].is_string(), "{third}");
    assert_eq!(
        std::fs::read_to_string(&path).expect("file"),
        stack("one"),
        "restored"
    );
    assert_eq!(
        b.project_containers(project)
            .iter()
            .filter(|(_, s)| s == "running")
            .count(),
        2,
        "the previous stack runs"
    );

    // The project is found from its labels, with its file.
    let (status, projects) = b.server.get("/api/compose/box/projects").await;
    assert_eq!(status, 200, "{projects}");
    let found = projects["projects"]
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["name"] == project)
        .cloned()
        .expect("project");
    assert_eq!(found["running"], 2);
    let (status, one) = b
        .server
        .get(&format!("/api/compose/box/projects/{project}"))
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["files"][0]["content"], stack("one"));
    let (status, _) = b.server.get("/api/compose/box/projects/nosuch").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_is_a_job_and_hostile_input_never_reaches_a_shell() {
    let b = bed().await;
    let path = b
        .stack_dir("jobbed")
        .join("compose.yaml")
        .display()
        .to_string();
    let (status, accepted) = b
        .post(
            "/api/compose/deploy",
            json!({"device": "box", "compose_content": stack("job"), "deployment_path": path, "pull_images": false}),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("job id").to_owned();
    let mut job = Value::Null;
    for _ in 0..300 {
        let (_, j) = b.server.get(&format!("/api/jobs/{id}")).await;
        if j["state"] == "succeeded" || j["state"] == "failed" {
            job = j;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["progress"]["unit"], "steps");
    assert_eq!(job["progress"]["done"], job["progress"]["total"]);
    assert_eq!(job["result"]["success"], true);

    let canary = b.work.path().join("canary");
    let hostile = format!("/tmp/x.yml; touch {}", canary.display());
    // The schema refuses these before a job exists: 422, and no job is recorded.
    let (_, before) = b.server.get("/api/jobs?plugin=compose").await;
    for body in [
        json!({"device": "box", "compose_content": stack("h"), "deployment_path": hostile}),
        json!({"device": "box", "compose_content": stack("h"), "deployment_path": "/etc/../etc/passwd.yml"}),
        json!({"device": "box", "compose_content": stack("h"), "deployment_path": "/opt/.hidden.yml"}),
        json!({"device": "box", "compose_content": stack("h"), "deployment_path": path, "services_to_start": ["web;id"]}),
        json!({"device": "box;id", "compose_content": stack("h"), "deployment_path": path}),
    ] {
        let (status, answer) = b.post("/api/compose/deploy", body.clone()).await;
        assert_eq!(status, 422, "{body}: {answer}");
    }
    let (_, after) = b.server.get("/api/jobs?plugin=compose").await;
    assert_eq!(before["total"], after["total"], "no job for refused input");
    // What only the handler can see (invalid YAML) fails the job with 400.
    let (status, answer) = deploy(
        &b,
        json!({"device": "box", "compose_content": "services: [x", "deployment_path": path}),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    for path in [
        "/api/compose/box/projects/Bad%3Bname",
        "/api/compose/proxy-configs/box/a%3Bb?upstream_port=80",
        "/api/compose/proxy-configs/box/web?upstream_port=80&upstream_proto=gopher",
    ] {
        let (status, answer) = b.server.get(path).await;
        assert_eq!(status, 422, "{path}: {answer}");
    }
    assert!(!canary.exists(), "nothing reached a shell");
}

#[tokio::test]
async fn the_generated_swag_conf_passes_nginx_t() {
    let b = bed().await;
    let (status, body) = b
        .server
        .get("/api/compose/proxy-configs/box/web?upstream_port=8080")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["filename"], "web.subdomain.conf");
    let conf = body["config_content"].as_str().expect("conf");
    assert!(conf.starts_with("## Version "), "{conf}");
    assert!(conf.contains("server_name web.*;"), "{conf}");
    assert!(conf.contains("set $upstream_port 8080;"), "{conf}");
    // SWAG's includes live under /config/nginx: stub them inside nginx's prefix.
    let local = conf.replace("/config/nginx/", "swag/");
    let main = "events {}\nhttp {\n  access_log off;\n  include proxy-confs/*.subdomain.conf;\n}\n";
    let outcome = nginx_check(
        main,
        &[
            ("proxy-confs/web.subdomain.conf", local.as_str()),
            (
                "swag/ssl.conf",
                "ssl_certificate cert.pem;\nssl_certificate_key key.pem;\n",
            ),
            ("swag/proxy.conf", "proxy_set_header Host $host;\n"),
            ("swag/resolver.conf", "resolver 127.0.0.11 valid=30s;\n"),
            ("cert.pem", include_str!("../fixtures/tls/cert.pem")),
            ("key.pem", include_str!("../fixtures/tls/key.pem")),
        ],
    )
    .expect("nginx -t runs");
    assert!(outcome.ok, "{}\n{local}", outcome.stderr);
    let _ = Command::new("true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_published_by_a_running_container_is_never_assigned() {
    let b = bed().await;
    // The testbed's dockerd has no default bridge: a user-defined network carries the
    // published port (docker records it; no proxy or iptables is involved).
    b.docker
        .run(&["network", "create", "tbnet"])
        .expect("network");
    let probe = std::net::TcpListener::bind("0.0.0.0:0").expect("a free port");
    let published = probe.local_addr().expect("addr").port();
    drop(probe);
    b.docker
        .run(&[
            "run",
            "-d",
            "--name",
            "holder",
            "--network",
            "tbnet",
            "-p",
            &format!("{published}:80"),
            IMAGE,
            "sleep",
            "600",
        ])
        .expect("container publishing a port");
    let compose = format!(
        "services:\n  app:\n    image: {IMAGE}\n    ports:\n      - \"{published}:8080\"\n"
    );
    let start = published.saturating_sub(2).max(1024);
    let (status, body) = b
        .post(
            "/api/compose/modify",
            json!({
                "compose_content": compose, "target_device": "box",
                "port_range_start": start, "port_range_end": start + 8,
                "generate_proxy_configs": false,
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let assigned = body["port_assignments"]["app"][0]["host_port"]
        .as_u64()
        .expect("moved");
    assert_ne!(assigned, u64::from(published), "{body}");
    // The device's only user network is recommended and added; the container's own
    // `default` network is kept.
    assert_eq!(
        body["network_configs"]["app"],
        json!(["default", "tbnet"]),
        "{body}"
    );
    let (status, scan) = b
        .post(
            "/api/compose/scan-ports",
            json!({"device": "box", "port_range_start": start, "port_range_end": start + 8}),
        )
        .await;
    assert_eq!(status, 200, "{scan}");
    assert!(
        scan["port_owners"][published.to_string()]
            .as_array()
            .is_some_and(|o| o.iter().any(|o| o == "container holder")),
        "{scan}"
    );
    let (status, nets) = b
        .post("/api/compose/scan-networks", json!({"device": "box"}))
        .await;
    assert_eq!(status, 200, "{nets}");
    assert_eq!(nets["recommended_network"], "tbnet");
    assert_eq!(nets["containers_by_network"]["tbnet"], json!(["holder"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modify_and_deploy_writes_only_where_named_and_never_overwrites_unasked() {
    let docker = Docker::start().expect("dockerd");
    docker.build_busybox_image(IMAGE).expect("image");
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    device.use_docker(&docker).expect("use_docker");
    let root = tempfile::tempdir().expect("root");
    let root_path = root.path().display().to_string();
    let server = server_with_device(&device, "box", false, move |c| {
        c.plugins
            .entries
            .entry("compose".into())
            .or_default()
            .config = json!({"compose_root": root_path});
    })
    .await;
    let body = json!({
        "compose_content": stack("mad"), "target_device": "box", "project_name": "madstack",
        "pull_images": false, "update_networks": false,
    });
    let post = |body: Value| {
        let server = &server;
        async move {
            server
                .send(
                    server
                        .client
                        .post(server.url("/api/compose/modify-and-deploy?wait=60"))
                        .json(&body),
                )
                .await
        }
    };
    let (status, first) = post(body.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["overall_success"], true, "{first}");
    let file = root.path().join("madstack/compose.yaml");
    assert_eq!(
        std::fs::read_to_string(&file).expect("written"),
        stack("mad")
    );
    let (status, again) = post(body.clone()).await;
    assert_eq!(status, 409, "{again}");
    let mut replace = body.clone();
    replace["overwrite"] = json!(true);
    let (status, replaced) = post(replace).await;
    assert_eq!(status, 200, "{replaced}");
    assert!(
        replaced["deployment"]["backup_file_path"].is_string(),
        "{replaced}"
    );
    let mut nowhere = body;
    nowhere
        .as_object_mut()
        .expect("object")
        .remove("project_name");
    let (status, refused) = post(nowhere).await;
    assert_eq!(status, 400, "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_on_the_device_downloads_adapted_and_the_cli_is_detected_once() {
    let b = bed().await;
    let path = b.stack_dir("adopt").join("compose.yaml");
    let original = format!(
        "# hand-made\nservices:\n  app:\n    image: {IMAGE}\n    command: [\"sleep\", \"600\"]\n    network_mode: none\n    volumes:\n      - ./appdata/app:/config\n"
    );
    std::fs::write(&path, &original).expect("write");
    let out = b
        .docker
        .compose_cmd()
        .arg("-f")
        .arg(&path)
        .args(["up", "-d"])
        .output()
        .expect("compose up");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, text) = {
        let r = b
            .server
            .client
            .get(
                b.server
                    .url("/api/compose/download-modified/box?project=adopt"),
            )
            .send()
            .await
            .expect("get");
        (r.status().as_u16(), r.text().await.expect("text"))
    };
    assert_eq!(status, 200, "{text}");
    assert!(text.starts_with("# hand-made\n"), "comments kept: {text}");
    assert!(text.contains("/mnt/appdata/app:/config"), "{text}");
    let (status, _) = b
        .server
        .get("/api/compose/download-modified/box?project=nosuch")
        .await;
    assert_eq!(status, 404);
    let (status, _) = b
        .server
        .get("/api/compose/download-modified/box?project=Bad;x")
        .await;
    assert_eq!(status, 422);

    // Two deploys to the device: the compose command line is detected once.
    b._device
        .count_invocations("docker-compose")
        .expect("count");
    for tag in ["a", "b"] {
        let p = b
            .stack_dir(&format!("once{tag}"))
            .join("compose.yaml")
            .display()
            .to_string();
        let (status, r) = deploy(
            &b,
            json!({"device": "box", "compose_content": stack(tag), "deployment_path": p, "pull_images": false}),
        )
        .await;
        assert_eq!(status, 200, "{r}");
    }
    // Per deploy: config -q, up, ps; detection (`docker-compose version`) only once at most.
    let calls = b._device.invocations("docker-compose");
    assert!(calls <= 7, "{calls} docker-compose runs for two deploys");
}
