//! `docker ps` (JSON lines and the texts in it), aligned tables and docker's times.
#![no_main]
use infrastructor_parsers::{docker_ps, docker_time, table};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = docker_ps::parse_ps(&text);
    let _ = table::parse_table(&text, "docker");
    for line in text.lines().take(64) {
        let _ = docker_ps::parse_ports(line);
        let _ = docker_ps::parse_labels(line);
        let _ = docker_ps::parse_status(line);
        let _ = docker_ps::parse_size(line);
        if let Some(t) = docker_time::rfc3339_from_go_time(line) {
            assert!(docker_time::is_rfc3339(&t), "{t:?}");
        }
    }
});
