//! Handler tests through the SDK's test host: canned `ss` and `docker ps` output (the
//! repository's fixtures), a test device in the registry, the server's body checks.

use infrastructor_parsers::{docker_ps, ss};
use infrastructor_sdk::prelude::*;
use infrastructor_sdk::testing::{Canned, HostCall, MockHost, fixture};

const SS: &str = "system/ss-tulpen_ubuntu-18.04.out";
const PS: &str = "docker/docker-ps_format-json_docs.jsonl";

fn scan(body: &str) -> Request {
    Request::new("scan_ports", Method::Post, "/scan-ports").with_body(body)
}

#[test]
fn scan_ports_counts_listeners_and_published_container_ports() {
    let ss_text = fixture(SS);
    let ps_text = fixture(PS);
    let mut expected: Vec<u16> = ss::parse_ss(&ss_text)
        .expect("ss fixture")
        .iter()
        .filter(|s| s.state == "LISTEN" || s.protocol == "udp")
        .filter_map(|s| s.local_port)
        .collect();
    for c in docker_ps::parse_ps(&ps_text).expect("ps fixture") {
        for p in &c.ports {
            if let Some(first) = p.host_port {
                expected.extend(first..=p.host_port_end.unwrap_or(first));
            }
        }
    }
    assert!(!expected.is_empty(), "the fixtures list ports");
    let host = MockHost::new()
        .device("web1", "server")
        .script("listeners", &[], Canned::stdout(format!("ss\n{ss_text}")))
        .exec(crate::scan::DOCKER_PS, Canned::stdout(ps_text))
        .install();
    let answer = crate::__infrastructor_plugin_app()
        .call(&scan(
            r#"{"device": "web1", "port_range_start": 1, "port_range_end": 1024}"#,
        ))
        .expect("served");
    let body: Value = answer.json().expect("json");
    let used: Vec<u16> = serde_json::from_value(body["used_ports"].clone()).expect("ports");
    for port in &expected {
        assert!(used.contains(port), "port {port} missing from {used:?}");
    }
    let available: Vec<u16> =
        serde_json::from_value(body["available_ports"].clone()).expect("ports");
    assert!(
        available
            .iter()
            .all(|p| !used.contains(p) && (1..=1024).contains(p))
    );
    assert_eq!(body["total_scanned"], 1024);
    let docker_ps_argv: Vec<String> = crate::scan::DOCKER_PS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(host.ran(), [docker_ps_argv]);
    assert!(host.calls().contains(&HostCall::Script {
        target: "web1".into(),
        name: "listeners".into(),
        args: Vec::new()
    }));
}

#[test]
fn a_body_the_schema_refuses_never_reaches_the_device() {
    let host = MockHost::new().device("web1", "server").install();
    let app = crate::__infrastructor_plugin_app();
    let missing = app.call(&scan("{}")).expect_err("device is required");
    assert_eq!((missing.status, missing.field()), (422, Some("device")));
    let unknown = app
        .call(&scan(r#"{"device": "web1", "ports": [1]}"#))
        .expect_err("closed schema");
    assert_eq!((unknown.status, unknown.field()), (422, Some("ports")));
    assert!(!missing.reached_handler && !unknown.reached_handler);
    assert!(host.calls().is_empty(), "{:?}", host.calls());
}

#[test]
fn an_unregistered_device_is_the_handlers_404() {
    let host = MockHost::new().install();
    let refused = crate::__infrastructor_plugin_app()
        .call(&scan(r#"{"device": "ghost"}"#))
        .expect_err("not registered");
    assert_eq!((refused.status, refused.code.as_str()), (404, "NOT_FOUND"));
    assert!(refused.reached_handler);
    assert!(host.ran().is_empty());
}
