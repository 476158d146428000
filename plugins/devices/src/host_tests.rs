//! Handler tests through the SDK's test host: canned `ss` output (the repository's
//! fixtures), the server's validation.

use infrastructor_parsers::ss::parse_ss;
use infrastructor_sdk::prelude::*;
use infrastructor_sdk::testing::{Canned, HostCall, MockHost, fixture};

const SS: &str = "system/ss-tulpen_ubuntu-18.04.out";

fn ports(hostname: &str) -> Request {
    Request::new("device_ports", Method::Get, &format!("/{hostname}/ports"))
        .with_path_param("hostname", hostname)
}

#[test]
fn ports_runs_the_ports_script_and_answers_the_parsed_sockets() {
    let ss = fixture(SS);
    let expected = parse_ss(&ss).expect("fixture parses");
    let host = MockHost::new()
        .script(
            crate::ports::SCRIPT,
            &[],
            Canned::stdout(format!("ss\n{ss}")),
        )
        .install();
    let answer = crate::__infrastructor_plugin_app()
        .call(&ports("web1"))
        .expect("served");
    let body: Value = answer.json().expect("json");
    assert_eq!(body["source"], "ss");
    assert_eq!(body["port_count"], expected.len());
    assert_eq!(body["ports"], json!(expected));
    assert_eq!(
        host.calls(),
        [HostCall::Script {
            target: "web1".into(),
            name: crate::ports::SCRIPT.into(),
            args: Vec::new()
        }]
    );
}

#[test]
fn an_out_of_range_timeout_never_reaches_the_device() {
    let host = MockHost::new().install();
    for timeout in ["0", "100000", "soon"] {
        let refused = crate::__infrastructor_plugin_app()
            .call(&ports("web1").with_query("timeout", timeout))
            .expect_err("bounds");
        assert_eq!((refused.status, refused.field()), (422, Some("timeout")));
        assert!(!refused.reached_handler);
    }
    assert!(host.calls().is_empty(), "{:?}", host.calls());
}
