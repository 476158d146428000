//! Plugin routes mounted under /api, validated by the host, answered by the plugin; the
//! error envelope; request ids; disabling a plugin; storage and config imports.

use infrastructor_tests::TestServer;
use serde_json::json;

#[tokio::test]
async fn routes_are_mounted_and_params_validated() {
    let s = TestServer::start(&["hello"], |_| {}).await;

    let (status, body) = s
        .get("/api/hello/greet/ann?times=3&loud=yes&ratio=0.5")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "ann");
    assert_eq!(body["times"], 3);
    assert_eq!(
        body["loud"], true,
        "boolean canonicalised by the host: {body}"
    );
    assert_eq!(body["style"], "plain", "default applied: {body}");

    let (status, body) = s.get("/api/hello/greet/ann").await;
    assert_eq!(status, 200);
    assert_eq!(body["times"], 1, "default applied");

    for (query, field) in [
        ("times=9", "times"),
        ("times=0", "times"),
        ("times=two", "times"),
        ("loud=perhaps", "loud"),
        ("style=bold", "style"),
        ("ratio=1.5", "ratio"),
        ("times=1&times=2", "times"),
    ] {
        let (status, body) = s.get(&format!("/api/hello/greet/ann?{query}")).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
        assert_eq!(body["error"]["details"]["field"], field, "{query}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(field)
        );
    }
    let (status, body) = s.get("/api/hello/greet/Ann%3B%20rm").await;
    assert_eq!(status, 422, "pattern on path param: {body}");
    assert_eq!(body["error"]["details"]["field"], "name");
    assert_eq!(body["error"]["details"]["location"], "path parameter");
    s.stop().await;
}

#[tokio::test]
async fn bodies_are_validated_against_the_schema() {
    let s = TestServer::start(&["hello"], |c| c.server.body_limit_bytes = 4096).await;
    let post = |body: serde_json::Value| s.client.post(s.url("/api/hello/items")).json(&body);

    let (status, body) = s.send(post(json!({"name": "widget", "count": 2}))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["name"], "widget", "{body}");

    for (payload, field) in [
        (json!({"count": 2}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "w", "count": -1}), "count"),
        (json!({"name": "w", "colour": "red"}), "colour"),
        (json!({"name": 5}), "name"),
    ] {
        let (status, body) = s.send(post(payload.clone())).await;
        assert_eq!(status, 422, "{payload}: {body}");
        assert_eq!(
            body["error"]["details"]["field"], field,
            "{payload}: {body}"
        );
    }
    let (status, body) = s
        .send(s.client.post(s.url("/api/hello/items")).body("{not json"))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"]["field"], "body");

    let big = json!({"name": "x".repeat(10_000)});
    let (status, body) = s.send(post(big)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE");
    s.stop().await;
}

#[tokio::test]
async fn envelope_request_id_and_process_time() {
    let s = TestServer::start(&["hello"], |_| {}).await;
    let response = s
        .client
        .get(s.url("/api/hello/fail/not_found"))
        .header("X-Request-ID", "req-abc-123")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-request-id"], "req-abc-123");
    assert!(response.headers().contains_key("x-process-time"));
    let body: serde_json::Value = response.json().await.expect("json");
    let error = &body["error"];
    assert_eq!(error["code"], "NOT_FOUND");
    assert_eq!(error["request_id"], "req-abc-123");
    assert_eq!(error["path"], "/api/hello/fail/not_found");
    assert_eq!(error["method"], "GET");
    assert!(
        error["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    for (kind, status) in [
        ("bad_request", 400),
        ("conflict", 409),
        ("unavailable", 503),
        ("timeout", 504),
        ("forbidden", 403),
        ("internal", 500),
        ("upstream", 502),
    ] {
        let (got, body) = s.get(&format!("/api/hello/fail/{kind}")).await;
        assert_eq!(got, status, "{kind}: {body}");
        assert!(body["error"]["message"].is_string());
    }

    let response = s
        .client
        .get(s.url("/api/nowhere"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 404);
    let generated = response.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    assert_eq!(generated.len(), 36, "a uuid is generated: {generated}");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["request_id"], generated.as_str());

    let (status, body) = s.send(s.client.delete(s.url("/api/hello/ping"))).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
    s.stop().await;
}

#[tokio::test]
async fn disabled_plugins_vanish_from_routes_and_openapi() {
    let s = TestServer::start(&["hello", "trap"], |c| {
        c.plugins.entries.entry("trap".into()).or_default().enabled = false;
    })
    .await;
    let (status, _) = s.get("/api/trap/ok").await;
    assert_eq!(status, 404);
    let (_, doc) = s.get("/api/openapi.json").await;
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.keys().any(|p| p.starts_with("/api/hello/")));
    assert!(
        !paths.keys().any(|p| p.starts_with("/api/trap")),
        "trap gone from OpenAPI"
    );
    let (_, list) = s.get("/api/plugins").await;
    let trap = list["plugins"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "trap"))
        .expect("trap listed");
    assert_eq!(trap["enabled"], false);
    s.stop().await;
}

#[tokio::test]
async fn mounts_can_be_moved_by_config() {
    let s = TestServer::start(&["hello"], |c| {
        c.plugins.entries.entry("hello".into()).or_default().mount = Some("/greeter".into());
    })
    .await;
    assert_eq!(s.get("/api/greeter/ping").await.0, 200);
    assert_eq!(s.get("/api/hello/ping").await.0, 404);
    s.stop().await;
}

#[tokio::test]
async fn config_storage_and_registry_imports() {
    let s = TestServer::start(&["hello"], |_| {}).await;
    let (status, body) = s.get("/api/hello/config").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["answer"], 42,
        "plugins.hello.config reaches the plugin: {body}"
    );

    assert_eq!(s.get("/api/hello/docs/one").await.0, 404);
    let (status, body) = s
        .send(
            s.client
                .put(s.url("/api/hello/docs/one"))
                .json(&json!({"colour": "blue"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "one", "{body}");
    assert_eq!(body["body"], json!({"colour": "blue"}), "{body}");
    let (status, body) = s.get("/api/hello/docs/one").await;
    assert_eq!(status, 200);
    assert_eq!(body["colour"], "blue", "{body}");
    let (status, _) = s.send(s.client.delete(s.url("/api/hello/docs/one"))).await;
    assert_eq!(status, 204);
    assert_eq!(s.get("/api/hello/docs/one").await.0, 404);
    let (status, _) = s.send(s.client.delete(s.url("/api/hello/docs/one"))).await;
    assert_eq!(status, 404, "deleting a missing document");

    let (status, body) = s.get("/api/hello/devices/nosuchhost").await;
    assert_eq!(status, 404, "{body}");
    s.stop().await;
}

#[tokio::test]
async fn common_routes() {
    let s = TestServer::start(&["hello"], |_| {}).await;
    let (status, body) = s.get("/api/status").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "operational");
    let (status, info) = s.get("/api/system-info").await;
    assert_eq!(status, 200);
    assert!(info["uptime_seconds"].as_f64().is_some());
    assert_ne!(
        info["startup_time"], info["current_time"],
        "real start-up time"
    );
    assert!(
        info["plugins"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p["name"] == "hello")),
        "{info}"
    );
    assert_eq!(
        s.get("/api/test-error").await.0,
        404,
        "test-error off without debug"
    );
    let (status, plugins) = s.get("/api/plugins").await;
    assert_eq!(status, 200);
    let hello = plugins["plugins"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "hello"))
        .expect("hello listed");
    assert_eq!(hello["name"], "hello");
    assert_eq!(hello["mount"], "/api/hello");
    assert!(hello["routes"].as_array().is_some_and(|r| r.len() >= 8));
    assert_eq!(
        hello["capabilities"]["declared"],
        json!(["storage", "registry-read"])
    );
    assert_eq!(
        hello["capabilities"]["effective"],
        json!(["storage", "registry-read"])
    );
    assert_eq!(hello["limits"]["memory_limit_mb"], 64);
    assert!(hello["load_time_ms"].as_f64().is_some());
    s.stop().await;

    let debug = TestServer::start(&[], |c| c.server.debug = true).await;
    let (status, body) = debug.get("/api/test-error").await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["code"], "TEST_ERROR");
    debug.stop().await;
}

#[tokio::test]
async fn restarting_on_the_same_database_reapplies_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = infrastructor_tests::test_config(dir.path(), &["hello"]);
    let db = config.database.path.clone();
    let first = TestServer::start_with(tempfile::tempdir().expect("t"), config.clone()).await;
    first.stop().await;
    let store = infrastructor_store::Store::open(&db).expect("open");
    let before = store.applied_migrations().expect("applied");
    drop(store);
    let second = TestServer::start_with(tempfile::tempdir().expect("t"), config).await;
    second.stop().await;
    let store = infrastructor_store::Store::open(&db).expect("open");
    let after = store.applied_migrations().expect("applied");
    assert!(!before.is_empty());
    assert_eq!(
        before
            .iter()
            .map(|m| (m.version, m.applied_at.clone()))
            .collect::<Vec<_>>(),
        after
            .iter()
            .map(|m| (m.version, m.applied_at.clone()))
            .collect::<Vec<_>>(),
        "a second start applies no migration"
    );
}

#[tokio::test]
async fn cors_follows_config() {
    let s = TestServer::start(&["hello"], |c| {
        c.server.cors_origins = vec!["https://dash.example".into()];
    })
    .await;
    let preflight = s
        .client
        .request(reqwest::Method::OPTIONS, s.url("/api/hello/items"))
        .header("Origin", "https://dash.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type, authorization",
        )
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://dash.example"
    );
    let other = s
        .client
        .get(s.url("/api/hello/ping"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .expect("get");
    assert!(
        !other.headers().contains_key("access-control-allow-origin"),
        "unlisted origin gets no CORS grant"
    );
    s.stop().await;

    let closed = TestServer::start(&["hello"], |_| {}).await;
    let r = closed
        .client
        .get(closed.url("/api/hello/ping"))
        .header("Origin", "https://dash.example")
        .send()
        .await
        .expect("get");
    assert!(
        !r.headers().contains_key("access-control-allow-origin"),
        "no CORS without config"
    );
    closed.stop().await;
}
