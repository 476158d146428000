//! `docker inspect`, `docker logs`, `docker stats`, container references and exec command
//! strings (an accepted command splits back to itself once quoted).
#![no_main]
use infrastructor_plugin_containers::parse::{inspect, logs, names, stats};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = inspect::parse_inspect(&text);
    let _ = logs::parse_logs(&text, true);
    let _ = logs::parse_logs(&text, false);
    let _ = stats::parse_stats(&text);
    let _ = stats::parse_stats_table(&text);
    if names::validate_container_ref(&text).is_ok() {
        assert!(!text.starts_with('-'));
    }
    if let Ok(argv) = names::split_command(&text) {
        assert!(!argv.is_empty() && argv.iter().all(|w| !w.contains('\0')));
    }
});
