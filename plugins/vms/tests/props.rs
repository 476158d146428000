//! Property tests of the vms plugin's parsers (`virsh list --all`, `virsh dominfo`) on
//! random text and mangled real fixtures, and of the VM name check that guards every name
//! on a `virsh` command line.

#[path = "../../parsers/tests/support/mod.rs"]
mod support;

use crate::parse;
use proptest::prelude::*;
use support::{config, finishes, fixture_texts, inputs, line_count, noise};

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn virsh_outputs(text in inputs(fixture_texts(&["vms"]))) {
        let n = finishes(&text, |t| {
            let _ = parse::parse_dominfo(&t);
            parse::parse_list(&t).map(|v| v.len())
        });
        if let Ok(n) = n { prop_assert!(n <= line_count(&text)); }
    }

    /// A name that passes can be neither an option nor a path nor more than one word, and
    /// every name of the declared pattern passes.
    #[test]
    fn vm_names(text in prop_oneof![noise(), "-[a-z]{1,8}", "\\.\\./[a-z]{1,8}"], good in "[A-Za-z0-9_][A-Za-z0-9_.+:-]{0,127}") {
        if parse::is_vm_name(&text) {
            prop_assert!(!text.starts_with(['-', '.']), "{text:?}");
            prop_assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || "_.+:-".contains(c)), "{text:?}");
        }
        prop_assert!(parse::is_vm_name(&good), "{good:?}");
    }
}
