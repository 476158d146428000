//! `docker compose ps` (JSON, v1 and v2 tables), published ports, service names.
#![no_main]
use infrastructor_parsers::compose_ps;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = compose_ps::parse_compose_ps_json(&text);
    let _ = compose_ps::parse_compose_ps_table(&text, None);
    let _ = compose_ps::parse_compose_ps_table(&text, Some("compose_test"));
    for line in text.lines().take(16) {
        let ports = compose_ps::published_ports(line);
        assert!(ports.windows(2).all(|w| w[0] < w[1]));
        let _ = compose_ps::service_from_container_name(line, None);
        let _ = compose_ps::service_from_container_name(line, Some("p"));
    }
});
