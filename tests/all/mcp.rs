//! The MCP endpoint (`/mcp`) driven by a real MCP client (the official SDK's, `rmcp`, over
//! Streamable HTTP) against a server with a testbed device running docker: initialize,
//! list tools, call a read tool whose answer comes from the device, a validation error as a
//! tool error, a write tool absent from a read key's list and refused when called anyway,
//! `get_job`, and `notifications/tools/list_changed` when the tool list's generation moves.

use std::sync::Arc;
use std::time::Duration;

use infrastructor::config::Scope;
use infrastructor_tests::api_key;
use infrastructor_tests::testbed::{Docker, Sshd, SshdOptions};
use infrastructor_tests::{TestServer, remote_server};
use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject, Tool};
use rmcp::service::{NotificationContext, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Value, json};

const IMAGE: &str = "tb-busybox:mcp";
const READ: &str = "mcp-read-key-0123456789";
const WRITE: &str = "mcp-write-key-0123456789";
const ADMIN: &str = "mcp-admin-key-0123456789";

/// A client handler that counts `notifications/tools/list_changed`.
#[derive(Clone, Default)]
struct Watcher {
    changed: Arc<tokio::sync::Notify>,
}

impl ClientHandler for Watcher {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.notify_one();
    }
}

async fn connect(s: &TestServer, key: &str) -> (RunningService<RoleClient, Watcher>, Watcher) {
    try_connect(s, Some(key)).await.expect("MCP initialize")
}

async fn try_connect(
    s: &TestServer,
    key: Option<&str>,
) -> Result<(RunningService<RoleClient, Watcher>, Watcher), String> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(s.url("/mcp"));
    if let Some(key) = key {
        config = config.auth_header(key);
    }
    let transport = StreamableHttpClientTransport::from_config(config);
    let watcher = Watcher::default();
    let client = watcher
        .clone()
        .serve(transport)
        .await
        .map_err(|e| e.to_string())?;
    Ok((client, watcher))
}

async fn call(
    client: &RunningService<RoleClient, Watcher>,
    tool: &str,
    args: Value,
) -> CallToolResult {
    let args: JsonObject = match args {
        Value::Object(o) => o,
        other => panic!("arguments must be an object: {other}"),
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("tools/call {tool}: {e}"))
}

fn tool<'a>(tools: &'a [Tool], name: &str) -> &'a Tool {
    tools
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tool `{name}` in {:?}", names(tools)))
}

/// `{plugin}_{operation_id}` of every mounted route a key of `scope` may call, and
/// `get_job`, sorted.
fn expected(s: &TestServer, scope: Scope) -> Vec<String> {
    let mut names: Vec<String> = s
        .app_state()
        .plugins()
        .loaded
        .iter()
        .flat_map(|p| {
            p.manifest
                .routes
                .iter()
                .filter(|r| !r.internal && r.scope <= scope)
                .map(|r| format!("{}_{}", p.manifest.name, r.operation_id))
        })
        .chain(["get_job".to_owned()])
        .collect();
    names.sort();
    names
}

fn names(tools: &[Tool]) -> Vec<String> {
    tools.iter().map(|t| t.name.to_string()).collect()
}

/// The tool error's structured content (status and envelope).
fn tool_error(result: &CallToolResult) -> &Value {
    assert_eq!(result.is_error, Some(true), "a tool error: {result:?}");
    result
        .structured_content
        .as_ref()
        .expect("structured error")
}

#[tokio::test]
async fn an_mcp_client_lists_calls_and_is_refused_like_the_http_routes() {
    let docker = Docker::start().expect("dockerd");
    docker.build_busybox_image(IMAGE).expect("image");
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    device.use_docker(&docker).expect("use_docker");
    docker
        .run(&["run", "-d", "--name", "mcp-probe", IMAGE, "sleep", "300"])
        .expect("container");
    let (key, known) = (device.client_key_path(), device.known_hosts_path());
    let s = TestServer::start(&[], move |c| {
        c.ssh.identity_files = vec![key];
        c.ssh.known_hosts = known;
        c.rate_limit.enabled = false;
        c.auth.keys = vec![
            api_key("reader", READ, Scope::Read),
            api_key("writer", WRITE, Scope::Write),
            api_key("admin", ADMIN, Scope::Admin),
        ];
    })
    .await;
    let (status, body) = s
        .send(
            s.client
                .post(s.url("/api/devices"))
                .bearer_auth(WRITE)
                .json(&json!({
                    "hostname": "box", "ip_address": "127.0.0.1", "ssh_port": device.port(),
                    "monitoring_enabled": false,
                })),
        )
        .await;
    assert_eq!(status, 201, "registering box: {body}");

    // Without a key, /mcp is refused like any API route.
    let anonymous = s
        .client
        .post(s.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}))
        .send()
        .await
        .expect("anonymous");
    assert_eq!(anonymous.status(), 401);

    // Initialize: the server names itself and announces list_changed.
    let (writer, watcher) = connect(&s, WRITE).await;
    let info = writer.peer_info().expect("server info");
    let server = info.server_info.as_ref().expect("server identity");
    assert_eq!(server.name, "infrastructor");
    let tools_cap = info.capabilities.tools.clone().expect("tools capability");
    assert_eq!(tools_cap.list_changed, Some(true));

    // The writer sees one tool per mounted route plus get_job.
    let tools = writer.list_all_tools().await.expect("tools/list");
    let mut listed = names(&tools);
    listed.sort();
    assert_eq!(listed, expected(&s, Scope::Write));
    println!("MCP tools generated (write key): {}", tools.len());
    let list = tool(&tools, "containers_list_containers");
    let schema = Value::Object((*list.input_schema).clone());
    assert_eq!(schema["properties"]["hostname"]["type"], "string");
    assert!(
        schema["required"]
            .as_array()
            .expect("required")
            .contains(&json!("hostname")),
        "{schema}"
    );
    assert_eq!(schema["properties"]["limit"]["type"], "integer");
    assert!(
        schema["properties"]["status"]["enum"].is_array(),
        "{schema}"
    );
    let read_only = list.annotations.as_ref().expect("annotations");
    assert_eq!(read_only.read_only_hint, Some(true));
    assert_eq!(read_only.destructive_hint, Some(false));
    let stop = tool(&tools, "containers_stop_container");
    let hints = stop.annotations.as_ref().expect("annotations");
    assert_eq!(hints.destructive_hint, Some(true));
    assert_eq!(hints.read_only_hint, Some(false));
    let create = tool(&tools, "devices_create_device");
    let body_schema = &create.input_schema["properties"]["body"];
    assert_eq!(body_schema["type"], "object", "{body_schema}");

    // A read tool answers what the device's docker holds.
    let listed = call(
        &writer,
        "containers_list_containers",
        json!({"hostname": "box"}),
    )
    .await;
    assert_eq!(listed.is_error, Some(false), "{listed:?}");
    let answer = listed.structured_content.as_ref().expect("structured");
    let mut from_tool: Vec<String> = answer["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    from_tool.sort();
    let mut from_engine: Vec<String> = docker
        .run(&["ps", "-a", "--format", "{{.Names}}"])
        .expect("docker ps")
        .lines()
        .map(str::to_owned)
        .collect();
    from_engine.sort();
    assert!(from_engine.contains(&"mcp-probe".to_owned()));
    assert_eq!(from_tool, from_engine);
    let (status, http) = s
        .send(s.client.get(s.url("/api/containers/box")).bearer_auth(READ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        http["containers"].as_array().map(Vec::len),
        Some(from_tool.len())
    );

    // A bad parameter is the route's own 422, as a tool error.
    let bad = call(
        &writer,
        "containers_list_containers",
        json!({"hostname": "box", "limit": 0}),
    )
    .await;
    let error = tool_error(&bad);
    assert_eq!(error["status"], 422, "{error}");
    let (status, http) = s
        .send(
            s.client
                .get(s.url("/api/containers/box?limit=0"))
                .bearer_auth(WRITE),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(error["error"]["code"], http["error"]["code"]);
    assert_eq!(error["error"]["details"], http["error"]["details"]);
    // An argument the tool does not declare never reaches the route.
    let unknown = call(
        &writer,
        "containers_list_containers",
        json!({"hostname": "box", "colour": "blue"}),
    )
    .await;
    assert_eq!(tool_error(&unknown)["error"]["details"]["field"], "colour");

    // get_job reads /api/jobs/{id} the same way: an unknown job is its 404.
    let missing = call(
        &writer,
        "get_job",
        json!({"id": "00000000-0000-4000-8000-000000000000"}),
    )
    .await;
    assert_eq!(tool_error(&missing)["status"], 404);

    // The reader lists only what it may call, and is refused a write tool anyway.
    let (reader, _) = connect(&s, READ).await;
    let readable = reader.list_all_tools().await.expect("reader tools/list");
    println!("MCP tools generated (read key): {}", readable.len());
    let mut readable_names = names(&readable);
    readable_names.sort();
    assert_eq!(readable_names, expected(&s, Scope::Read));
    tool(&readable, "containers_list_containers");
    assert!(
        !names(&readable).contains(&"containers_stop_container".to_owned()),
        "{:?}",
        names(&readable)
    );
    let refused = call(
        &reader,
        "containers_stop_container",
        json!({"hostname": "box", "container": "mcp-probe"}),
    )
    .await;
    let error = tool_error(&refused);
    assert_eq!(error["status"], 403, "{error}");
    assert_eq!(error["error"]["code"], "FORBIDDEN");
    let state = docker
        .run(&["inspect", "-f", "{{.State.Status}}", "mcp-probe"])
        .expect("inspect");
    assert_eq!(state.trim(), "running", "the refused stop did nothing");

    // A plugin added by a reload: open sessions are told, and its tools are listed and
    // callable in the same session.
    assert!(
        !names(&writer.list_all_tools().await.expect("tools/list"))
            .contains(&"hello_version".to_string())
    );
    std::fs::copy(
        infrastructor_tests::test_plugin_path("hello"),
        s.config.plugins.dir.join("hello.wasm"),
    )
    .expect("copy hello");
    let (status, report) = s
        .send(
            s.client
                .post(s.url("/api/plugins/reload"))
                .bearer_auth(ADMIN),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    tokio::time::timeout(Duration::from_secs(10), watcher.changed.notified())
        .await
        .expect("notifications/tools/list_changed within 10 s of the reload");
    let tools = writer
        .list_all_tools()
        .await
        .expect("tools/list after the reload");
    assert!(names(&tools).contains(&"hello_version".to_string()));
    let answer = call(&writer, "hello_version", json!({})).await;
    assert_eq!(answer.is_error, Some(false), "{answer:?}");

    reader.cancel().await.expect("close reader");
    writer.cancel().await.expect("close writer");
    s.stop().await;
}

#[tokio::test]
async fn a_long_running_tool_returns_its_job_and_sessions_are_bounded() {
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    let s = remote_server(&device, |c| c.mcp.max_sessions = 1).await;
    let (client, _) = try_connect(&s, None).await.expect("dev-mode initialize");

    // A second session while one is open is refused; the open one keeps working.
    let refused = try_connect(&s, None)
        .await
        .err()
        .expect("a second session beyond mcp.max_sessions is refused");
    println!("second session: {refused}");
    assert!(refused.contains("503"), "{refused}");
    let tools = client.list_all_tools().await.expect("tools/list");

    // A body schema's $defs move to the tool schema's root, where its references resolve.
    let pipe = tool(&tools, "remote_job_pipe");
    let schema = Value::Object((*pipe.input_schema).clone());
    assert_eq!(
        schema["properties"]["body"]["properties"]["source"]["$ref"],
        "#/$defs/end"
    );
    assert!(schema["$defs"]["end"].is_object(), "{schema}");
    assert!(schema["properties"]["body"].get("$defs").is_none());

    // The job comes back at once; get_job follows it to its end.
    let started = call(
        &client,
        "remote_job_steps",
        json!({"body": {"host": device.host(), "steps": 2, "sleep": "0.1"}}),
    )
    .await;
    assert_eq!(started.is_error, Some(false), "{started:?}");
    let job = started.structured_content.clone().expect("the job");
    assert_eq!(job["operation_id"], "job_steps");
    let id = job["id"].as_str().expect("job id").to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let finished = loop {
        let read = call(&client, "get_job", json!({"id": id})).await;
        let job = read.structured_content.clone().expect("job");
        assert_eq!(job["id"], id.as_str());
        if job["state"] == "succeeded" || job["state"] == "failed" {
            break job;
        }
        assert!(std::time::Instant::now() < deadline, "job still {job}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(finished["state"], "succeeded", "{finished}");
    let (status, http) = s.get(&format!("/api/jobs/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(http["state"], finished["state"]);

    // Once the session is closed, a new one may open.
    client.cancel().await.expect("close");
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(c) = try_connect(&s, None).await {
            reopened = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (again, _) = reopened.expect("a session after the first closed");
    again.cancel().await.expect("close");
    s.stop().await;
}
