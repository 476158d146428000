//! The auth matrix and rate limits over real HTTP.

use infrastructor::config::{ApiKeyConfig, Scope};
use infrastructor_tests::TestServer;
use serde_json::json;

const READ: &str = "read-key-0123456789";
const WRITE: &str = "write-key-0123456789";

fn keys(c: &mut infrastructor::Config) {
    c.auth.keys = vec![
        ApiKeyConfig {
            name: "reader".into(),
            key: Some(READ.into()),
            key_sha256: None,
            scope: Scope::Read,
        },
        ApiKeyConfig {
            name: "writer".into(),
            key: None,
            key_sha256: Some(
                // sha256("write-key-0123456789")
                hex_sha256(WRITE),
            ),
            scope: Scope::Write,
        },
    ];
}

fn hex_sha256(s: &str) -> String {
    use std::fmt::Write;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(s.as_bytes());
    digest.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[tokio::test]
async fn auth_matrix() {
    let s = TestServer::start(&["hello"], keys).await;
    let greet = s.url("/api/hello/greet/ann");
    let item = s.url("/api/hello/items");
    let body = json!({"name": "w"});

    let unauth = |r: reqwest::Response| {
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
    };
    unauth(s.client.get(&greet).send().await.expect("none"));
    unauth(
        s.client
            .get(&greet)
            .bearer_auth("short")
            .send()
            .await
            .expect("short"),
    );
    unauth(
        s.client
            .get(&greet)
            .bearer_auth("wrong-key-0123456789")
            .send()
            .await
            .expect("wrong"),
    );
    unauth(
        s.client
            .get(&greet)
            .header("Authorization", format!("Basic {READ}"))
            .send()
            .await
            .expect("basic"),
    );

    let (status, _) = s.send(s.client.get(&greet).bearer_auth(READ)).await;
    assert_eq!(status, 200, "read key on GET");
    let (status, b) = s
        .send(s.client.post(&item).bearer_auth(READ).json(&body))
        .await;
    assert_eq!(status, 403, "read key on POST: {b}");
    assert_eq!(b["error"]["code"], "FORBIDDEN");
    let (status, _) = s
        .send(s.client.post(&item).bearer_auth(WRITE).json(&body))
        .await;
    assert_eq!(status, 201, "write key (stored as sha256) on POST");

    for public in ["/api/status", "/api/openapi.json", "/docs/"] {
        let r = s.client.get(s.url(public)).send().await.expect("public");
        assert_eq!(r.status(), 200, "{public} is public");
    }
    assert_eq!(
        s.client
            .get(s.url("/api/plugins"))
            .send()
            .await
            .expect("p")
            .status(),
        401
    );
    s.stop().await;
}

#[tokio::test]
async fn global_rate_limit_answers_429_with_retry_after() {
    let s = TestServer::start(&["hello"], |c| c.rate_limit.per_minute = 5).await;
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let r = s
            .client
            .get(s.url("/api/hello/ping"))
            .send()
            .await
            .expect("ping");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-ratelimit-limit"], "5");
        remaining.push(
            r.headers()["x-ratelimit-remaining"]
                .to_str()
                .expect("h")
                .to_string(),
        );
        assert!(r.headers().contains_key("x-ratelimit-reset"));
    }
    assert_eq!(
        remaining,
        ["4", "3", "2", "1", "0"],
        "real remaining counts"
    );
    let r = s
        .client
        .get(s.url("/api/hello/ping"))
        .send()
        .await
        .expect("ping");
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("h")
        .parse()
        .expect("secs");
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "RATE_LIMITED");
    s.stop().await;
}

#[tokio::test]
async fn per_route_quotas_from_manifest_and_common_routes() {
    let s = TestServer::start(&["hello"], |_| {}).await;
    for i in 0..2 {
        let r = s
            .client
            .get(s.url("/api/hello/limited"))
            .send()
            .await
            .expect("l");
        assert_eq!(r.status(), 200, "request {i}");
        assert_eq!(
            r.headers()["x-ratelimit-limit"],
            "2",
            "the route's own quota is reported"
        );
    }
    let r = s
        .client
        .get(s.url("/api/hello/limited"))
        .send()
        .await
        .expect("l");
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        s.get("/api/hello/ping").await.0,
        200,
        "other routes unaffected"
    );

    let r = s
        .client
        .get(s.url("/api/system-info"))
        .send()
        .await
        .expect("info");
    assert_eq!(r.headers()["x-ratelimit-limit"], "30");
    let r = s
        .client
        .get(s.url("/api/status"))
        .send()
        .await
        .expect("status");
    assert_eq!(r.headers()["x-ratelimit-limit"], "60");
    s.stop().await;
}
