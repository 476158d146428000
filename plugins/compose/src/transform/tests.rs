//! Tests of [`super::modify`] on whole files: each transform rule and edge case, and every
//! compose file in `tests/fixtures/compose`.

use std::collections::{BTreeMap, BTreeSet};

use infrastructor_sdk::testing::{fixture, fixture_dir};
use serde_norway::Value;

use super::yaml::resolve_merges;
use super::*;

/// Every transform on, ports 8000–8099, network `proxy`.
fn all_on() -> ModifyOptions {
    ModifyOptions {
        service_name: None,
        update_appdata_paths: true,
        appdata_base: "/mnt/appdata".to_string(),
        auto_assign_ports: true,
        port_range: (8000, 8099),
        custom_port_mappings: BTreeMap::new(),
        used_ports: BTreeSet::new(),
        update_networks: true,
        network: Some("proxy".to_string()),
        generate_proxy_configs: true,
        upstream_app: "docker-host".to_string(),
    }
}

fn only_ports(range: (u16, u16), used: &[u16]) -> ModifyOptions {
    ModifyOptions {
        auto_assign_ports: true,
        port_range: range,
        used_ports: used.iter().copied().collect(),
        ..ModifyOptions::default()
    }
}

fn only_volumes() -> ModifyOptions {
    ModifyOptions {
        update_appdata_paths: true,
        appdata_base: "/mnt/appdata".to_string(),
        ..ModifyOptions::default()
    }
}

fn only_networks(network: &str) -> ModifyOptions {
    ModifyOptions {
        update_networks: true,
        network: Some(network.to_string()),
        ..ModifyOptions::default()
    }
}

fn run(text: &str, opts: &ModifyOptions) -> ModifyOutcome {
    modify(text, opts).unwrap_or_else(|e| panic!("modify: {e}\n{text}"))
}

/// The plain tree of `text` with merges resolved.
fn plain(text: &str) -> Value {
    let mut value: Value = serde_norway::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    resolve_merges(&mut value);
    value
}

/// The host ports (with protocol) each service publishes in `text`, short syntax only.
fn host_ports(text: &str) -> BTreeMap<String, Vec<(u16, String)>> {
    let value = plain(text);
    let mut out = BTreeMap::new();
    if let Some(Value::Mapping(services)) = value.get("services") {
        for (name, service) in services {
            let mut ports = Vec::new();
            if let Some(Value::Sequence(items)) = service.get("ports") {
                for item in items {
                    if let Some(spec) = item.as_str().and_then(PortSpec::parse) {
                        for b in spec.bindings() {
                            ports.push((b.host_port, b.protocol));
                        }
                    }
                }
            }
            out.insert(yaml::key_text(name), ports);
        }
    }
    out
}

/// Asserts that running `opts` again on an output changes nothing.
fn assert_idempotent(outcome: &ModifyOutcome, opts: &ModifyOptions) {
    let again = run(&outcome.modified, opts);
    assert_eq!(
        again.modified, outcome.modified,
        "second run changed the file"
    );
    assert!(again.changes.is_empty(), "{:?}", again.changes);
}

// ---------------------------------------------------------------- parsing and errors

#[test]
fn invalid_yaml_reports_line_and_column() {
    let e = validate("services:\n  web:\n    image: nginx\n   ports: [\n").expect_err("invalid");
    assert_eq!(e.line, 4, "{e}");
    assert!(e.column >= 1);
    let e = validate("services:\n  web:\n    image: \"unterminated\n").expect_err("invalid");
    assert!(e.line >= 3, "{e}");
    let e = validate("a: 1\na: 2\n").expect_err("duplicate key");
    assert!(e.message.contains("duplicate"), "{e}");
    let e = modify("services: [web]\n", &all_on()).expect_err("services list");
    assert_eq!((e.line, e.column), (1, 11));
    let e = validate("just text\n").expect_err("scalar top level");
    assert_eq!((e.line, e.column), (1, 1));
    assert!(e.to_string().starts_with("line 1, column 1: "));
    assert!(validate("").is_err());
    assert!(validate("name: x\n").is_ok());
    assert!(validate("services:\n").is_ok());
}

#[test]
fn service_names_in_file_order() {
    let text = "x-base: &base\n  image: x\nservices:\n  web:\n    <<: *base\n  db:\n    image: pg\n  api: {image: y}\n";
    assert_eq!(service_names(text).expect("names"), ["web", "db", "api"]);
    assert_eq!(
        service_names("name: x\n").expect("names"),
        Vec::<String>::new()
    );
    assert!(service_names("services: 3\n").is_err());
}

#[test]
fn unchanged_input_comes_back_byte_for_byte() {
    let text = "# top\nservices:\n  web:   # odd spacing\n    image: 'nginx'\n    ports: [ \"8001:80\" ]\n    networks: [proxy]\n    volumes:\n      - /mnt/appdata/web:/config\nnetworks:\n  proxy: {external: true}\n";
    let outcome = run(text, &all_on());
    assert_eq!(outcome.modified, text);
    assert!(outcome.changes.is_empty(), "{:?}", outcome.changes);
    assert_eq!(outcome.proxy_configs.len(), 1);
    let nothing = run(text, &ModifyOptions::default());
    assert_eq!(
        nothing,
        ModifyOutcome {
            modified: text.to_string(),
            ..Default::default()
        }
    );
}

// ---------------------------------------------------------------- volumes

#[test]
fn appdata_volumes_short_syntax() {
    let text = "services:\n  web:\n    volumes:\n      - ./appdata/web:/config\n      - \"./appdata/web/media:/media:ro\" # keep\n      - '../appdata/web/cache:/cache:rw,z'\n      - web-data:/data\n      - ./other:/other\n      - /var/run/docker.sock:/var/run/docker.sock:ro\n      - /tmp\nvolumes:\n  web-data:\n";
    let outcome = run(text, &only_volumes());
    assert_eq!(
        outcome.modified,
        "services:\n  web:\n    volumes:\n      - /mnt/appdata/web:/config\n      - \"/mnt/appdata/web/media:/media:ro\" # keep\n      - '/mnt/appdata/web/cache:/cache:rw,z'\n      - web-data:/data\n      - ./other:/other\n      - /var/run/docker.sock:/var/run/docker.sock:ro\n      - /tmp\nvolumes:\n  web-data:\n"
    );
    assert_eq!(
        outcome.changes,
        [
            "web: volume ./appdata/web:/config -> /mnt/appdata/web:/config",
            "web: volume ./appdata/web/media:/media:ro -> /mnt/appdata/web/media:/media:ro",
            "web: volume ../appdata/web/cache:/cache:rw,z -> /mnt/appdata/web/cache:/cache:rw,z",
        ]
    );
    assert_eq!(
        outcome.volume_updates["web"],
        [
            VolumeUpdate {
                from: "./appdata/web".into(),
                to: "/mnt/appdata/web".into(),
                container_path: "/config".into(),
                mode: None,
            },
            VolumeUpdate {
                from: "./appdata/web/media".into(),
                to: "/mnt/appdata/web/media".into(),
                container_path: "/media".into(),
                mode: Some("ro".into()),
            },
            VolumeUpdate {
                from: "../appdata/web/cache".into(),
                to: "/mnt/appdata/web/cache".into(),
                container_path: "/cache".into(),
                mode: Some("rw,z".into()),
            },
        ]
    );
    assert_idempotent(&outcome, &only_volumes());
}

#[test]
fn appdata_volumes_long_syntax() {
    let text = "services:\n  web:\n    volumes:\n      - type: bind\n        source: ./appdata/web\n        target: /config\n        read_only: true\n      - type: volume\n        source: ./appdata/named\n        target: /named\n      - type: bind\n        source: ./src\n        target: /src\n";
    let outcome = run(text, &only_volumes());
    assert!(
        outcome
            .modified
            .contains("        source: /mnt/appdata/web\n        target: /config\n")
    );
    assert!(outcome.modified.contains("source: ./appdata/named\n"));
    assert!(outcome.modified.contains("source: ./src\n"));
    assert_eq!(
        outcome.volume_updates["web"],
        [VolumeUpdate {
            from: "./appdata/web".into(),
            to: "/mnt/appdata/web".into(),
            container_path: "/config".into(),
            mode: Some("ro".into()),
        }]
    );
    assert_eq!(
        outcome.changes,
        ["web: volume source ./appdata/web -> /mnt/appdata/web (target /config)"]
    );
}

#[test]
fn appdata_base_must_be_absolute() {
    let text = "services:\n  web:\n    volumes: [./appdata/web:/config]\n";
    let opts = ModifyOptions {
        appdata_base: "relative/dir".into(),
        ..only_volumes()
    };
    let outcome = run(text, &opts);
    assert_eq!(outcome.modified, text);
    assert_eq!(outcome.warnings.len(), 1);
    let opts = ModifyOptions {
        appdata_base: "/srv/app data/".into(),
        ..only_volumes()
    };
    let outcome = run(text, &opts);
    assert_eq!(
        outcome.modified,
        "services:\n  web:\n    volumes: [/srv/app data/web:/config]\n"
    );
}

#[test]
fn appdata_volumes_from_a_merged_anchor_are_left_with_a_warning() {
    let text = "x-defaults: &defaults\n  volumes:\n    - ./appdata/shared:/config\nservices:\n  web:\n    <<: *defaults\n    image: x\n";
    let outcome = run(text, &only_volumes());
    assert_eq!(outcome.modified, text);
    assert_eq!(outcome.warnings.len(), 1, "{:?}", outcome.warnings);
}

// ---------------------------------------------------------------- ports

#[test]
fn ports_outside_the_range_or_used_move_to_the_next_free_port() {
    let text = "services:\n  web:\n    ports:\n      - \"8080:80\"\n      - 443:443 # tls\n      - '8005:5000'\n      - \"80\"\n      - 3000\n";
    let opts = only_ports((8000, 8099), &[8000, 8001, 8080]);
    let outcome = run(text, &opts);
    assert_eq!(
        outcome.modified,
        "services:\n  web:\n    ports:\n      - \"8002:80\"\n      - 8003:443 # tls\n      - '8005:5000'\n      - \"80\"\n      - 3000\n"
    );
    assert_eq!(
        outcome.changes,
        [
            "web: port 8080:80 -> 8002:80",
            "web: port 443:443 -> 8003:443"
        ]
    );
    let bindings: Vec<(u16, u16)> = outcome.port_assignments["web"]
        .iter()
        .map(|b| (b.host_port, b.container_port))
        .collect();
    assert_eq!(bindings, [(8002, 80), (8003, 443), (8005, 5000)]);
    assert_idempotent(&outcome, &opts);
}

#[test]
fn a_used_port_is_never_assigned() {
    let used: Vec<u16> = (8000..8050).filter(|p| p % 3 != 0).collect();
    let mut text = String::from("services:\n");
    for i in 0..10 {
        text.push_str(&format!(
            "  s{i}:\n    ports:\n      - \"{}:80\"\n",
            7000 + i
        ));
    }
    let opts = only_ports((8000, 8049), &used);
    let outcome = run(&text, &opts);
    let assigned: Vec<u16> = outcome
        .port_assignments
        .values()
        .flatten()
        .map(|b| b.host_port)
        .collect();
    assert_eq!(assigned.len(), 10);
    for port in &assigned {
        assert!(!used.contains(port), "{port} is used");
        assert_eq!(port % 3, 0);
    }
    let distinct: BTreeSet<u16> = assigned.iter().copied().collect();
    assert_eq!(distinct.len(), 10);
}

#[test]
fn two_services_wanting_the_same_port_get_different_ones() {
    let text = "services:\n  a:\n    ports: [\"8010:80\"]\n  b:\n    ports: [\"8010:80\"]\n  c:\n    ports:\n      - 8010:80\n";
    let opts = only_ports((8000, 8099), &[]);
    let outcome = run(text, &opts);
    assert_eq!(
        outcome.modified,
        "services:\n  a:\n    ports: [\"8010:80\"]\n  b:\n    ports: [\"8000:80\"]\n  c:\n    ports:\n      - 8001:80\n"
    );
    let ports = host_ports(&outcome.modified);
    assert_ne!(ports["a"], ports["b"]);
    assert_ne!(ports["b"], ports["c"]);
    assert_idempotent(&outcome, &opts);
}

#[test]
fn new_ports_avoid_ports_other_services_publish() {
    // a's 9500 is outside the range; 8000 and 8001 are published by b and c (written later).
    let text = "services:\n  a:\n    ports: [\"9500:80\"]\n  b:\n    ports: [\"8000:80\"]\n  c:\n    ports: [\"${C_PORT:-8001}:80\"]\n";
    let outcome = run(text, &only_ports((8000, 8099), &[]));
    assert_eq!(outcome.changes, ["a: port 9500:80 -> 8002:80"]);
    assert!(outcome.modified.contains("\"${C_PORT:-8001}:80\""));
    assert_eq!(outcome.warnings.len(), 1, "{:?}", outcome.warnings);
    assert!(outcome.warnings[0].contains("variable"));
}

#[test]
fn variable_host_ports_are_kept_with_a_warning() {
    let text = "services:\n  web:\n    ports:\n      - \"${COMPOSE_PORT_HTTP:-9000}:9000\"\n      - ${EXPOSE_PORT-:2283:2283}\n      - target: 80\n        published: ${WEB_PORT}\n";
    let outcome = run(text, &only_ports((8000, 8099), &[]));
    assert_eq!(outcome.modified, text);
    assert_eq!(outcome.warnings.len(), 3, "{:?}", outcome.warnings);
    assert!(
        outcome.warnings.iter().all(|w| w.contains("variable")),
        "{:?}",
        outcome.warnings
    );
}

#[test]
fn ip_protocol_and_ranges() {
    let text = "services:\n  dns:\n    ports:\n      - \"127.0.0.1:53:53/tcp\"\n      - \"127.0.0.1:53:53/udp\"\n      - \"[::1]:9053:53/udp\"\n      - \"127.0.0.1::5353\"\n      - \"6000-6002:7000-7002\"\n      - \"8050-8051:9000\"\n";
    let opts = only_ports((8000, 8099), &[8000]);
    let outcome = run(text, &opts);
    assert_eq!(
        outcome.modified,
        "services:\n  dns:\n    ports:\n      - \"127.0.0.1:8001:53/tcp\"\n      - \"127.0.0.1:8001:53/udp\"\n      - \"[::1]:8002:53/udp\"\n      - \"127.0.0.1::5353\"\n      - \"8003-8005:7000-7002\"\n      - \"8050-8051:9000\"\n"
    );
    let bindings = &outcome.port_assignments["dns"];
    assert_eq!(
        bindings[0],
        PortAssignment {
            host_ip: Some("127.0.0.1".into()),
            host_port: 8001,
            container_port: 53,
            protocol: "tcp".into(),
        }
    );
    assert_eq!(bindings[1].protocol, "udp");
    assert_eq!(bindings[2].host_ip.as_deref(), Some("[::1]"));
    assert_eq!(
        bindings[3..6]
            .iter()
            .map(|b| (b.host_port, b.container_port))
            .collect::<Vec<_>>(),
        [(8003, 7000), (8004, 7001), (8005, 7002)]
    );
    assert_idempotent(&outcome, &opts);
}

#[test]
fn long_syntax_ports_keep_their_types() {
    let text = "services:\n  web:\n    ports:\n      - target: 80\n        published: 9080\n        protocol: tcp\n        host_ip: 127.0.0.1\n      - target: 443\n        published: \"8443\"\n      - target: 9000\n";
    let opts = only_ports((8000, 8099), &[]);
    let outcome = run(text, &opts);
    assert_eq!(
        outcome.modified,
        "services:\n  web:\n    ports:\n      - target: 80\n        published: 8000\n        protocol: tcp\n        host_ip: 127.0.0.1\n      - target: 443\n        published: \"8001\"\n      - target: 9000\n"
    );
    assert_eq!(
        outcome.changes,
        [
            "web: port 127.0.0.1:9080:80/tcp -> 127.0.0.1:8000:80/tcp",
            "web: port 8443:443 -> 8001:443",
        ]
    );
    let out = plain(&outcome.modified);
    assert_eq!(
        out["services"]["web"]["ports"][0]["published"],
        Value::from(8000)
    );
    assert_eq!(
        out["services"]["web"]["ports"][1]["published"],
        Value::from("8001")
    );
}

#[test]
fn custom_port_mappings_take_the_first_mapping() {
    let text = "services:\n  web:\n    ports:\n      - \"8080:80\"\n      - \"8081:81\"\n  api:\n    ports:\n      - \"3000\"\n  other:\n    ports:\n      - \"8050:80\"\n";
    let mut opts = only_ports((8000, 8099), &[]);
    opts.custom_port_mappings = BTreeMap::from([
        ("web".to_string(), 9999),
        ("api".to_string(), 8050),
        ("ghost".to_string(), 8060),
    ]);
    let outcome = run(text, &opts);
    assert_eq!(
        outcome.modified,
        "services:\n  web:\n    ports:\n      - \"9999:80\"\n      - \"8081:81\"\n  api:\n    ports:\n      - \"8050:3000\"\n  other:\n    ports:\n      - \"8000:80\"\n"
    );
    // The custom port of api is also what other publishes: other moves, and a warning says
    // so; the unknown service is reported.
    assert!(
        outcome.warnings.iter().any(|w| w.contains("ghost")),
        "{:?}",
        outcome.warnings
    );
    // Without auto assignment the custom ports still apply, nothing else moves.
    let opts = ModifyOptions {
        custom_port_mappings: BTreeMap::from([("web".to_string(), 9999)]),
        ..ModifyOptions::default()
    };
    let outcome = run(text, &opts);
    assert_eq!(outcome.changes, ["web: port 8080:80 -> 9999:80"]);
}

#[test]
fn custom_port_on_a_long_syntax_entry_without_published() {
    let text = "services:\n  web:\n    ports:\n      - target: 80\n        protocol: tcp\n      - {target: 443, published: 7443}\n";
    let opts = ModifyOptions {
        custom_port_mappings: BTreeMap::from([("web".to_string(), 8088)]),
        ..only_ports((8000, 8099), &[])
    };
    let outcome = run(text, &opts);
    let out = plain(&outcome.modified);
    assert_eq!(
        out["services"]["web"]["ports"][0]["published"],
        Value::from(8088)
    );
    assert_eq!(
        out["services"]["web"]["ports"][1]["published"],
        Value::from(8000)
    );
    assert!(
        outcome
            .modified
            .contains("- {target: 443, published: 8000}\n")
    );
    assert_eq!(
        outcome.changes,
        [
            "web: port 80/tcp -> 8088:80/tcp",
            "web: port 7443:443 -> 8000:443"
        ]
    );
}

#[test]
fn tagged_port_lists_are_edited_inside_the_tag() {
    let text = "services:\n  web:\n    ports: !override\n      - \"80:80\"\n";
    let outcome = run(text, &only_ports((8000, 8099), &[]));
    assert_eq!(
        outcome.modified,
        "services:\n  web:\n    ports: !override\n      - \"8000:80\"\n"
    );
}

#[test]
fn an_exhausted_range_keeps_the_original_with_a_warning() {
    let text = "services:\n  a:\n    ports: [\"7000:80\", \"7001:81\", \"7002:82\"]\n";
    let opts = only_ports((8000, 8001), &[8001]);
    let outcome = run(text, &opts);
    assert_eq!(
        outcome.modified,
        "services:\n  a:\n    ports: [\"8000:80\", \"7001:81\", \"7002:82\"]\n"
    );
    assert_eq!(outcome.warnings.len(), 2, "{:?}", outcome.warnings);
    assert!(outcome.warnings[0].contains("no free port"));
    let outcome = run(text, &only_ports((9000, 8000), &[]));
    assert_eq!(outcome.modified, text);
    assert_eq!(outcome.warnings.len(), 1);
}

#[test]
fn ports_from_a_merged_anchor_are_not_edited() {
    let text = "x-web: &web\n  ports: [\"7000:80\"]\nservices:\n  web:\n    <<: *web\n    image: x\n  api:\n    ports: [\"8000:80\"]\n";
    let outcome = run(text, &only_ports((8000, 8099), &[]));
    assert_eq!(outcome.modified, text);
    assert_eq!(outcome.warnings.len(), 1, "{:?}", outcome.warnings);
    assert!(outcome.warnings[0].contains("merged anchor"));
}

#[test]
fn anchored_nodes_that_aliases_reuse_are_not_edited() {
    let text = "services:\n  web:\n    ports:\n      - &p \"80:80\"\n    volumes: &vols\n      - ./appdata/shared:/config\n  db:\n    ports:\n      - *p\n      - \"80:81\"\n    volumes: *vols\n";
    let outcome = run(text, &all_on());
    let out = plain(&outcome.modified);
    // The shared port and volume list stay (with a warning each); db's own second port,
    // outside the range, moves.
    assert_eq!(out["services"]["web"]["ports"], plain("['80:80']"));
    assert_eq!(
        out["services"]["db"]["ports"],
        plain("['80:80', '8000:81']")
    );
    assert_eq!(
        out["services"]["db"]["volumes"],
        plain("['./appdata/shared:/config']")
    );
    assert!(outcome.modified.contains("      - &p \"80:80\"\n"));
    assert!(outcome.modified.contains("    volumes: *vols\n"));
    let anchored: Vec<&String> = outcome
        .warnings
        .iter()
        .filter(|w| w.contains("reused elsewhere"))
        .collect();
    assert_eq!(anchored.len(), 2, "{:?}", outcome.warnings);
    assert_idempotent(&outcome, &all_on());
    // A whole service reused through a merge key is not edited either; the one merging it is.
    let text = "services:\n  web: &web\n    image: x\n    ports: [\"80:80\"]\n  web2:\n    <<: *web\n    ports: [\"90:80\"]\n";
    let outcome = run(text, &all_on());
    let out = plain(&outcome.modified);
    assert_eq!(
        out["services"]["web"],
        plain("{image: x, ports: ['80:80']}")
    );
    assert_eq!(out["services"]["web2"]["ports"], plain("['8000:80']"));
    assert_eq!(
        out["services"]["web2"]["networks"],
        plain("[default, proxy]")
    );
}

// ---------------------------------------------------------------- networks

#[test]
fn networks_are_added_not_replaced() {
    let text = "services:\n  list:\n    networks:\n      - front # the front\n  flow:\n    networks: [a, b]\n  map:\n    networks:\n      back:\n        aliases: [api]\n  none:\n    image: x\n  host:\n    network_mode: host\n  already:\n    networks: [proxy]\nnetworks:\n  front:\n  a: {}\n  b: {}\n  back:\n    driver: bridge\n";
    let outcome = run(text, &only_networks("proxy"));
    assert_eq!(
        outcome.modified,
        "services:\n  list:\n    networks:\n      - front # the front\n      - proxy\n  flow:\n    networks: [a, b, proxy]\n  map:\n    networks:\n      back:\n        aliases: [api]\n      proxy: {}\n  none:\n    image: x\n    networks:\n      - default\n      - proxy\n  host:\n    network_mode: host\n  already:\n    networks: [proxy]\nnetworks:\n  front:\n  a: {}\n  b: {}\n  back:\n    driver: bridge\n  proxy:\n    external: true\n"
    );
    assert_eq!(
        outcome.changes,
        [
            "list: joined network proxy",
            "flow: joined network proxy",
            "map: joined network proxy",
            "none: joined network proxy",
            "networks: declared proxy as external",
        ]
    );
    assert_eq!(outcome.network_configs["list"], ["front", "proxy"]);
    assert_eq!(outcome.network_configs["map"], ["back", "proxy"]);
    assert_eq!(outcome.network_configs["none"], ["default", "proxy"]);
    assert!(!outcome.network_configs.contains_key("host"));
    assert!(!outcome.network_configs.contains_key("already"));
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| w.starts_with("host: uses network_mode"))
    );
    assert_idempotent(&outcome, &only_networks("proxy"));
}

#[test]
fn network_mode_services_are_untouched() {
    let text = "services:\n  vpn:\n    network_mode: host\n    ports: [\"51820:51820/udp\"]\n";
    let outcome = run(text, &all_on());
    assert!(
        outcome
            .modified
            .contains("  vpn:\n    network_mode: host\n")
    );
    assert!(!outcome.modified.contains("networks"));
    assert!(outcome.proxy_configs.is_empty());
}

#[test]
fn the_top_level_networks_key_is_created_or_kept() {
    let text = "services:\n  web:\n    image: x\nvolumes:\n  data: {}\n";
    let outcome = run(text, &only_networks("proxy"));
    assert_eq!(
        outcome.modified,
        "services:\n  web:\n    image: x\n    networks:\n      - default\n      - proxy\nvolumes:\n  data: {}\nnetworks:\n  proxy:\n    external: true\n"
    );
    // An existing definition of the network is not replaced.
    let text = "services:\n  web:\n    image: x\nnetworks:\n  proxy:\n    driver: bridge\n";
    let outcome = run(text, &only_networks("proxy"));
    assert!(
        outcome
            .modified
            .ends_with("networks:\n  proxy:\n    driver: bridge\n")
    );
    assert_eq!(outcome.changes, ["web: joined network proxy"]);
    // An empty top-level key becomes the mapping.
    let text = "services:\n  web:\n    networks:\nnetworks:\n";
    let outcome = run(text, &only_networks("proxy"));
    let out = plain(&outcome.modified);
    assert_eq!(
        out["services"]["web"]["networks"],
        plain("[default, proxy]")
    );
    assert_eq!(out["networks"], plain("proxy: {external: true}"));
}

#[test]
fn networks_merged_from_an_anchor_are_extended() {
    let text = "x-net: &net\n  networks: [back]\nservices:\n  web:\n    <<: *net\n    image: x\n";
    let outcome = run(text, &only_networks("proxy"));
    let out = plain(&outcome.modified);
    assert_eq!(out["services"]["web"]["networks"], plain("[back, proxy]"));
    assert!(
        outcome
            .modified
            .starts_with("x-net: &net\n  networks: [back]\n")
    );
}

#[test]
fn networks_left_alone_without_a_name_or_with_a_bad_one() {
    let text = "services:\n  web:\n    image: x\n";
    let mut opts = all_on();
    opts.network = None;
    assert_eq!(run(text, &opts).modified, text);
    for bad in ["default", "host", "bad name", "1234", ""] {
        let outcome = run(text, &only_networks(bad));
        assert_eq!(outcome.modified, text, "{bad}");
        assert_eq!(outcome.warnings.len(), 1, "{bad}");
    }
}

// ---------------------------------------------------------------- proxy confs

#[test]
fn proxy_confs_use_the_device_and_the_published_host_port() {
    let text = "services:\n  web:\n    ports:\n      - \"53:53/udp\"\n      - \"8080:80\"\n  admin:\n    ports:\n      - \"9443:9443\"\n  db:\n    image: pg\n  local:\n    ports: [\"127.0.0.1:8070:80\"]\n";
    let opts = ModifyOptions {
        used_ports: BTreeSet::from([8080]),
        ..all_on()
    };
    let outcome = run(text, &opts);
    let confs: Vec<(&str, &str, u16)> = outcome
        .proxy_configs
        .iter()
        .map(|c| (c.service.as_str(), c.filename.as_str(), c.upstream_port))
        .collect();
    assert_eq!(
        confs,
        [
            ("web", "web.subdomain.conf", 8001),
            ("admin", "admin.subdomain.conf", 8002)
        ]
    );
    let web = &outcome.proxy_configs[0];
    assert_eq!(web.upstream_app, "docker-host");
    assert!(web.content.contains("server_name web.*;"));
    assert!(web.content.contains("set $upstream_app docker-host;"));
    assert!(web.content.contains("set $upstream_port 8001;"));
    assert!(web.content.contains("set $upstream_proto http;"));
    assert!(
        outcome.proxy_configs[1]
            .content
            .contains("set $upstream_proto https;")
    );
}

#[test]
fn hostile_service_names_get_no_proxy_conf() {
    let text = "services:\n  \"web;include /etc/passwd\":\n    ports: [\"8001:80\"]\n  \"a b\":\n    ports: [\"8002:80\"]\n  ok:\n    ports: [\"8003:80\"]\n";
    let outcome = run(text, &all_on());
    assert_eq!(outcome.proxy_configs.len(), 1);
    assert_eq!(outcome.proxy_configs[0].service, "ok");
    assert_eq!(
        outcome
            .warnings
            .iter()
            .filter(|w| w.contains("no proxy conf"))
            .count(),
        2,
        "{:?}",
        outcome.warnings
    );
    let mut opts = all_on();
    opts.upstream_app = "evil; include /x".into();
    let outcome = run(text, &opts);
    assert!(outcome.proxy_configs.is_empty());
    opts.upstream_app = String::new();
    let outcome = run(text, &opts);
    assert!(outcome.proxy_configs.is_empty());
    assert!(outcome.warnings.iter().any(|w| w.contains("upstream_app")));
}

// ---------------------------------------------------------------- everything together

#[test]
fn service_name_limits_every_transform() {
    let text = "services:\n  web:\n    ports: [\"80:80\"]\n    volumes: [./appdata/web:/config]\n  db:\n    ports: [\"5432:5432\"]\n    volumes: [./appdata/db:/var/lib/postgresql]\n";
    let opts = ModifyOptions {
        service_name: Some("web".into()),
        ..all_on()
    };
    let outcome = run(text, &opts);
    assert_eq!(
        outcome.modified,
        "services:\n  web:\n    ports: [\"8000:80\"]\n    volumes: [/mnt/appdata/web:/config]\n    networks:\n      - default\n      - proxy\n  db:\n    ports: [\"5432:5432\"]\n    volumes: [./appdata/db:/var/lib/postgresql]\nnetworks:\n  proxy:\n    external: true\n"
    );
    assert_eq!(outcome.proxy_configs.len(), 1);
    let opts = ModifyOptions {
        service_name: Some("ghost".into()),
        ..all_on()
    };
    let outcome = run(text, &opts);
    assert_eq!(outcome.modified, text);
    assert!(outcome.warnings[0].contains("ghost"));
}

#[test]
fn comments_anchors_extensions_and_variables_survive() {
    let text = "# stack\nx-common: &common\n  restart: unless-stopped # always\n  environment:\n    TZ: ${TZ:-UTC}\nx-other: {a: 1}\nservices:\n  web: # front end\n    <<: *common\n    image: \"nginx:${TAG:-latest}\"\n    ports:\n      # the web port\n      - \"80:80\" # http\n    volumes:\n      - ./appdata/web:/config:ro\n    command: [\"--port\", \"$$PORT\"]\n\n  # the database\n  db:\n    <<: *common\n    image: postgres\n";
    let outcome = run(text, &all_on());
    assert_eq!(
        outcome.modified,
        "# stack\nx-common: &common\n  restart: unless-stopped # always\n  environment:\n    TZ: ${TZ:-UTC}\nx-other: {a: 1}\nservices:\n  web: # front end\n    <<: *common\n    image: \"nginx:${TAG:-latest}\"\n    ports:\n      # the web port\n      - \"8000:80\" # http\n    volumes:\n      - /mnt/appdata/web:/config:ro\n    command: [\"--port\", \"$$PORT\"]\n    networks:\n      - default\n      - proxy\n\n  # the database\n  db:\n    <<: *common\n    image: postgres\n    networks:\n      - default\n      - proxy\nnetworks:\n  proxy:\n    external: true\n"
    );
    assert_idempotent(&outcome, &all_on());
}

#[test]
fn idempotent_with_the_same_used_ports() {
    let text = "services:\n  a:\n    ports: [\"80:80\", \"443:443\", \"53:53/udp\"]\n    volumes: [./appdata/a:/config]\n  b:\n    ports:\n      - 80:80\n  c:\n    network_mode: host\n";
    let opts = ModifyOptions {
        used_ports: BTreeSet::from([8000, 8003]),
        ..all_on()
    };
    let first = run(text, &opts);
    assert!(!first.changes.is_empty());
    assert_idempotent(&first, &opts);
}

#[test]
fn crlf_files_stay_crlf() {
    let text = "services:\r\n  web:\r\n    image: x\r\n    ports:\r\n      - \"80:80\"\r\n";
    let outcome = run(text, &all_on());
    assert!(
        !outcome.modified.replace("\r\n", "").contains('\n'),
        "{:?}",
        outcome.modified
    );
    assert!(outcome.modified.contains("\"8000:80\"\r\n"));
}

// ---------------------------------------------------------------- the fixtures

/// Keys that a transform may change: per service and at the top level.
const SERVICE_KEYS: [&str; 3] = ["ports", "volumes", "networks"];

/// `value` without what the transforms may change.
fn without_transformed_keys(mut value: Value) -> Value {
    if let Value::Mapping(top) = &mut value {
        top.remove("networks");
        if let Some(Value::Mapping(services)) = top.get_mut("services") {
            for (_, service) in services.iter_mut() {
                if let Value::Mapping(service) = service {
                    for key in SERVICE_KEYS {
                        service.remove(key);
                    }
                }
            }
        }
    }
    value
}

/// The network names of a service's `networks` (list or mapping).
fn network_names(networks: Option<&Value>) -> Vec<String> {
    match networks {
        Some(Value::Sequence(items)) => items.iter().map(yaml::key_text).collect(),
        Some(Value::Mapping(map)) => map.keys().map(yaml::key_text).collect(),
        _ => Vec::new(),
    }
}

/// The comment texts of `text`: whole-line comments and what follows ` #` on a line.
fn comments(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let trimmed = line.trim_start();
            if trimmed.starts_with('#') {
                Some(line.to_string())
            } else {
                line.find(" #").map(|i| line[i..].to_string())
            }
        })
        .collect()
}

/// The anchors (`&name`) and aliases (`*name`) written in `text`.
fn anchors_and_aliases(text: &str) -> BTreeSet<String> {
    text.split_whitespace()
        .filter(|t| t.len() > 1 && (t.starts_with('&') || t.starts_with('*')))
        .filter(|t| {
            t[1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
        })
        .map(|t| t.trim_end_matches([',', ']', '}']).to_string())
        .collect()
}

#[test]
fn every_fixture_modifies_cleanly() {
    let opts = ModifyOptions {
        port_range: (8000, 9000),
        used_ports: BTreeSet::from([8000, 8001, 8080, 9000, 9200]),
        ..all_on()
    };
    let mut rejected = Vec::new();
    let mut accepted = 0;
    for name in fixture_dir("compose") {
        let text = fixture(&format!("compose/{name}"));
        if let Err(e) = validate(&text) {
            rejected.push(name);
            assert!(e.line >= 1 && e.column >= 1);
            continue;
        }
        accepted += 1;
        let outcome = modify(&text, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let before = plain(&text);
        let after = plain(&outcome.modified);
        assert_eq!(
            without_transformed_keys(before.clone()),
            without_transformed_keys(after.clone()),
            "{name}: more than ports, volumes and networks changed"
        );
        // Lists keep their length (items are rewritten in place); networks only grow.
        if let (Some(Value::Mapping(b)), Some(Value::Mapping(a))) =
            (before.get("services"), after.get("services"))
        {
            for (service, bs) in b {
                let as_ = &a[service];
                for key in ["ports", "volumes"] {
                    assert_eq!(
                        bs.get(key).and_then(Value::as_sequence).map(Vec::len),
                        as_.get(key).and_then(Value::as_sequence).map(Vec::len),
                        "{name}: {service:?} {key}"
                    );
                }
                let before_nets = network_names(bs.get("networks"));
                let after_nets = network_names(as_.get("networks"));
                for n in &before_nets {
                    assert!(
                        after_nets.contains(n),
                        "{name}: {service:?} lost network {n}"
                    );
                }
            }
        }
        for comment in comments(&text) {
            assert!(
                outcome.modified.contains(&comment),
                "{name}: comment lost: {comment}"
            );
        }
        for token in anchors_and_aliases(&text) {
            assert!(outcome.modified.contains(&token), "{name}: lost {token}");
        }
        for bindings in outcome.port_assignments.values() {
            for b in bindings {
                assert!(
                    !opts.used_ports.contains(&b.host_port),
                    "{name}: used port {b:?}"
                );
            }
        }
        for conf in &outcome.proxy_configs {
            assert!(
                !opts.used_ports.contains(&conf.upstream_port),
                "{name}: {conf:?}"
            );
            assert_eq!(conf.filename, format!("{}.subdomain.conf", conf.service));
        }
        let again = modify(&outcome.modified, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(again.modified, outcome.modified, "{name}: not idempotent");
        assert!(again.changes.is_empty(), "{name}: {:?}", again.changes);
    }
    assert_eq!(
        rejected,
        ["paperless-ngx.docker-compose.env", "paperless-ngx.env"],
        "the YAML parser should refuse only the two .env files"
    );
    assert_eq!(accepted, 30);
}

#[test]
fn every_fixture_service_alone_changes_only_that_service() {
    for name in fixture_dir("compose") {
        let text = fixture(&format!("compose/{name}"));
        let Ok(names) = service_names(&text) else {
            continue;
        };
        let before = plain(&text);
        // At most 12 services a file, spread over it (the big files have 60; the editor is
        // slow in debug builds).
        let step = names.len().div_ceil(12).max(1);
        for service in names.into_iter().step_by(step) {
            let opts = ModifyOptions {
                service_name: Some(service.clone()),
                port_range: (8000, 9000),
                used_ports: BTreeSet::from([8000, 8080]),
                ..all_on()
            };
            let outcome = modify(&text, &opts).unwrap_or_else(|e| panic!("{name} {service}: {e}"));
            let mut after = plain(&outcome.modified);
            // Put the selected service back as it was: the rest must be untouched, apart
            // from the top-level declaration of the network.
            let original = before["services"][service.as_str()].clone();
            if let Some(Value::Mapping(services)) = after.get_mut("services") {
                services.insert(Value::from(service.as_str()), original);
            }
            assert_eq!(
                before["services"], after["services"],
                "{name} {service}: others changed"
            );
            assert!(
                outcome
                    .changes
                    .iter()
                    .all(|c| c.starts_with(&format!("{service}: ")) || c.starts_with("networks: ")),
                "{name} {service}: {:?}",
                outcome.changes
            );
        }
    }
}

#[test]
fn fixture_changes_are_the_expected_ones() {
    // A small real file: every rule at work, checked exactly.
    let text = fixture("compose/linuxserver-swag.docker-compose.yml");
    let opts = ModifyOptions {
        port_range: (8000, 9000),
        ..all_on()
    };
    let outcome = run(&text, &opts);
    assert_eq!(
        outcome.changes,
        [
            "swag: port 443:443 -> 8000:443",
            "swag: port 80:80 -> 8001:80",
            "swag: port 443:443/udp -> 8000:443/udp",
            "swag: joined network proxy",
            "networks: declared proxy as external",
        ]
    );
    assert!(outcome.modified.contains("      - 8001:80 #optional\n"));
    assert!(
        outcome
            .modified
            .contains("      - 8000:443/udp #optional\n")
    );
    assert_eq!(outcome.proxy_configs[0].upstream_port, 8000);
    assert_eq!(
        outcome.proxy_configs[0]
            .content
            .lines()
            .find(|l| l.contains("upstream_proto")),
        Some("        set $upstream_proto https;")
    );
}

#[test]
fn mangled_fixtures_never_panic() {
    for name in [
        "sentry-self-hosted.docker-compose.yml",
        "mailcow.docker-compose.yml",
    ] {
        let text = fixture(&format!("compose/{name}"));
        for variant in infrastructor_sdk::testing::mangled_variants(&text, 40) {
            let _ = modify(&variant, &all_on());
            let _ = service_names(&variant);
        }
    }
}
