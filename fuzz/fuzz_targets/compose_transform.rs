//! Compose-file transforms (the first byte picks the options), port entries, appdata paths
//! and the SWAG confs generated for services.
#![no_main]
use infrastructor_plugin_compose::swag;
use infrastructor_plugin_compose::transform::{self, ModifyOptions, PortSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (flags, rest) = data.split_first().map_or((0, data), |(f, r)| (*f, r));
    let text = String::from_utf8_lossy(rest);
    let opts = ModifyOptions {
        update_appdata_paths: flags & 1 != 0,
        appdata_base: "/mnt/appdata".into(),
        auto_assign_ports: flags & 2 != 0,
        port_range: (8000, 8100),
        used_ports: [8000, 8080].into_iter().collect(),
        update_networks: flags & 4 != 0,
        network: Some("proxy".into()),
        generate_proxy_configs: flags & 8 != 0,
        upstream_app: "device".into(),
        service_name: (flags & 16 != 0).then(|| "web".into()),
        ..ModifyOptions::default()
    };
    if let Ok(outcome) = transform::modify(&text, &opts) {
        assert!(transform::validate(&outcome.modified).is_ok());
    }
    let _ = transform::service_names(&text);
    for line in text.lines().take(16) {
        if let Some(spec) = PortSpec::parse(line) {
            assert_eq!(spec.render(), line);
        }
        if let Some(moved) = transform::appdata_host_path(line, "/mnt/appdata") {
            assert_eq!(transform::appdata_host_path(&moved, "/mnt/appdata"), None);
        }
        let _ = swag::subdomain_conf(line, line, 80, "http");
    }
});
