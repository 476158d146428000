//! Property tests of the containers plugin's parsers (`docker inspect`, `docker logs`,
//! `docker stats`) and of the two checks on caller input that reaches a docker command
//! line (container references, exec command strings).

#[path = "../../parsers/tests/support/mod.rs"]
mod support;

use crate::parse::{inspect, logs, names, stats};
use proptest::prelude::*;
use support::{config, finishes, fixture_texts, inputs, json_mangled, line_count, noise};

fn docker() -> Vec<String> {
    fixture_texts(&["docker"])
}

proptest! {
    #![proptest_config(config(192))]

    #[test]
    fn inspect_output(text in prop_oneof![inputs(docker()), json_mangled(docker())]) {
        finishes(&text, |t| drop(inspect::parse_inspect(&t)));
    }

    #[test]
    fn log_lines(text in inputs(fixture_texts(&["docker", "vms"])), timestamps in any::<bool>()) {
        let n = finishes(&text, move |t| logs::parse_logs(&t, timestamps).map(|v| v.len()));
        if let Ok(n) = n { prop_assert!(n <= line_count(&text)); }
    }

    #[test]
    fn stats_output(text in prop_oneof![inputs(docker()), json_mangled(docker())]) {
        let (a, b) = finishes(&text, |t| (
            stats::parse_stats(&t).map(|v| v.len()),
            stats::parse_stats_table(&t).map(|v| v.len()),
        ));
        if let Ok(n) = a { prop_assert!(n <= line_count(&text)); }
        if let Ok(n) = b { prop_assert!(n <= line_count(&text)); }
    }

    /// An accepted reference can never be read as an option or reach a shell as anything
    /// but one word: it starts with a letter or digit and holds only `[A-Za-z0-9_.-]`.
    #[test]
    fn container_refs_refused(text in prop_oneof![noise(), "-{1,2}[a-z]{1,8}", "[a-z]{1,8}[;|&$`() *]"]) {
        if names::validate_container_ref(&text).is_ok() {
            prop_assert!(text.starts_with(|c: char| c.is_ascii_alphanumeric()));
            prop_assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')));
            prop_assert!(text.chars().count() <= names::MAX_CONTAINER_REF_LEN);
        }
    }

    /// Every reference the declared pattern describes is accepted.
    #[test]
    fn container_refs_accepted(text in "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}") {
        prop_assert!(names::validate_container_ref(&text).is_ok(), "{text:?}");
    }

    /// An exec command string becomes an argv whose words, quoted again, split back to the
    /// same argv; no word holds a NUL.
    #[test]
    fn exec_commands_split(text in prop_oneof![noise(), any::<String>(), "[a-z '\"\\\\$;|&]{0,40}"]) {
        if let Ok(argv) = names::split_command(&text) {
            prop_assert!(!argv.is_empty());
            prop_assert!(argv.iter().all(|w| !w.contains('\0')));
            let joined = shlex::try_join(argv.iter().map(String::as_str)).expect("no NUL");
            prop_assert_eq!(names::split_command(&joined).ok(), Some(argv));
        }
    }
}
