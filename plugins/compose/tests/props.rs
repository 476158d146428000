//! Property tests of the compose plugin's pure code: the compose-file transforms on
//! mangled real compose files (never a panic or a hang; an edited file is still a compose
//! file; a second run changes nothing), port entries (`render` and `parse` are inverse),
//! appdata paths, and the SWAG confs it generates (values that could break out of the conf
//! are refused; an accepted conf parses cleanly with the upstream it was given).

#[path = "../../parsers/tests/support/mod.rs"]
mod support;

use crate::swag;
use crate::transform::{self, ModifyOptions, PortSpan, PortSpec};
use infrastructor_parsers::{nginx_conf, swag_conf};
use proptest::prelude::*;
use support::{config, finishes, fixture_texts, inputs, noise};

fn options(network: bool, proxies: bool, ports: bool) -> ModifyOptions {
    ModifyOptions {
        update_appdata_paths: true,
        appdata_base: "/mnt/appdata".into(),
        auto_assign_ports: ports,
        port_range: (8000, 8999),
        used_ports: [8000, 8001, 8080].into_iter().collect(),
        update_networks: network,
        network: network.then(|| "proxy".to_string()),
        generate_proxy_configs: proxies,
        upstream_app: "device.lan".into(),
        ..ModifyOptions::default()
    }
}

fn span() -> impl Strategy<Value = PortSpan> {
    prop_oneof![
        any::<u16>().prop_map(PortSpan::single),
        (any::<u16>(), 0u16..100).prop_map(|(s, n)| PortSpan {
            start: s,
            end: s.saturating_add(n)
        }),
    ]
}

fn port_spec() -> impl Strategy<Value = PortSpec> {
    (
        proptest::option::of(prop::sample::select(
            &["127.0.0.1", "0.0.0.0", "[::1]", "[::]"][..],
        )),
        proptest::option::of(span()),
        span(),
        proptest::option::of(prop::sample::select(&["tcp", "udp", "sctp", "UDP"][..])),
    )
        .prop_map(|(ip, host, container, protocol)| PortSpec {
            host_ip: ip.map(str::to_string),
            host,
            container,
            protocol: protocol.map(str::to_string),
        })
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn transforms(text in inputs(fixture_texts(&["compose"])), network in any::<bool>(), proxies in any::<bool>(), ports in any::<bool>()) {
        let opts = options(network, proxies, ports);
        let (first, names) = finishes(&text, move |t| (transform::modify(&t, &opts), transform::service_names(&t)));
        if let Ok(outcome) = first {
            prop_assert!(names.is_ok());
            prop_assert!(transform::validate(&outcome.modified).is_ok(), "{:?}", transform::validate(&outcome.modified));
            if outcome.changes.is_empty() {
                prop_assert_eq!(&outcome.modified, &text);
            }
            // The appdata and network transforms are idempotent.
            let again = transform::modify(&outcome.modified, &options(network, false, false));
            let again = again.map(|o| o.changes);
            prop_assert!(again.as_ref().is_ok_and(|c| c.is_empty()), "{again:?}");
        }
    }

    #[test]
    fn port_entries_round_trip(spec in port_spec()) {
        let text = spec.render();
        let back = PortSpec::parse(&text);
        prop_assert_eq!(back, Some(spec), "{}", text);
    }

    #[test]
    fn port_entries_parse(text in prop_oneof![noise(), "[0-9.:\\[\\]-]{0,20}(/[a-zA-Z]{0,4})?"]) {
        if let Some(spec) = PortSpec::parse(&text) {
            prop_assert_eq!(spec.render(), text);
            prop_assert!(spec.container.start <= spec.container.end);
            let _ = spec.bindings();
        }
    }

    #[test]
    fn appdata_paths(host in prop_oneof![noise(), "(\\./|/|\\.\\./|~/)[a-z/]{0,8}appdata(/[a-z.]{0,6}){0,3}"], base in "/[a-z]{1,6}(/[a-z]{1,6})?/?") {
        if let Some(moved) = transform::appdata_host_path(&host, &base) {
            prop_assert!(moved.starts_with(base.trim_end_matches('/')), "{moved}");
            prop_assert_eq!(transform::appdata_host_path(&moved, &base), None);
        }
    }

    /// A generated conf: refused for values that are not a service name or host; when
    /// accepted, nginx reads it without a problem and SWAG's reading finds the upstream.
    #[test]
    fn subdomain_confs(
        service in prop_oneof![noise(), "[a-z][a-z0-9_-]{0,12}"],
        app in prop_oneof![noise(), "[a-z]{1,8}(\\.[a-z]{1,5}){0,2}", Just("192.168.1.9".to_string()), Just("::1".to_string())],
        port in any::<u16>(),
        proto in prop_oneof![Just("http".to_string()), Just("https".to_string()), noise()],
    ) {
        if let Ok(conf) = swag::subdomain_conf(&service, &app, port, &proto) {
            prop_assert!(swag::is_service_name(&service) && swag::is_upstream_app(&app));
            prop_assert!(nginx_conf::parse_nginx_conf(&conf).problems.is_empty());
            let read = swag_conf::parse_conf(&swag::subdomain_filename(&service), &conf);
            prop_assert!(read.problems.is_empty(), "{:?}", read.problems);
            prop_assert_eq!(read.upstream_port, Some(port.to_string()));
            prop_assert_eq!(read.upstream_proto.as_deref(), Some(proto.as_str()));
        }
    }
}
