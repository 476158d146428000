//! `ss -tulpn`, `netstat -tulpn` and their fields.
#![no_main]
use infrastructor_parsers::{ss, tokens};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count().max(1);
    if let Ok(s) = ss::parse_ss(&text) {
        assert!(s.len() <= lines);
    }
    if let Ok(s) = ss::parse_netstat(&text) {
        assert!(s.len() <= lines);
    }
    for line in text.lines().take(64) {
        let _ = ss::parse_endpoint(line);
        let _ = ss::parse_users(line);
        for (at, token) in tokens::spans(line) {
            assert_eq!(&line[at..at + token.len()], token);
        }
    }
});
