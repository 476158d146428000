//! Shared helpers of the parsers' property tests (this crate's and the plugins', which
//! include this file with `#[path]`): the real fixtures, strategies that mangle them or make
//! noise, and a watchdog that turns a parser that never returns into a failure naming the
//! input.
//!
//! Mangling works on text, as every parser takes `&str`: a command's bytes reach a parser
//! through a lossy UTF-8 conversion, so "invalid UTF-8" arrives as U+FFFD, which the byte
//! flips below produce the same way.

// Native test helpers: the guests' ban on `std::fs` (plugins/clippy.toml) is not for them.
#![allow(clippy::disallowed_methods)]
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use std::sync::mpsc;
use std::time::Duration;

/// How long one parser call may take on one input before the case fails as a hang. Inputs
/// are at most a few MiB, so any parser that is not quadratic finishes well within this, in
/// debug builds too.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The property-test configuration of a suite: `cases` cases (or `$PROPTEST_CASES`, for a
/// longer search), a fixed seed so that CI runs are repeatable (or `$PROPTEST_RNG_SEED`, to
/// search elsewhere), no regression files written into the source tree (a failure prints
/// its minimal input; add it as a unit test of the parser).
pub fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    let defaults = Config::default();
    let rng_seed = match defaults.rng_seed {
        RngSeed::Random => RngSeed::Fixed(0x1f_2e_3d_4c),
        seed => seed,
    };
    Config {
        cases,
        rng_seed,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..defaults
    }
}

/// The text of every file directly in the fixture directories `dirs` (relative to
/// `tests/fixtures`), sorted by path; panics when none is found, so a lost directory fails.
pub fn fixture_texts(dirs: &[&str]) -> Vec<String> {
    let root = infrastructor_sdk::testing::root();
    let mut texts = Vec::new();
    for dir in dirs {
        for name in infrastructor_sdk::testing::fixture_dir(dir) {
            let path = format!("{root}/{dir}/{name}");
            if std::path::Path::new(&path).is_file() {
                let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                texts.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    assert!(!texts.is_empty(), "no fixture files in {dirs:?}");
    texts
}

/// Runs `parse` on `input` in a thread of its own and returns its result; fails the case
/// (naming the input's length and start) when it has not returned within [`DEADLINE`], and
/// passes a panic on.
pub fn finishes<R: Send + 'static>(
    input: &str,
    parse: impl FnOnce(String) -> R + Send + 'static,
) -> R {
    let (tx, rx) = mpsc::channel();
    let owned = input.to_string();
    let handle = std::thread::spawn(move || {
        let out = parse(owned);
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!(
            "parser still running after {DEADLINE:?} on an input of {} bytes starting {:?}",
            input.len(),
            input.chars().take(120).collect::<String>()
        ),
    }
}

/// Characters that parsers of command output and config files treat specially, plus
/// control characters, the replacement character of a lossy conversion and a right-to-left
/// override.
const PALETTE: &[char] = &[
    '\0', '\r', '\n', '\t', ' ', '\u{b}', '\u{c}', '\u{7f}', '\u{fffd}', '\u{202e}', 'é', '€',
    '😀', ';', '{', '}', '[', ']', '(', ')', '"', '\'', '`', '\\', '#', ':', ',', '=', '-', '+',
    '/', '|', '%', '$', '*', '.', '0', '1', '9', 'a', 'Z', '<', '>', '@', '!', '?', '~',
];

/// One palette character.
pub fn palette_char() -> impl Strategy<Value = char> {
    prop::sample::select(PALETTE)
}

/// Short texts of palette characters, arbitrary characters and whole tokens that look like
/// the outputs' (numbers of every size, `-`, units).
pub fn noise() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => palette_char().prop_map(String::from),
        2 => any::<char>().prop_map(String::from),
        1 => prop::sample::select(&[
            "0", "-1", "18446744073709551615", "18446744073709551616", "99999999999999999999999",
            "1e999", "NaN", "-", "--", "  ", "\n\n", "\r\n", "K", "M", "G", "T", "P", "E", "%",
            "null", "true", "{}", "[]", "\"\"", "::", ":::", "0.0.0.0:", "[::]:", "->", "/tcp",
            "ago", "Up", "(healthy)", "ONLINE", "DEGRADED", "-\t", "\t-\t", "${", "}\"",
        ][..])
        .prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..48).prop_map(|v| v.concat())
}

/// Lines of [`noise`], joined with `\n`.
pub fn noise_lines() -> impl Strategy<Value = String> {
    prop::collection::vec(noise(), 0..24).prop_map(|v| v.join("\n"))
}

/// One change to a text.
#[derive(Debug, Clone)]
pub enum Mangle {
    /// Keep the first `fraction` (‰) of the text.
    Truncate(u16),
    /// XOR one byte (at ‰ of the length) with a mask, then convert lossily.
    FlipByte(u16, u8),
    /// Replace the character at ‰ of the length with another.
    ReplaceChar(u16, char),
    /// Insert a text at ‰ of the length.
    Insert(u16, String),
    /// Duplicate line number (‰ of the line count).
    DuplicateLine(u16),
    /// Drop a line.
    DropLine(u16),
    /// Shuffle the lines with a seed.
    ShuffleLines(u64),
    /// Insert a line of `len` bytes made by repeating a line of the text (or `x`).
    HugeLine(u16, u32),
    /// Turn every `\n` into `\r\n`.
    CrLf,
    /// Replace every run of digits with another number text.
    Numbers(&'static str),
    /// Remove every occurrence of a character.
    Remove(char),
}

/// One [`Mangle`].
pub fn mangle() -> impl Strategy<Value = Mangle> {
    let permille = 0u16..=1000;
    prop_oneof![
        3 => permille.clone().prop_map(Mangle::Truncate),
        3 => (permille.clone(), 1u8..=255).prop_map(|(p, m)| Mangle::FlipByte(p, m)),
        3 => (permille.clone(), palette_char()).prop_map(|(p, c)| Mangle::ReplaceChar(p, c)),
        2 => (permille.clone(), noise()).prop_map(|(p, s)| Mangle::Insert(p, s)),
        2 => permille.clone().prop_map(Mangle::DuplicateLine),
        2 => permille.clone().prop_map(Mangle::DropLine),
        1 => any::<u64>().prop_map(Mangle::ShuffleLines),
        1 => (permille.clone(), 1_000u32..200_000).prop_map(|(p, n)| Mangle::HugeLine(p, n)),
        1 => Just(Mangle::CrLf),
        1 => prop::sample::select(&["99999999999999999999999", "-1", "0", "1.5", "1e308", ""][..])
            .prop_map(Mangle::Numbers),
        1 => palette_char().prop_map(Mangle::Remove),
    ]
}

fn at(text: &str, permille: u16) -> usize {
    let mut i = text.len() * usize::from(permille) / 1000;
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn line_index(count: usize, permille: u16) -> usize {
    (count * usize::from(permille) / 1001).min(count.saturating_sub(1))
}

/// `text` with `change` applied.
pub fn apply(text: &str, change: &Mangle) -> String {
    let lines = || text.split('\n').map(str::to_string).collect::<Vec<_>>();
    match change {
        Mangle::Truncate(p) => text[..at(text, *p)].to_string(),
        Mangle::FlipByte(p, mask) => {
            let mut bytes = text.as_bytes().to_vec();
            if !bytes.is_empty() {
                let i = (bytes.len() * usize::from(*p) / 1001).min(bytes.len() - 1);
                bytes[i] ^= mask;
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Mangle::ReplaceChar(p, c) => {
            let i = at(text, *p);
            let mut out = text[..i].to_string();
            out.push(*c);
            out.push_str(text[i..].chars().skip(1).collect::<String>().as_str());
            out
        }
        Mangle::Insert(p, s) => {
            let i = at(text, *p);
            format!("{}{s}{}", &text[..i], &text[i..])
        }
        Mangle::DuplicateLine(p) => {
            let mut l = lines();
            let i = line_index(l.len(), *p);
            let copy = l[i].clone();
            l.insert(i, copy);
            l.join("\n")
        }
        Mangle::DropLine(p) => {
            let mut l = lines();
            let i = line_index(l.len(), *p);
            l.remove(i);
            l.join("\n")
        }
        Mangle::ShuffleLines(seed) => {
            let mut l = lines();
            let mut state = *seed | 1;
            for i in (1..l.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let j = (state % (i as u64 + 1)) as usize;
                l.swap(i, j);
            }
            l.join("\n")
        }
        Mangle::HugeLine(p, len) => {
            let mut l = lines();
            let i = line_index(l.len(), *p);
            let unit = if l[i].is_empty() {
                "x".to_string()
            } else {
                l[i].clone()
            };
            let huge: String = unit.repeat(*len as usize / unit.len() + 1);
            l.insert(i, huge);
            l.join("\n")
        }
        Mangle::CrLf => text.replace('\n', "\r\n"),
        Mangle::Numbers(with) => {
            let mut out = String::with_capacity(text.len());
            let mut in_digits = false;
            for c in text.chars() {
                if c.is_ascii_digit() {
                    if !in_digits {
                        out.push_str(with);
                    }
                    in_digits = true;
                } else {
                    in_digits = false;
                    out.push(c);
                }
            }
            out
        }
        Mangle::Remove(c) => text.replace(*c, ""),
    }
}

/// A fixture of `texts` with one to four [`Mangle`]s applied.
pub fn mangled(texts: Vec<String>) -> impl Strategy<Value = String> {
    (
        prop::sample::select(texts),
        prop::collection::vec(mangle(), 1..5),
    )
        .prop_map(|(text, changes)| changes.iter().fold(text, |t, c| apply(&t, c)))
}

/// Inputs for a parser of `texts`' kind: mostly mangled fixtures, some unchanged ones, some
/// noise.
pub fn inputs(texts: Vec<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => mangled(texts.clone()),
        1 => prop::sample::select(texts),
        2 => noise_lines(),
    ]
}

/// One change to a JSON value, at the node found by walking with `path` (each step picks a
/// child by index modulo the child count).
#[derive(Debug, Clone)]
pub struct JsonMangle {
    /// How to walk down to the node.
    pub path: Vec<u16>,
    /// What to put there.
    pub with: JsonNode,
}

/// A replacement JSON node.
#[derive(Debug, Clone)]
pub enum JsonNode {
    /// A fixed value.
    Value(serde_json::Value),
    /// Remove the node (from its object or array).
    Remove,
    /// Wrap the node in an array.
    WrapInArray,
    /// Nest the node `n` levels deep in objects.
    Nest(u16),
}

/// One [`JsonMangle`].
pub fn json_mangle() -> impl Strategy<Value = JsonMangle> {
    use serde_json::{Value, json};
    let value = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        prop::sample::select(&[-1.5f64, 0.5, 1e308, -1e308, 3.0][..]).prop_map(|n| json!(n)),
        noise().prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        Just(json!([null, 1, "x"])),
        Just(json!({"": null})),
    ];
    let with = prop_oneof![
        6 => value.prop_map(JsonNode::Value),
        2 => Just(JsonNode::Remove),
        1 => Just(JsonNode::WrapInArray),
        1 => (1u16..400).prop_map(JsonNode::Nest),
    ];
    (prop::collection::vec(any::<u16>(), 0..8), with)
        .prop_map(|(path, with)| JsonMangle { path, with })
}

fn apply_json(value: &mut serde_json::Value, change: &JsonMangle) {
    use serde_json::Value;
    let mut node = value;
    for (depth, step) in change.path.iter().enumerate() {
        let last = depth + 1 == change.path.len();
        let count = match &*node {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            _ => 0,
        };
        if count == 0 {
            break;
        }
        let i = usize::from(*step) % count;
        if last && matches!(change.with, JsonNode::Remove) {
            match node {
                Value::Array(a) => {
                    a.remove(i);
                }
                Value::Object(o) => {
                    if let Some(k) = o.keys().nth(i).cloned() {
                        o.remove(&k);
                    }
                }
                _ => {}
            }
            return;
        }
        node = match node {
            Value::Array(a) => &mut a[i],
            Value::Object(o) => match o.values_mut().nth(i) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    match &change.with {
        JsonNode::Value(v) => *node = v.clone(),
        JsonNode::Remove => *node = Value::Null,
        JsonNode::WrapInArray => *node = Value::Array(vec![node.take()]),
        JsonNode::Nest(n) => {
            for _ in 0..*n {
                let inner = node.take();
                *node = serde_json::json!({ "x": inner });
            }
        }
    }
}

/// The JSON documents of `texts` (whole documents, or each line of JSON lines) with one to
/// four structural changes each, printed back (compact, or pretty as the tools print).
pub fn json_mangled(texts: Vec<String>) -> impl Strategy<Value = String> {
    let docs: Vec<Vec<serde_json::Value>> = texts
        .iter()
        .filter_map(|t| match serde_json::from_str::<serde_json::Value>(t) {
            Ok(v) => Some(vec![v]),
            Err(_) => t
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(serde_json::from_str::<serde_json::Value>)
                .collect::<Result<Vec<_>, _>>()
                .ok()
                .filter(|v| !v.is_empty()),
        })
        .collect();
    assert!(!docs.is_empty(), "no JSON among the fixtures");
    (
        prop::sample::select(docs),
        prop::collection::vec(json_mangle(), 1..5),
        any::<bool>(),
    )
        .prop_map(|(mut doc, changes, pretty)| {
            for (k, change) in changes.iter().enumerate() {
                let n = doc.len();
                apply_json(&mut doc[k % n], change);
            }
            let print = |v: &serde_json::Value| {
                if pretty {
                    serde_json::to_string_pretty(v).unwrap_or_default()
                } else {
                    serde_json::to_string(v).unwrap_or_default()
                }
            };
            if doc.len() == 1 {
                print(&doc[0])
            } else {
                doc.iter().map(print).collect::<Vec<_>>().join("\n")
            }
        })
}

/// The number of lines of `text` (as `str::lines` counts them), at least 1: the bound on
/// how many records a line-based parser may find.
pub fn line_count(text: &str) -> usize {
    text.lines().count().max(1)
}
