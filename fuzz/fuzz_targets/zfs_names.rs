//! Pool, dataset, snapshot and bookmark name checks: an accepted name is never an option
//! nor a `.`/`..` path component.
#![no_main]
use infrastructor_plugin_zfs::parse::names;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for ok in [
        names::validate_pool(&text).is_ok(),
        names::validate_dataset(&text).is_ok(),
        names::validate_snapshot(&text).is_ok(),
        names::validate_snapshot_short(&text).is_ok(),
        names::validate_bookmark(&text).is_ok(),
    ] {
        if ok {
            assert!(!text.starts_with('-'));
            for part in text.split(['/', '@', '#']).skip(1) {
                assert!(part != "." && part != ".." && !part.starts_with('-'));
            }
        }
    }
});
