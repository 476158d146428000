//! The test host's own tests.

use serde_json::{Value, json};

use super::{Canned, HostCall, MockHost};
use crate::prelude::*;
use crate::storage;

fn app() -> App {
    App::new("t", "0.1.0")
        .capability("exec:uname *")
        .capability("storage")
        .route(
            Route::get("/hosts/{device}", "show")
                .summary("Shows")
                .param(Param::path("device").pattern("[a-z0-9]+"))
                .param(Param::query("n").integer().min(1.0).max(5.0).default("2")),
            |req: &Request| {
                let device = req.path("device")?;
                let out = ssh::exec(device, &["uname", "-r"], None, Duration::from_secs(5))?
                    .check("uname")?;
                let n: i64 = req.query_as("n")?;
                Ok(Json(json!({"release": out.stdout_str().trim(), "n": n})))
            },
        )
        .route(
            Route::post("/notes", "note")
                .summary("Stores a note")
                .body_schema(json!({
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "string"}, "size": {"type": "integer"}}
                })),
            |req: &Request| {
                let body: Value = req.body()?;
                let id = body["id"].as_str().unwrap_or_default();
                storage::put_json("notes", id, &body)?;
                Ok(Json(json!({"stored_at": storage::unix_now_secs()})))
            },
        )
}

fn show(device: &str) -> Request {
    Request::new("show", Method::Get, &format!("/hosts/{device}")).with_path_param("device", device)
}

#[test]
fn a_handler_runs_canned_commands_with_defaults_applied() {
    let release = "6.1.0-18-amd64\n";
    let host = MockHost::new()
        .exec_on("web1", &["uname", "-r"], Canned::stdout(release))
        .install();
    let answer = app().call(&show("web1")).expect("served");
    let body: Value = answer.json().expect("json");
    assert_eq!(body["release"], release.trim());
    assert_eq!(body["n"], 2, "the declared default reaches the handler");
    assert_eq!(
        host.calls(),
        [HostCall::Exec {
            target: "web1".into(),
            argv: vec!["uname".into(), "-r".into()]
        }]
    );
}

#[test]
fn refused_parameters_never_reach_the_handler() {
    let host = MockHost::new()
        .exec(&["uname", "-r"], Canned::stdout("x"))
        .install();
    let app = app();
    for (request, field, location) in [
        (show("web1").with_query("n", "99"), "n", "query parameter"),
        (show("web1").with_query("n", "two"), "n", "query parameter"),
        (show("web-1"), "device", "path parameter"),
        (
            Request::new("show", Method::Get, "/hosts/"),
            "device",
            "path parameter",
        ),
        (
            show("web1").with_query("n", "1").with_query("n", "2"),
            "n",
            "query parameter",
        ),
    ] {
        let refused = app.call(&request).expect_err("refused");
        assert_eq!(refused.status, 422, "{refused}");
        assert_eq!(refused.code, "VALIDATION_ERROR");
        assert!(!refused.reached_handler);
        let error = &refused.envelope()["error"];
        assert_eq!(error["details"]["field"], field);
        assert_eq!(error["details"]["location"], location);
        assert_eq!(error["method"], "GET");
        assert!(
            error["path"]
                .as_str()
                .expect("path")
                .starts_with("/api/t/hosts/")
        );
        assert!(
            error["message"]
                .as_str()
                .expect("message")
                .starts_with(location)
        );
    }
    assert!(host.calls().is_empty(), "{:?}", host.calls());
}

#[test]
fn handler_and_host_errors_come_back_in_the_envelope() {
    let host = MockHost::new()
        .exec(&["uname", "-r"], Canned::exit(1, "", "uname: broken\n"))
        .install();
    let app = app();
    let failed = app.call(&show("web1")).expect_err("upstream");
    assert_eq!(
        (failed.status, failed.code.as_str()),
        (502, "UPSTREAM_ERROR")
    );
    assert!(failed.reached_handler);
    drop(host);
    let _host = MockHost::new().install();
    let unmatched = app.call(&show("web2")).expect_err("nothing canned");
    assert_eq!(unmatched.status, 500);
    assert!(unmatched.message.contains("uname"), "{unmatched}");
    let unknown = app
        .call(&Request::new("nope", Method::Get, "/"))
        .expect_err("no route");
    assert_eq!(unknown.status, 404);
    let wrong_method = app
        .call(&Request::new("show", Method::Post, "/hosts/a").with_path_param("device", "a"))
        .expect_err("405");
    assert_eq!(wrong_method.status, 405);
}

#[test]
fn bodies_are_checked_and_storage_and_clock_are_mocked() {
    let host = MockHost::new().clock(1_234).install();
    let app = app();
    let post = |body: &str| Request::new("note", Method::Post, "/notes").with_body(body);
    let missing = app.call(&post("")).expect_err("id is required");
    assert_eq!((missing.status, missing.field()), (422, Some("id")));
    let unknown = app.call(&post(r#"{"id":"a","x":1}"#)).expect_err("closed");
    assert_eq!(unknown.field(), Some("x"));
    let broken = app.call(&post("{")).expect_err("not JSON");
    assert_eq!(broken.field(), Some("body"));
    // Types inside the body are checked by the server's own JSON Schema validation.
    let wrong_type = app
        .call(&post(r#"{"id":"a","size":"big"}"#))
        .expect_err("type");
    assert_eq!((wrong_type.status, wrong_type.field()), (422, Some("size")));
    assert!(!wrong_type.reached_handler);
    let ok = app.call(&post(r#"{"id":"a","size":8.0}"#)).expect("stored");
    assert_eq!(
        ok.json::<Value>().expect("json"),
        json!({"stored_at": 1_234})
    );
    assert_eq!(
        host.stored("notes", "a"),
        Some(json!({"id": "a", "size": 8}))
    );
    host.set_clock(99);
    assert_eq!(storage::unix_now_secs(), 99);
}

#[test]
fn storage_registry_config_collector_jobs_and_logs() {
    let host = MockHost::new()
        .device("web1", "server")
        .device("nas", "storage")
        .config(&json!({"port": 7}))
        .collected("uptime", json!({"secs": 5}))
        .snapshot("uptime", "web1", &json!({"secs": 4}))
        .cancelled(true)
        .install();
    for (id, kind) in [("a", "x"), ("b", "y"), ("c", "x")] {
        storage::put_json("c", id, &json!({"kind": kind})).expect("put");
    }
    let page = storage::Query::new("c")
        .eq("kind", "x")
        .fetch::<Value>()
        .expect("query");
    assert_eq!(page.total, 2);
    assert!(storage::delete("c", "a").expect("delete"));
    assert_eq!(storage::Query::new("c").count().expect("count"), 2);
    let snaps = storage::snapshots::<Value>("uptime", Some("web1"), 5).expect("snapshots");
    assert_eq!(snaps.len(), 1);

    let device = registry::get("nas").expect("get").expect("present");
    assert_eq!(device.device_type, "storage");
    let filter = registry::DeviceFilter {
        device_type: Some("server".into()),
        ..Default::default()
    };
    assert_eq!(registry::list(&filter).expect("list").total, 1);
    assert!(registry::delete("web1").expect("delete"));
    assert_eq!(registry::get("web1").expect("get"), None);

    assert_eq!(config::value().expect("config"), json!({"port": 7}));
    let got = collector::collect(collector::CollectRequest::new("uptime", "web1", "p"))
        .expect("collected");
    assert_eq!(got.data, json!({"secs": 5}));
    let missing = collector::collect(collector::CollectRequest::new("other", "web1", "p"));
    assert_eq!(missing.expect_err("not canned").status(), 404);

    assert!(jobs::is_cancelled());
    let job = jobs::enqueue("work", &json!({"n": 1})).expect("queued");
    assert!(!job.is_empty());
    log::info("hello", &[("k", "v")]);
    let logs = host.logs();
    assert_eq!(logs[0].message, "hello");
    assert_eq!(logs[0].fields, [("k".to_owned(), "v".to_owned())]);
    assert!(host.calls().contains(&HostCall::Enqueue {
        operation_id: "work".into(),
        body: r#"{"n":1}"#.into()
    }));
}

#[test]
#[should_panic(expected = "no mock host installed")]
fn a_host_call_without_a_mock_panics_with_directions() {
    let _ = ssh::exec("web1", &["true"], None, Duration::from_secs(1));
}

#[test]
fn guards_nest_and_restore() {
    let outer = MockHost::new().config(&json!({"a": 1})).install();
    {
        let _inner = MockHost::new().config(&json!({"a": 2})).install();
        assert_eq!(config::value().expect("inner"), json!({"a": 2}));
    }
    assert_eq!(config::value().expect("outer"), json!({"a": 1}));
    assert_eq!(outer.calls(), [HostCall::Config]);
}
