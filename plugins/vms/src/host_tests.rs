//! Handler tests through the SDK's test host: canned virsh output (the repository's
//! fixtures), the plugin's configuration, the server's validation.

use infrastructor_sdk::prelude::*;
use infrastructor_sdk::testing::{Canned, MockHost, fixture};

use crate::parse::parse_list;

const LIST: &str = "vms/virsh-list_and_nodeinfo_libvirt-test.txt";

#[test]
fn list_runs_virsh_list_with_the_configured_uri() {
    let fx = fixture(LIST);
    let list = fx.split("\n\n").next().expect("list part").to_owned();
    let expected = parse_list(&list).expect("fixture parses");
    let uri = "qemu+ssh://kvm/system";
    let argv = ["virsh", "-c", uri, "list", "--all"];
    let host = MockHost::new()
        .config(&json!({"uri": uri}))
        .exec_on("kvm1", &argv, Canned::stdout(list))
        .install();
    let answer = crate::__infrastructor_plugin_app()
        .call(&Request::new("list_vms", Method::Get, "/kvm1").with_path_param("hostname", "kvm1"))
        .expect("served");
    let body: Value = answer.json().expect("json");
    assert_eq!(body["uri"], uri);
    assert_eq!(body["vms"], json!(expected));
    assert_eq!(body["total"], expected.len());
    let running = expected.iter().filter(|v| v.state == "running").count();
    assert_eq!(body["running"], running);
    assert_eq!(host.ran(), [argv.map(str::to_owned).to_vec()]);
}

#[test]
fn a_failing_virsh_is_an_error_envelope() {
    let argv = ["virsh", "-c", "qemu:///system", "list", "--all"];
    let stderr = "error: failed to connect to the hypervisor\n";
    let _host = MockHost::new()
        .exec(&argv, Canned::exit(1, "", stderr))
        .install();
    let failed = crate::__infrastructor_plugin_app()
        .call(&Request::new("list_vms", Method::Get, "/kvm1").with_path_param("hostname", "kvm1"))
        .expect_err("virsh failed");
    assert!(failed.reached_handler);
    assert!(failed.status >= 400, "{failed}");
    assert_eq!(failed.envelope()["error"]["code"], failed.code.as_str());
}

#[test]
fn a_bad_vm_name_never_reaches_virsh() {
    let host = MockHost::new().install();
    let refused = crate::__infrastructor_plugin_app()
        .call(
            &Request::new("vm_info", Method::Get, "/kvm1/x")
                .with_path_param("hostname", "kvm1")
                .with_path_param("vm_name", "--help me"),
        )
        .expect_err("pattern");
    assert_eq!((refused.status, refused.field()), (422, Some("vm_name")));
    assert!(!refused.reached_handler);
    assert!(host.calls().is_empty(), "{:?}", host.calls());
}
