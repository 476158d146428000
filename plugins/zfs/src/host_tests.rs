//! Handler tests through the SDK's test host: canned zfs-fuse output (the repository's
//! fixtures), the server's validation.

use infrastructor_sdk::prelude::*;
use infrastructor_sdk::testing::{Canned, HostCall, MockHost, fixture};

const STATUS: &str = "zfs/zfs-fuse_zpool-status-v_scrub-in-progress.txt";
const PROPERTIES: &str = "zfs/zfs-fuse_zpool-get-all.txt";

fn pool_status(hostname: &str, pool: &str) -> Request {
    Request::new(
        "pool_status",
        Method::Get,
        &format!("/{hostname}/pools/{pool}/status"),
    )
    .with_path_param("hostname", hostname)
    .with_path_param("pool_name", pool)
}

/// The value after `key:` on the fixture's first line that has it.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .map(str::trim)
        .expect("field in fixture")
}

#[test]
fn pool_status_detects_the_tools_then_runs_zpool_status_and_get() {
    let status = fixture(STATUS);
    let pool = field(&status, "pool:").to_owned();
    let status_argv = ["zpool", "status", "-v", pool.as_str()];
    let get_argv = ["zpool", "get", "all", pool.as_str()];
    let host = MockHost::new()
        .script("detect", &[], Canned::stdout("legacy\n"))
        .exec(&status_argv, Canned::stdout(status.clone()))
        .exec(&get_argv, Canned::stdout(fixture(PROPERTIES)))
        .install();
    let answer = crate::__infrastructor_plugin_app()
        .call(&pool_status("nas", &pool))
        .expect("served");
    let body: Value = answer.json().expect("json");
    assert_eq!(body["pool_name"], pool.as_str());
    assert_eq!(body["status_output"], status.as_str());
    let state = serde_json::to_string(&body["status"]).expect("status");
    assert!(state.contains(field(&status, "state:")), "{state}");
    assert_eq!(
        host.ran(),
        [
            status_argv.map(str::to_owned).to_vec(),
            get_argv.map(str::to_owned).to_vec()
        ]
    );
    let detected = |calls: &[HostCall]| {
        calls
            .iter()
            .any(|c| matches!(c, HostCall::Script { name, .. } if name == "detect"))
    };
    assert!(detected(&host.calls()));
    // The detected tools are remembered: a second call detects nothing.
    host.clear_calls();
    crate::__infrastructor_plugin_app()
        .call(&pool_status("nas", &pool))
        .expect("served again");
    assert!(!detected(&host.calls()));
}

#[test]
fn a_bad_pool_name_never_reaches_zpool() {
    let host = MockHost::new().install();
    let refused = crate::__infrastructor_plugin_app()
        .call(&pool_status("nas", "bad pool;rm"))
        .expect_err("pattern");
    assert_eq!((refused.status, refused.field()), (422, Some("pool_name")));
    assert!(!refused.reached_handler);
    assert!(host.calls().is_empty(), "{:?}", host.calls());
}
