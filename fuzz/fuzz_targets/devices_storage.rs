//! `df` and `lsblk` (text and JSON).
#![no_main]
use infrastructor_plugin_devices::parse::{df, lsblk};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = df::parse_df(&text);
    let _ = lsblk::parse_lsblk_text(&text);
    if let Ok(devices) = lsblk::parse_lsblk_json(&text) {
        for d in devices.iter().flat_map(|d| d.walk()) {
            let _ = lsblk::is_drive_name(&d.name);
        }
        let _ = lsblk::select_disks(&devices, true);
        let _ = lsblk::select_disks(&devices, false);
    }
});
