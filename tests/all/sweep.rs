//! Sweeps over every operation of the served OpenAPI document, against a server of its own
//! with a testbed device (sshd + a private dockerd with a busybox container):
//! - the auth sweep: each operation's required scope is read from the document
//!   (`x-required-scope`), and no token, a wrong token, every key below that scope and a key
//!   at it get what they must;
//! - schemathesis (`st run`, every check) over every operation, failing on any failure.
//!
//! schemathesis comes from the venv `scripts/install-schemathesis` creates (run by
//! `scripts/test`); `INFRA_SCHEMATHESIS` may name another `st`. A missing `st` fails the test
//! with a message naming the script.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use infrastructor::config::Scope;
use infrastructor_tests::TestServer;
use infrastructor_tests::api_key;
use infrastructor_tests::testbed::{Docker, Sshd, SshdOptions};
use serde_json::{Value, json};

const IMAGE: &str = "tb-busybox:sweep";
const READ_KEY: &str = "sweep-read-key-0123456789";
const WRITE_KEY: &str = "sweep-write-key-0123456789";
const ADMIN_KEY: &str = "sweep-admin-key-0123456789";
/// The registered device every `hostname`/`device` path parameter names.
const DEVICE: &str = "box";
/// A second registration of the same device, for the operation that deletes one.
const DOOMED: &str = "doomed";

/// The schemathesis version `scripts/install-schemathesis` installs.
const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// Longest the schemathesis run may take before the test fails.
const SCHEMATHESIS_LIMIT: Duration = Duration::from_secs(300);

/// The keys, by scope, lowest first.
const KEYS: &[(Scope, &str)] = &[
    (Scope::Read, READ_KEY),
    (Scope::Write, WRITE_KEY),
    (Scope::Admin, ADMIN_KEY),
];

/// The sweep container's command: sleeps until SIGTERM, then exits at once.
const STOPS_ON_TERM: &str = "trap 'exit 0' TERM; while :; do sleep 1; done";

struct Bed {
    _docker: Docker,
    _device: Sshd,
    /// compose root, SWAG search root and import directory: nothing the server is asked to
    /// write may land outside the test's own directories.
    _dirs: tempfile::TempDir,
    server: TestServer,
}

/// dockerd with the busybox image and one running container (`web`), a device using it,
/// and a server with auth on (read, write and admin keys), rate limits off, the device
/// registered twice ([`DEVICE`], and [`DOOMED`] for the auth sweep's deletion).
async fn bed() -> Bed {
    let docker = Docker::start().expect("dockerd");
    docker.build_busybox_image(IMAGE).expect("image");
    // A process that ends on SIGTERM, like a service: `sleep` as PID 1 ignores it, so a
    // generated stop or restart of `web` (a name, or any prefix of its ID such as `0`) would
    // wait out its whole `timeout` grace before docker's SIGKILL.
    docker
        .run(&[
            "run",
            "-d",
            "--name",
            "web",
            IMAGE,
            "sh",
            "-c",
            STOPS_ON_TERM,
        ])
        .expect("container");
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    device.use_docker(&docker).expect("use_docker");
    let dirs = tempfile::tempdir().expect("dirs");
    for sub in ["compose", "swag", "import"] {
        std::fs::create_dir_all(dirs.path().join(sub)).expect("dir");
    }
    let (key, known) = (device.client_key_path(), device.known_hosts_path());
    let root = dirs.path().to_path_buf();
    let server = TestServer::start(&[], move |c| {
        c.ssh.identity_files = vec![key];
        c.ssh.known_hosts = known;
        c.ssh.connect_timeout_secs = 3;
        // Well under the sweep's 60 s request timeout: a generated `?wait=` at the maximum
        // on a job that runs on answers 202 in time instead of racing the client's limit.
        c.jobs.max_wait_secs = 20;
        c.rate_limit.enabled = false;
        c.auth.keys = KEYS
            .iter()
            .map(|(scope, key)| api_key(&format!("sweep-{}", scope.as_str()), key, *scope))
            .collect();
        let mut plugin = |name: &str, config: Value| {
            c.plugins.entries.entry(name.into()).or_default().config = config;
        };
        plugin(
            "compose",
            json!({"compose_root": root.join("compose").display().to_string()}),
        );
        plugin(
            "proxy",
            json!({"search_roots": [root.join("swag").display().to_string()]}),
        );
        plugin(
            "devices",
            json!({"import_dir": root.join("import").display().to_string()}),
        );
    })
    .await;
    for name in [DEVICE, DOOMED] {
        let (status, body) = server
            .send(
                server
                    .client
                    .post(server.url("/api/devices"))
                    .bearer_auth(ADMIN_KEY)
                    .json(&json!({
                        "hostname": name, "ip_address": "127.0.0.1", "ssh_port": device.port(),
                        "monitoring_enabled": false,
                    })),
            )
            .await;
        assert_eq!(status, 201, "registering {name}: {body}");
    }
    Bed {
        _docker: docker,
        _device: device,
        _dirs: dirs,
        server,
    }
}

/// One operation of the document.
struct Operation {
    method: reqwest::Method,
    template: String,
    operation_id: String,
    /// `None` for a public operation.
    scope: Option<Scope>,
    parameters: Vec<Value>,
    /// The request body's content type, when it takes one.
    body: Option<String>,
}

impl Operation {
    fn label(&self) -> String {
        format!("{} {} ({})", self.method, self.template, self.operation_id)
    }

    /// The path with every parameter filled with a valid-looking value: the registered
    /// device for `hostname`/`device` ([`DOOMED`] for the operation that deletes one), a
    /// UUID where the schema says so, `sweep` otherwise.
    fn path(&self) -> String {
        let mut path = self.template.clone();
        for p in self.parameters.iter().filter(|p| p["in"] == "path") {
            let name = p["name"].as_str().expect("parameter name");
            let value = match name {
                "hostname" | "device" if self.method == reqwest::Method::DELETE => DOOMED,
                "hostname" | "device" => DEVICE,
                _ if p["schema"]["format"] == "uuid" => "00000000-0000-4000-8000-000000000000",
                _ => "sweep",
            };
            path = path.replace(&format!("{{{name}}}"), value);
        }
        path
    }
}

fn scope_named(name: &str) -> Option<Scope> {
    match name {
        "read" => Some(Scope::Read),
        "write" => Some(Scope::Write),
        "admin" => Some(Scope::Admin),
        _ => None,
    }
}

/// Every operation of the document, with the scope it declares.
fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let method: reqwest::Method = method.to_uppercase().parse().expect("method");
            let public = op["security"] == json!([]);
            let declared = op["x-required-scope"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {template} declares no x-required-scope"));
            let scope = scope_named(declared);
            assert_eq!(
                public,
                scope.is_none(),
                "{method} {template}: x-required-scope `{declared}` vs security {}",
                op["security"]
            );
            out.push(Operation {
                method,
                template: template.clone(),
                operation_id: op["operationId"].as_str().unwrap_or_default().to_owned(),
                scope,
                parameters: op["parameters"].as_array().cloned().unwrap_or_default(),
                body: op["requestBody"]["content"]
                    .as_object()
                    .and_then(|c| c.keys().next().cloned()),
            });
        }
    }
    out
}

async fn document(server: &TestServer) -> Value {
    let (status, doc) = server.get("/api/openapi.json").await;
    assert_eq!(status, 200, "{doc}");
    doc
}

/// Sends `op` with `token` (or none): the status.
async fn call(
    client: &reqwest::Client,
    server: &TestServer,
    op: &Operation,
    token: Option<&str>,
) -> u16 {
    let mut request = client.request(op.method.clone(), server.url(&op.path()));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    request = match op.body.as_deref() {
        Some("application/json") => request.json(&json!({})),
        Some(other) => request
            .header(reqwest::header::CONTENT_TYPE, other)
            .body(Vec::new()),
        None => request,
    };
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", op.label()));
    response.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_enforces_the_scope_its_document_declares() {
    let bed = bed().await;
    let server = &bed.server;
    let doc = document(server).await;
    let mut ops = operations(&doc);
    // Deleting runs last, so nothing a later call needs is gone.
    ops.sort_by_key(|op| op.method == reqwest::Method::DELETE);
    assert!(ops.len() >= 60, "only {} operations documented", ops.len());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .expect("client");
    let mut problems = Vec::new();
    let mut counts = [0usize; 3];
    for op in &ops {
        let Some(needed) = op.scope else {
            let status = call(&client, server, op, None).await;
            if status == 401 || status == 403 {
                problems.push(format!(
                    "{}: public, yet {status} without a token",
                    op.label()
                ));
            }
            continue;
        };
        counts[needed as usize] += 1;
        for (what, token) in [
            ("no token", None),
            ("a wrong token", Some("not-a-key-0123456789")),
        ] {
            let status = call(&client, server, op, token).await;
            if status != 401 {
                problems.push(format!("{}: {status} with {what}, not 401", op.label()));
            }
        }
        for (scope, key) in KEYS.iter().filter(|(s, _)| *s < needed) {
            let status = call(&client, server, op, Some(key)).await;
            if status != 403 {
                problems.push(format!(
                    "{}: needs {}, yet a {} key got {status}, not 403",
                    op.label(),
                    needed.as_str(),
                    scope.as_str()
                ));
            }
        }
        let key = KEYS
            .iter()
            .find(|(s, _)| *s == needed)
            .map(|(_, k)| *k)
            .expect("a key of every scope");
        let status = call(&client, server, op, Some(key)).await;
        if status == 401 || status == 403 {
            problems.push(format!(
                "{}: a {} key (the scope it declares) got {status}",
                op.label(),
                needed.as_str()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} auth problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // The sweep met reads and writes (and admin routes where the document has them).
    println!("operations per scope (read, write, admin): {counts:?}");
    assert!(
        counts[0] > 0 && counts[1] > 0,
        "operations per scope (read, write, admin): {counts:?}"
    );
}

/// The `st` to run: `INFRA_SCHEMATHESIS`, or the venv `scripts/install-schemathesis` makes.
fn schemathesis() -> PathBuf {
    if let Some(st) = std::env::var_os("INFRA_SCHEMATHESIS") {
        return PathBuf::from(st);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/schemathesis-venv/bin/st")
}

/// Operations answering 400 to a request the schema cannot describe whole, by a rule
/// across fields or a text format JSON Schema has no keyword for: compose YAML that must parse as a compose mapping, a body
/// device that must equal the path's, a port range whose start must not pass its end, an
/// exec command that must come in the body or the query, a snapshot whose dataset and
/// short name together must fit ZFS's 255 characters, an incremental base that must not be
/// the snapshot sent, an ssh_config text that must parse.
const CROSS_FIELD_RULES: &[&str] = &[
    "compose.modify",
    "compose.deploy",
    "compose.modify_and_deploy",
    "compose.download_modified",
    "compose.scan_ports",
    "containers.exec_in_container",
    "zfs.create_snapshot",
    "zfs.send_snapshot",
    "devices.import_devices",
];

/// The schemathesis configuration:
/// - the testbed device in every `hostname`/`device` path parameter of the operations that
///   reach a host (the registry's own routes keep generated names, so the stateful phase
///   follows the devices it creates);
/// - gateway statuses (502/503/504: a remote host failed, cannot be reached, or ran out of
///   time; documented on every route that reaches one) are not server errors; 500 still is;
/// - 400 is an accepted answer to a schema-valid request only for [`CROSS_FIELD_RULES`],
///   422 only for device registration (an identity file must exist in an allowed directory);
/// - a job read after its cancel (`DELETE /api/jobs/{id}` keeps the job, `cancelled`) is not
///   a use after free.
fn schemathesis_config() -> String {
    let quoted = |ids: &[&str]| {
        ids.iter()
            .map(|id| format!("\"{id}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // The registry's own routes, and the send (whose negative cases mutate `hostname`, which a
    // fixed value would undo).
    let generated = quoted(&[
        "devices.get_device",
        "devices.update_device",
        "devices.delete_device",
        "devices.device_summary",
        "zfs.send_snapshot",
    ]);
    let cross_field = quoted(CROSS_FIELD_RULES);
    format!(
        r#"
[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "502", "503", "504"]

# `follow=true` streams `docker logs -f` until the client leaves: a run cannot end on it.
# The streamed answer is tested by the containers suite.
[[operations]]
include-operation-id = "containers.container_logs"
parameters = {{ "query.follow" = false }}

[[operations]]
include-path-regex = "\\{{(hostname|device)\\}}"
exclude-operation-id = [{generated}]
parameters = {{ "path.hostname" = "{DEVICE}", "path.device" = "{DEVICE}" }}

# `DELETE /api/jobs/{{id}}` cancels a job, which stays readable (`cancelled`) with its events:
# a read after it is no use after free.
[[operations]]
include-operation-id = "jobs_get"
checks.use_after_free.enabled = false

[[operations]]
include-operation-id = [{cross_field}]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]

# The stateful phase (links inferred from the typed answers) flags a scrub start whose pool
# name matches the path pattern and whose `stop` is valid as "schema-violating request
# accepted" while naming its own case "positive test case": every part of that request is
# valid (the job it starts fails on a pool that does not exist). A per-operation setting
# does not reach the stateful phase, so its negative-data check is off; the coverage and
# fuzzing phases check every operation's negative cases.
[phases.stateful.checks.negative_data_rejection]
enabled = false

# A device's `ssh_identity_file` must name a regular file of at most 64 KiB inside
# `ssh.identity_dirs` on the server (422 naming the field otherwise): a rule about the
# server's filesystem that no schema can state.
[[operations]]
include-operation-id = ["devices.create_device", "devices.update_device"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_over_every_operation() {
    let _zfs = infrastructor_tests::zfs_daemon_exclusive().await;
    let st = schemathesis();
    let version = std::process::Command::new(&st).arg("--version").output();
    let found = match &version {
        Ok(out) => String::from_utf8_lossy(&out.stdout).to_string(),
        Err(e) => e.to_string(),
    };
    assert!(
        found.contains(SCHEMATHESIS_VERSION),
        "schemathesis {SCHEMATHESIS_VERSION} is needed at {} (found: {}): run scripts/install-schemathesis \
         (scripts/test does), or set INFRA_SCHEMATHESIS to its `st`",
        st.display(),
        found.trim()
    );
    let bed = bed().await;
    let work = tempfile::tempdir().expect("work dir");
    let config = work.path().join("schemathesis.toml");
    std::fs::write(&config, schemathesis_config()).expect("config");
    let started = Instant::now();
    let mut command = tokio::process::Command::new(&st);
    command
        .current_dir(work.path())
        .arg("--config-file")
        .arg(&config)
        .args(["--no-color", "run"])
        .arg(bed.server.url("/api/openapi.json"))
        .args(["--checks", "all"])
        .args(["--max-examples", "8"])
        // One worker: Hypothesis describing its strategies parses source with `ast` (not
        // thread-safe in CPython 3.11: "AST constructor recursion depth mismatch").
        .args(["--workers", "1"])
        .args(["--request-timeout", "60"])
        // `--checks all` turns the response-time check on with a 10 s limit, which a valid
        // `?wait=` up to `jobs.max_wait_secs` (20 s here) may pass: the limit is the longest
        // a valid request may take on this bed, plus a margin.
        .args(["--max-response-time", "30"])
        .args(["--seed", "1"])
        .args(["--generation-database", "none"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {ADMIN_KEY}"))
        .kill_on_drop(true);
    let output = tokio::time::timeout(SCHEMATHESIS_LIMIT, command.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis ran longer than {SCHEMATHESIS_LIMIT:?}"))
        .expect("running schemathesis");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{report}");
    println!("schemathesis took {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        output.status.success(),
        "schemathesis failed ({}):\n{report}",
        output.status
    );
}
