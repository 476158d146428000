//! Reading the real command outputs in the repository's `tests/fixtures`. Both readers panic
//! with the path on a missing fixture, so a lost file fails the test loudly.

// Native test helpers: the guests' ban on `std::fs` (plugins/clippy.toml) is not for them.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

/// Where the fixtures are: `$INFRA_FIXTURES` when set, else the first `tests/fixtures` found
/// walking up from the current directory (cargo runs a crate's tests in the crate's own
/// directory, so every plugin of the repository finds the repository's fixtures).
pub fn root() -> String {
    if let Some(dir) = std::env::var_os("INFRA_FIXTURES") {
        return PathBuf::from(dir).display().to_string();
    }
    let cwd = std::env::current_dir().unwrap_or_else(|e| panic!("current directory: {e}"));
    cwd.ancestors()
        .map(|dir| dir.join("tests/fixtures"))
        .find(|dir| Path::is_dir(dir))
        .unwrap_or_else(|| {
            panic!(
                "no tests/fixtures above {}; set INFRA_FIXTURES",
                cwd.display()
            )
        })
        .display()
        .to_string()
}

/// The text of the fixture at `relative` (`docker/docker-ps_single.txt`).
pub fn fixture(relative: &str) -> String {
    let path = format!("{}/{relative}", root());
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// The file names in the fixture directory `relative`, sorted; panics when it is missing or
/// empty.
pub fn fixture_dir(relative: &str) -> Vec<String> {
    let path = format!("{}/{relative}", root());
    let mut names: Vec<String> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("fixture dir {path}: {e}"))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("fixture dir {path}: {e}"))
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "fixture dir {path} is empty");
    names
}

/// Broken copies of `text` for no-panic tests: `cuts` truncations at evenly spaced places
/// (on character boundaries), the lines reversed, and the text without spaces and with
/// colons turned into spaces.
pub fn mangled_variants(text: &str, cuts: usize) -> Vec<String> {
    let mut variants: Vec<String> = (1..cuts)
        .map(|k| text.len() * k / cuts)
        .map(|n| {
            (0..=n)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0)
        })
        .map(|n| text[..n].to_string())
        .collect();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.reverse();
    variants.push(lines.join("\n"));
    variants.push(text.replace(' ', ""));
    variants.push(text.replace(':', " "));
    variants
}
