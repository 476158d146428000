//! Property tests of the proxy plugin's pure code: the listing and detection scripts'
//! outputs (random bytes and mangled text never panic), the line edits of SWAG confs on
//! mangled real samples (line count kept, idempotent, hostile upstreams refused) and the
//! name checks on everything a request names (only plain file names and clean absolute
//! directories come out).

#[path = "../../parsers/tests/support/mod.rs"]
mod support;

use crate::render::{self, Auth, Proto, Upstream};
use crate::{detect, listing, names};
use proptest::prelude::*;
use support::{config, finishes, fixture_texts, inputs, line_count, mangled, noise};

fn swag() -> Vec<String> {
    fixture_texts(&["swag"])
}

/// A listing as the script prints it, from a few fixture names.
fn listing_text() -> String {
    let mut out = String::from("#stat\n");
    for (i, name) in [
        "a.subdomain.conf",
        "b.subfolder.conf",
        "c.subdomain.conf.sample",
    ]
    .iter()
    .enumerate()
    {
        out.push_str(&format!("{name}|{}|1700000000|regular file\n", 100 + i));
    }
    out.push_str("#sha256\n");
    out.push_str(&format!("{}  a.subdomain.conf\n", "0".repeat(64)));
    out.push_str("#versions\nc.subdomain.conf.sample:## Version 2024/01/01\n#content\n");
    out.push_str("a.subdomain.conf 5\nhello\n");
    out
}

fn auth() -> impl Strategy<Value = Auth> {
    prop::sample::select(
        &[
            Auth::None,
            Auth::Authelia,
            Auth::Authentik,
            Auth::Ldap,
            Auth::Tinyauth,
            Auth::Basic,
        ][..],
    )
}

proptest! {
    #![proptest_config(config(160))]

    #[test]
    fn listings(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        mangled(vec![listing_text()]).prop_map(String::into_bytes),
    ]) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let l = finishes(&text, move |_| listing::parse_listing(&bytes));
        prop_assert!(l.files.len() <= line_count(&text));
    }

    #[test]
    fn probes(text in inputs(fixture_texts(&["docker"]))) {
        let probe = finishes(&text, |t| detect::parse_probe(&t));
        prop_assert!(probe.roots.iter().all(|r| r.starts_with('/')));
        for line in text.lines().take(20) {
            let _ = detect::is_swag_image(line);
        }
    }

    #[test]
    fn upstream_edits(text in inputs(swag()), app in prop_oneof![noise(), "[a-z]{1,8}(\\.[a-z]{1,4})?"], port in any::<u16>(), https in any::<bool>()) {
        let up = Upstream { app: Some(app.clone()), port: Some(port), proto: Some(if https { Proto::Https } else { Proto::Http }) };
        let out = finishes(&text, move |t| render::set_upstream(&t, &up).map(|o| (render::set_upstream(&o, &up), o)));
        if let Ok((again, once)) = out {
            prop_assert!(render::is_upstream_app(&app) && port != 0);
            prop_assert_eq!(once.lines().count(), text.lines().count());
            let line = format!("set $upstream_app {app};");
            prop_assert!(once.contains(&line), "no {line:?}");
            prop_assert_eq!(again.as_ref(), Ok(&once));
        }
    }

    #[test]
    fn auth_edits(text in inputs(swag()), auth in auth()) {
        let out = finishes(&text, move |t| render::set_auth(&t, auth).map(|o| (render::set_auth(&o, auth), o)));
        if let Ok((again, once)) = out {
            prop_assert_eq!(once.lines().count(), text.lines().count());
            prop_assert_eq!(again.as_ref(), Ok(&once));
        }
    }

    /// Names a request gives come out as plain file names or clean absolute directories, or
    /// are refused.
    #[test]
    fn request_names(name in prop_oneof![noise(), "_[a-z./]{0,12}", "[a-z]{1,8}(\\.subdomain)?\\.conf\\.sample", "/[a-z./]{0,16}"]) {
        if let Ok(candidates) = names::sample_candidates(&name) {
            for c in &candidates {
                prop_assert!(names::is_plain_file_name(c), "{c:?} from {name:?}");
            }
        }
        if let Ok(dir) = names::config_dir(&name) {
            prop_assert!(dir.starts_with('/') && !dir.ends_with('/'));
            prop_assert!(dir.split('/').skip(1).all(|s| !s.is_empty() && s != "." && s != ".."), "{dir:?}");
            prop_assert_eq!(names::config_dir(&dir).ok(), Some(dir.clone()));
        }
        if names::is_service(&name) {
            prop_assert!(names::is_plain_file_name(&name));
        }
        let _ = render::from_template("<container_name> <container_name>", &name);
    }
}
