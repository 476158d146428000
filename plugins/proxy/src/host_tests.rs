//! Handler tests through the SDK's test host: SWAG detected by the canned probe, samples
//! listed from the repository's real SWAG samples (fixtures), the server's validation.

use infrastructor_sdk::prelude::*;
use infrastructor_sdk::testing::{Canned, HostCall, MockHost, fixture, fixture_dir};

use crate::samples::parse_samples;

/// What the `samples` script prints for the first `n` fixture samples: `stat` lines, then
/// each file's `## Version` header line.
fn samples_output(n: usize) -> String {
    let files: Vec<String> = fixture_dir("swag")
        .into_iter()
        .filter(|f| f.ends_with(".conf.sample"))
        .take(n)
        .collect();
    let mut out = String::new();
    for f in &files {
        let size = fixture(&format!("swag/{f}")).len();
        out.push_str(&format!("{f}|{size}|1700000000|regular file\n"));
    }
    out.push_str("#versions\n");
    for f in &files {
        let text = fixture(&format!("swag/{f}"));
        if let Some(line) = text.lines().find(|l| l.starts_with("## Version")) {
            out.push_str(&format!("{f}:{line}\n"));
        }
    }
    out
}

#[test]
fn samples_detects_swag_then_lists_the_samples_directory() {
    let listing = samples_output(6);
    let host = MockHost::new()
        .script_any_args("detect", Canned::stdout("#containers\n#roots\n/opt/swag\n"))
        .script_any_args("samples", Canned::stdout(listing.clone()))
        .install();
    let answer = crate::__infrastructor_plugin_app()
        .call(&Request::new("list_samples", Method::Get, "/samples").with_query("device", "swag1"))
        .expect("served");
    let body: Value = answer.json().expect("json");
    let dir = body["samples_directory"].as_str().expect("dir").to_owned();
    assert!(dir.starts_with("/opt/swag/"), "{dir}");
    let expected = parse_samples(&dir, &listing);
    assert!(!expected.is_empty(), "the fixtures give samples");
    assert_eq!(body["samples"], json!(expected));
    assert_eq!(body["total_samples"], expected.len());
    assert_eq!(body["device"], "swag1");
    let scripts: Vec<(String, Vec<String>)> = host
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            HostCall::Script { name, args, .. } => Some((name, args)),
            _ => None,
        })
        .collect();
    assert_eq!(scripts.len(), 2, "{scripts:?}");
    assert_eq!(scripts[0].0, "detect");
    assert_eq!(scripts[1], ("samples".to_owned(), vec![dir]));
}

#[test]
fn an_unknown_template_type_never_reaches_the_device() {
    let host = MockHost::new().install();
    let refused = crate::__infrastructor_plugin_app()
        .call(
            &Request::new("get_template", Method::Get, "/templates/other")
                .with_path_param("template_type", "other"),
        )
        .expect_err("allowed values");
    assert_eq!(
        (refused.status, refused.field()),
        (422, Some("template_type"))
    );
    assert!(!refused.reached_handler);
    assert!(host.calls().is_empty(), "{:?}", host.calls());
}
