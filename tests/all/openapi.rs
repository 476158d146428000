//! The generated OpenAPI document is valid OpenAPI 3.1 (parsed by the `oas3` crate) and
//! declares every path parameter.

use infrastructor_tests::TestServer;

#[tokio::test]
async fn openapi_document_is_valid_3_1() {
    let s = TestServer::start(&["hello", "trap"], |_| {}).await;
    let text = s
        .client
        .get(s.url("/api/openapi.json"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    let spec: oas3::Spec = oas3::from_json(&text).expect("parses as OpenAPI 3.1");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let paths = spec.paths.as_ref().expect("paths");
    assert!(paths.contains_key("/api/status"));
    assert!(paths.contains_key("/api/hello/greet/{name}"));
    assert!(paths.contains_key("/api/trap/boom"));
    let mut checked = 0;
    for (path, item) in paths {
        let template: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (_method, op) in item.methods() {
            assert!(op.operation_id.is_some(), "{path} has an operation id");
            let declared: Vec<String> = op
                .parameters
                .iter()
                .filter_map(|p| match p {
                    oas3::spec::ObjectOrReference::Object(p)
                        if p.location == oas3::spec::ParameterIn::Path =>
                    {
                        Some(p.name.clone())
                    }
                    _ => None,
                })
                .collect();
            for name in &template {
                assert!(
                    declared.iter().any(|d| d == name),
                    "{path}: `{name}` declared"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "checked {checked} operations");
    let raw: serde_json::Value = serde_json::from_str(&text).expect("json");
    let greet = &raw["paths"]["/api/hello/greet/{name}"]["get"];
    let times = greet["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "times"))
        .expect("times");
    assert_eq!(times["schema"]["maximum"], 5.0);
    assert_eq!(times["schema"]["default"], 1);
    assert!(raw["paths"]["/api/hello/items"]["post"]["requestBody"].is_object());
    let docs = s.client.get(s.url("/docs/")).send().await.expect("docs");
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.expect("html");
    assert!(html.contains("swagger"), "docs page renders swagger-ui");
    s.stop().await;
}

/// Every operation of the built-in plugins and the host says the scope it needs and the
/// errors it answers: 401 unless public, 403 on plugin routes, 422 where something is
/// validated, the remote statuses on routes that reach a host; the job events are
/// `text/event-stream` with one schema per event; the container logs may stream too.
#[tokio::test]
async fn every_operation_documents_its_scope_and_errors() {
    let s = TestServer::start(&[], |_| {}).await;
    let (status, doc) = s.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            operations += 1;
            let label = format!("{method} {path}");
            let scope = op["x-required-scope"].as_str().unwrap_or_default();
            let public = op["security"] == serde_json::json!([]);
            assert!(
                if public {
                    scope == "none"
                } else {
                    ["read", "write", "admin"].contains(&scope)
                },
                "{label}: x-required-scope `{scope}`"
            );
            let responses = op["responses"].as_object().expect("responses");
            assert_eq!(responses.contains_key("401"), !public, "{label}: 401");
            for status in ["429", "500"] {
                assert!(responses.contains_key(status), "{label}: {status}");
            }
            if op["x-plugin"].is_object() {
                assert!(responses.contains_key("403"), "{label}: 403");
            }
            if !op["parameters"].as_array().is_none_or(Vec::is_empty)
                || op["requestBody"].is_object()
            {
                assert!(responses.contains_key("422"), "{label}: 422");
            }
            if op["requestBody"].is_object() {
                assert!(responses.contains_key("413"), "{label}: 413");
            }
            if path.contains("{hostname}") && op["x-plugin"]["name"] != "devices" {
                for status in ["502", "503", "504"] {
                    assert!(responses.contains_key(status), "{label}: {status}");
                }
            }
        }
    }
    assert!(operations >= 70, "{operations} operations");
    let events = &doc["paths"]["/api/jobs/{id}/events"]["get"]["responses"]["200"]["content"];
    assert_eq!(
        events["text/event-stream"]["schema"]["properties"]["event"]["enum"],
        serde_json::json!(["state", "progress", "log"])
    );
    let logs = &doc["paths"]["/api/containers/{hostname}/{container}/logs"]["get"]["responses"]["200"]
        ["content"];
    assert!(logs["text/event-stream"].is_object(), "{logs}");
    assert!(logs["application/json"].is_object(), "{logs}");
    let device = &doc["paths"]["/api/devices/{hostname}"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert_eq!(device["type"], "object", "{device}");
    assert!(device["properties"]["hostname"].is_object(), "{device}");
    s.stop().await;
}
