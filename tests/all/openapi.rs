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
