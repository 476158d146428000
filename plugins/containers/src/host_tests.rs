//! Handler tests through the SDK's test host: canned docker output (the repository's
//! fixtures), the server's validation, the plugin's own parsers.

use infrastructor_sdk::prelude::*;
use infrastructor_sdk::testing::{Canned, MockHost, fixture};

const INSPECT: &str = "docker/docker-inspect_container_flask.json";

fn inspect(hostname: &str, container: &str) -> Request {
    Request::new(
        "inspect_container",
        Method::Get,
        &format!("/{hostname}/{container}"),
    )
    .with_path_param("hostname", hostname)
    .with_path_param("container", container)
}

#[test]
fn inspect_runs_docker_inspect_and_answers_the_parsed_container() {
    let text = fixture(INSPECT);
    let expected: Value = serde_json::from_str(&text).expect("fixture is JSON");
    let name = expected[0]["Name"]
        .as_str()
        .expect("Name")
        .trim_start_matches('/');
    let argv = ["docker", "inspect", "--type", "container", "--", name];
    let host = MockHost::new()
        .exec_on("web1", &argv, Canned::stdout(text.clone()))
        .parsers(crate::__infrastructor_plugin_app())
        .install();
    let answer = crate::__infrastructor_plugin_app()
        .call(&inspect("web1", name))
        .expect("served");
    let body: Value = answer.json().expect("json");
    assert_eq!(body["container_name"], name);
    assert_eq!(body["hostname"], "web1");
    assert_eq!(body["container"]["Id"], expected[0]["Id"]);
    assert_eq!(host.ran(), [argv.map(str::to_owned).to_vec()]);
}

#[test]
fn an_invalid_hostname_or_timeout_never_reaches_docker() {
    let host = MockHost::new()
        .parsers(crate::__infrastructor_plugin_app())
        .install();
    let app = crate::__infrastructor_plugin_app();
    let bad_host = app
        .call(&inspect("no such host", "flask"))
        .expect_err("pattern");
    assert_eq!((bad_host.status, bad_host.field()), (422, Some("hostname")));
    let too_long = app
        .call(&inspect("web1", "flask").with_query("timeout", "100000"))
        .expect_err("bounds");
    assert_eq!((too_long.status, too_long.field()), (422, Some("timeout")));
    assert!(!bad_host.reached_handler && !too_long.reached_handler);
    assert!(host.calls().is_empty(), "{:?}", host.calls());
}
