//! The docs page in a real browser: `/docs/` in headless Chromium renders one operation block
//! for every operation of `/api/openapi.json` (every built-in plugin's routes and the host's),
//! and "Try it out" → "Execute" on `GET /api/status` shows the server's 200 answer.

use std::collections::BTreeSet;
use std::time::Duration;

use infrastructor_tests::TestServer;
use infrastructor_tests::testbed::Browser;

/// (METHOD, path) of every operation in the served OpenAPI document.
async fn documented_operations(server: &TestServer) -> BTreeSet<(String, String)> {
    let (status, spec) = server.get("/api/openapi.json").await;
    assert_eq!(status, 200, "{spec}");
    let mut operations = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    operations
}

/// (METHOD, path) of every operation block Swagger UI rendered.
async fn rendered_operations(browser: &Browser) -> BTreeSet<(String, String)> {
    let blocks = browser
        .script(
            "return Array.from(document.querySelectorAll('.opblock')).map(b => [\
               (b.querySelector('.opblock-summary-method') || {}).textContent || '',\
               (b.querySelector('.opblock-summary-path') || {dataset: {}}).dataset.path || ''])",
            vec![],
        )
        .await
        .expect("operation blocks");
    blocks
        .as_array()
        .expect("a list")
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap_or_default().trim().to_uppercase(),
                pair[1].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_operation_renders_and_try_it_out_on_status_shows_200() {
    let server = TestServer::start(&[], |_| {}).await;
    let documented = documented_operations(&server).await;
    assert!(
        documented.contains(&("GET".into(), "/api/status".into())),
        "{documented:?}"
    );
    assert!(
        documented
            .iter()
            .any(|(_, p)| p.starts_with("/api/containers")),
        "the built-in plugins' routes are documented: {documented:?}"
    );
    let browser = Browser::start().await.expect("headless Chromium");
    browser
        .goto(&server.url("/docs/"))
        .await
        .expect("docs page loads");
    browser
        .wait_for(".opblock", Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("{e}; driver log: {}", browser.log_tail()));
    // Swagger UI renders tag by tag; wait until every documented operation has its block.
    let mut rendered = BTreeSet::new();
    for _ in 0..100 {
        rendered = rendered_operations(&browser).await;
        if documented.is_subset(&rendered) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let missing: Vec<_> = documented.difference(&rendered).collect();
    assert!(missing.is_empty(), "not rendered: {missing:?}");
    let extra: Vec<_> = rendered.difference(&documented).collect();
    assert!(extra.is_empty(), "rendered but not documented: {extra:?}");

    // Try it out on GET /api/status.
    let summary = browser
        .wait_for(
            ".opblock-get .opblock-summary-path[data-path='/api/status']",
            Duration::from_secs(5),
        )
        .await
        .expect("the status operation");
    browser.click(&summary).await.expect("expand status");
    let open = ".opblock.is-open";
    let try_it = browser
        .wait_for(&format!("{open} .try-out__btn"), Duration::from_secs(10))
        .await
        .expect("Try it out button");
    browser.click(&try_it).await.expect("Try it out");
    let execute = browser
        .wait_for(&format!("{open} .execute"), Duration::from_secs(10))
        .await
        .expect("Execute button");
    browser.click(&execute).await.expect("Execute");
    let status_cell = browser
        .wait_for(
            &format!("{open} .live-responses-table .response .response-col_status"),
            Duration::from_secs(20),
        )
        .await
        .expect("the live response");
    let shown = browser.text(&status_cell).await.expect("status text");
    assert_eq!(
        shown.split_whitespace().next(),
        Some("200"),
        "status shown: {shown:?}"
    );
    // The body shown is the server's own answer (its message, as the API reports it).
    let (_, status) = server.get("/api/status").await;
    let message = status["message"].as_str().expect("message").to_string();
    let body = browser
        .wait_for(
            &format!("{open} .live-responses-table .response .response-col_description"),
            Duration::from_secs(5),
        )
        .await
        .expect("the live response body");
    let body = browser.text(&body).await.expect("body text");
    assert!(
        body.contains(&message),
        "the shown body {body:?} lacks the message {message:?}"
    );
}
