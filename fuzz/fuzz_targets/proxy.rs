//! The listing script's bytes, the detection probe, conf line edits and request names.
#![no_main]
use infrastructor_plugin_proxy::render::{self, Auth, Proto, Upstream};
use infrastructor_plugin_proxy::{detect, listing, names};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = listing::parse_listing(data);
    let text = String::from_utf8_lossy(data);
    let _ = detect::parse_probe(&text);
    let up = Upstream {
        app: Some("app".into()),
        port: Some(8080),
        proto: Some(Proto::Https),
    };
    if let Ok(once) = render::set_upstream(&text, &up) {
        assert_eq!(once.lines().count(), text.lines().count());
    }
    for auth in [Auth::None, Auth::Authelia, Auth::Basic] {
        if let Ok(once) = render::set_auth(&text, auth) {
            assert_eq!(render::set_auth(&once, auth).as_ref(), Ok(&once));
        }
    }
    for line in text.lines().take(16) {
        if let Ok(candidates) = names::sample_candidates(line) {
            assert!(candidates.iter().all(|c| names::is_plain_file_name(c)));
        }
        let _ = names::config_dir(line);
        let _ = detect::is_swag_image(line);
    }
});
