//! `journalctl -o json` and `--since` values.
#![no_main]
use infrastructor_parsers::journal;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = journal::parse_journal_json(&text);
    if let Ok(since) = journal::journal_since(&text) {
        assert!(
            since
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | ':' | '-')),
            "{since:?}"
        );
    }
});
