//! `zpool status` (text and `-j`).
#![no_main]
use infrastructor_plugin_zfs::parse::zpool_status;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(pools) = zpool_status::parse_zpool_status(&text) {
        for p in &pools {
            let _ = p.vdevs();
        }
    }
    let _ = zpool_status::parse_zpool_status_json(&text);
});
