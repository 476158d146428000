//! `virsh list --all`, `virsh dominfo` and VM names.
#![no_main]
use infrastructor_plugin_vms::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse::parse_list(&text);
    let _ = parse::parse_dominfo(&text);
    if parse::is_vm_name(&text) {
        assert!(!text.starts_with(['-', '.']));
    }
});
