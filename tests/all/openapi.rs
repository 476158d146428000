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

/// Whether `schema` says what an answer is: properties, a choice of shapes, or a type other
/// than a bare object (a `{}` or `{"type": "object"}` says only "some JSON").
fn is_typed(schema: &serde_json::Value) -> bool {
    let non_empty = |key: &str| {
        schema[key].as_array().is_some_and(|a| !a.is_empty())
            || schema[key].as_object().is_some_and(|o| !o.is_empty())
    };
    if ["properties", "anyOf", "oneOf", "allOf", "patternProperties"]
        .iter()
        .any(|k| non_empty(k))
    {
        return true;
    }
    match &schema["type"] {
        serde_json::Value::String(t) => t != "object" || schema["additionalProperties"].is_object(),
        serde_json::Value::Array(ts) => ts.iter().any(|t| t != "object" && t != "null"),
        _ => false,
    }
}

/// Every mounted plugin operation documents what it answers: each 2xx answer's content (the
/// JSON answer, text of a named media type, the job of a long-running route) has a schema
/// naming its shape, never the bare object that says only "some JSON". The event stream a
/// route may answer instead is documented as text with its events described.
#[tokio::test]
async fn every_plugin_operation_documents_a_typed_success_answer() {
    let s = TestServer::start(&[], |_| {}).await;
    let (status, doc) = s.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    let mut typed = 0;
    let mut untyped = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            if !op["x-plugin"].is_object() {
                continue;
            }
            let label = format!("{method} {path} ({})", op["operationId"]);
            let responses = op["responses"].as_object().expect("responses");
            let successes: Vec<(&String, &serde_json::Value)> = responses
                .iter()
                .filter(|(k, _)| k.starts_with('2'))
                .collect();
            assert!(!successes.is_empty(), "{label}: no 2xx answer");
            let mut all_typed = true;
            for (code, response) in successes {
                let content = response["content"].as_object();
                let Some(content) = content.filter(|c| !c.is_empty()) else {
                    untyped.push(format!("{label} {code}: no content"));
                    all_typed = false;
                    continue;
                };
                for (media, body) in content {
                    if media != "text/event-stream" && !is_typed(&body["schema"]) {
                        untyped.push(format!("{label} {code} {media}: {}", body["schema"]));
                        all_typed = false;
                    }
                }
            }
            if all_typed {
                typed += 1;
            }
        }
    }
    println!("plugin operations with a typed success answer: {typed}");
    assert!(
        untyped.is_empty(),
        "{} untyped success answers ({typed} operations typed):\n{}",
        untyped.len(),
        untyped.join("\n")
    );
    // Every built-in plugin's routes: devices, containers, compose, proxy, zfs, vms.
    assert!(typed >= 70, "{typed} typed plugin operations");
    let yaml = &doc["paths"]["/api/compose/download-modified/{device}"]["get"]["responses"]["200"]
        ["content"];
    assert!(yaml["application/yaml"].is_object(), "{yaml}");
    let stats = &doc["paths"]["/api/containers/{hostname}/stats"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    assert!(
        stats["properties"]["stats"]["items"]["properties"]["cpu_percent"].is_object(),
        "{stats}"
    );
    s.stop().await;
}
