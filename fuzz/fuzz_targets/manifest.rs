//! Plugin manifests as JSON (decoded, then validated), capabilities, exec patterns, quotas
//! and path templates.
#![no_main]
use infrastructor_manifest::{
    Capability, Manifest, Quota, normalise_template, template_params, validate_mount,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = serde_json::from_slice::<Manifest>(data) {
        let _ = m.validate();
        let _ = m.validate_v0_1();
    }
    let text = String::from_utf8_lossy(data);
    for line in text.lines().take(16) {
        if let Ok(c) = Capability::parse(line) {
            assert_eq!(Capability::parse(&c.to_string()), Ok(c));
        }
        if let Ok(q) = Quota::parse(line) {
            assert_eq!(Quota::parse(&q.to_string()), Ok(q));
        }
        let _ = template_params(line);
        let _ = normalise_template(line);
        let _ = validate_mount(line);
    }
});
