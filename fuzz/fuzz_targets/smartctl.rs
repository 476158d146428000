//! `smartctl` text and JSON, and `smartctl --scan`; the first byte is the exit status.
#![no_main]
use infrastructor_plugin_devices::parse::smartctl;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (status, rest) = data
        .split_first()
        .map_or((None, data), |(s, r)| (Some(*s), r));
    let text = String::from_utf8_lossy(rest);
    let _ = smartctl::parse_smartctl_json(&text);
    let _ = smartctl::parse_smartctl_text(&text);
    let _ = smartctl::parse_smartctl_text_with_status(&text, status);
    let _ = smartctl::parse_smartctl_scan_json(&text);
    let _ = smartctl::parse_smartctl_scan_text(&text);
});
