//! Property tests of the manifest rules: parameter values of any text never panic and a
//! value that passes is within its declared type, bounds, lengths and allowed set (and is
//! its own canonical form); capabilities, exec patterns and quotas round-trip through
//! their text form, and `within` never lets a narrower pattern match what the wider one
//! refuses; manifests decoded from arbitrary or mangled JSON validate without panicking.

use crate::value;
use crate::{
    ArgPattern, Capability, ExecPattern, Manifest, Param, ParamKind, ParamLocation, Quota,
    normalise_template, template_params, validate_mount,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// A fixed seed (or `$PROPTEST_RNG_SEED`) and no regression files in the source tree.
fn config(cases: u32) -> Config {
    let defaults = Config::default();
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases),
        rng_seed: match defaults.rng_seed {
            RngSeed::Random => RngSeed::Fixed(0x5eed),
            seed => seed,
        },
        failure_persistence: None,
        ..defaults
    }
}

/// Text a client could send: anything, numbers of every form, booleans' words.
fn raw() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ ]?-?[0-9]{1,20}[ ]?",
        "-?[0-9]{0,4}\\.?[0-9]{0,4}(e-?[0-9]{1,3})?",
        any::<i64>().prop_map(|n| n.to_string()),
        // Around 2^53, where f64 stops holding every integer, and the ends of i64.
        (9_007_199_254_740_980i64..9_007_199_254_741_010).prop_map(|n| n.to_string()),
        (-9_007_199_254_741_010i64..-9_007_199_254_740_980).prop_map(|n| n.to_string()),
        prop_oneof![i64::MAX - 3..=i64::MAX, i64::MIN..=i64::MIN + 3].prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        prop::sample::select(
            &[
                "true",
                "FALSE",
                "yes",
                "On",
                "0",
                "1",
                "NaN",
                "inf",
                "-inf",
                "1e999",
                "",
                "9007199254740993",
                "-9223372036854775808",
                "9223372036854775808",
                " 7 ",
            ][..]
        )
        .prop_map(str::to_string),
    ]
}

/// Integers anywhere, and many around ±2^53 and the ends of i64.
fn wide_integer() -> impl Strategy<Value = i64> {
    const TWO_53: i64 = 1 << 53;
    prop_oneof![
        any::<i64>(),
        TWO_53 - 4..TWO_53 + 4,
        -TWO_53 - 4..-TWO_53 + 4,
        i64::MAX - 4..=i64::MAX,
        i64::MIN..=i64::MIN + 4,
    ]
}

fn bound() -> impl Strategy<Value = Option<f64>> {
    proptest::option::of(prop_oneof![
        -1000.0f64..1000.0,
        (-1000i64..1000).prop_map(|n| n as f64),
        Just(9_007_199_254_740_992.0),
        Just(-9_007_199_254_740_992.0),
        Just(i64::MAX as f64),
        Just(i64::MIN as f64),
    ])
}

fn param() -> impl Strategy<Value = Param> {
    (
        prop::sample::select(
            &[
                ParamKind::String,
                ParamKind::Integer,
                ParamKind::Number,
                ParamKind::Boolean,
            ][..],
        ),
        bound(),
        bound(),
        proptest::option::of(0u32..20),
        proptest::option::of(0u32..40),
        prop::collection::vec("[a-z0-9]{0,4}", 0..3),
    )
        .prop_map(
            |(kind, minimum, maximum, min_length, max_length, allowed)| Param {
                kind,
                minimum,
                maximum,
                min_length,
                max_length,
                allowed,
                ..Param::new("p", ParamLocation::Query)
            },
        )
}

/// A random exec pattern: a program, literals and `*`, maybe `**` last.
fn exec_pattern() -> impl Strategy<Value = ExecPattern> {
    (
        "[a-z]{1,3}",
        prop::collection::vec(
            prop_oneof![
                "[a-z-]{1,3}".prop_map(ArgPattern::Literal),
                Just(ArgPattern::Any),
            ],
            0..4,
        ),
        any::<bool>(),
    )
        .prop_map(|(program, mut args, rest)| {
            if rest {
                args.push(ArgPattern::Rest);
            }
            ExecPattern { program, args }
        })
}

/// An argv `pattern` matches, with `extra` words for its wildcards.
fn argv_of(pattern: &ExecPattern, extra: &[String]) -> Vec<String> {
    let mut words = extra.iter().cycle();
    let mut argv = vec![pattern.program.clone()];
    for a in &pattern.args {
        match a {
            ArgPattern::Literal(l) => argv.push(l.clone()),
            ArgPattern::Any => argv.push(words.next().cloned().unwrap_or_default()),
            ArgPattern::Rest => argv.extend(extra.iter().take(extra.len() % 3).cloned()),
        }
    }
    argv
}

/// A manifest with one of everything, as JSON.
fn sample_manifest() -> serde_json::Value {
    let mut p = Param::new("hostname", ParamLocation::Path);
    p.pattern = Some("^[a-z]+$".into());
    p.max_length = Some(64);
    let mut q = Param::new("lines", ParamLocation::Query);
    q.kind = ParamKind::Integer;
    q.minimum = Some(1.0);
    q.maximum = Some(1000.0);
    q.default = Some("100".into());
    serde_json::json!({
        "name": "sample",
        "version": "0.1.0",
        "description": "d",
        "mount": "/sample",
        "routes": [{
            "method": "GET",
            "path": "/{hostname}/logs",
            "operation_id": "logs",
            "summary": "s",
            "description": "",
            "params": [p, q],
            "request_body": null,
            "response": "{\"type\":\"object\"}",
            "success_status": 200,
            "rate_limit": "60/minute",
            "mutates": false,
            "scope": null,
            "internal": false
        }],
        "scripts": [{"name": "s", "body": "echo \"$1\"", "programs": ["echo"]}],
        "parsers": ["p"],
        "collectors": [{
            "name": "c", "data_type": "t", "interval_secs": 60, "parser": "p",
            "steps": [{"name": "a", "command": {"argv": ["uptime"]}, "timeout_ms": 0}]
        }],
        "capabilities": ["exec:uptime", "exec:echo **", "collector", "storage"]
    })
}

/// `value` with the node `path` leads to (indices modulo child counts) replaced.
fn mangle(value: &mut serde_json::Value, path: &[u16], with: serde_json::Value) {
    let mut node = value;
    for step in path {
        let count = match &*node {
            serde_json::Value::Array(a) => a.len(),
            serde_json::Value::Object(o) => o.len(),
            _ => 0,
        };
        if count == 0 {
            break;
        }
        let i = usize::from(*step) % count;
        node = match node {
            serde_json::Value::Array(a) => &mut a[i],
            serde_json::Value::Object(o) => o.values_mut().nth(i).expect("i < count"),
            _ => unreachable!("only arrays and objects have children"),
        };
    }
    *node = with;
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(|b| json!(b)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u32>().prop_map(|n| json!(n)),
        any::<String>().prop_map(|s| json!(s)),
        "[a-z/{}*:-]{0,12}".prop_map(|s| json!(s)),
        Just(json!([])),
        Just(json!({})),
        Just(json!("exec:")),
        Just(json!("0/minute")),
        Just(json!("/{a}/{a}")),
        Just(json!("(")),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    /// A value that passes is of its kind, within its bounds, lengths and allowed set, and
    /// is its own canonical form.
    #[test]
    fn checked_values_are_within_bounds(p in param(), raw in raw()) {
        let Ok(v) = value::check(&p, &raw) else { return Ok(()) };
        let again = value::check(&p, &v);
        prop_assert_eq!(again.as_ref(), Ok(&v), "canonical form of {:?}", raw);
        if !p.allowed.is_empty() {
            prop_assert!(p.allowed.contains(&v));
        }
        match p.kind {
            ParamKind::String => {
                let len = v.chars().count() as u64;
                prop_assert!(p.min_length.is_none_or(|m| len >= u64::from(m)));
                prop_assert!(p.max_length.is_none_or(|m| len <= u64::from(m)));
            }
            ParamKind::Integer => {
                let n: i64 = v.parse().expect("an integer");
                // Exact comparisons (i128 against the bound's integer part), not f64.
                prop_assert!(p.minimum.is_none_or(|m| i128::from(n) >= m.ceil() as i128), "{n} < {:?}", p.minimum);
                prop_assert!(p.maximum.is_none_or(|m| i128::from(n) <= m.floor() as i128), "{n} > {:?}", p.maximum);
            }
            ParamKind::Number => {
                let n: f64 = v.parse().expect("a number");
                prop_assert!(n.is_finite());
                prop_assert!(p.minimum.is_none_or(|m| n >= m) && p.maximum.is_none_or(|m| n <= m));
            }
            ParamKind::Boolean => prop_assert!(v == "true" || v == "false"),
        }
    }

    /// An integer passes its bound exactly when it is mathematically within it, also where
    /// f64 no longer holds every integer (beyond 2^53) and at the ends of i64.
    #[test]
    fn integer_bounds_are_exact(n in wide_integer(), bound in wide_integer(), upper in any::<bool>()) {
        let mut p = Param::new("n", ParamLocation::Query);
        p.kind = ParamKind::Integer;
        let b = bound as f64;
        let within = if upper {
            p.maximum = Some(b);
            i128::from(n) <= b.floor() as i128
        } else {
            p.minimum = Some(b);
            i128::from(n) >= b.ceil() as i128
        };
        prop_assert_eq!(value::check(&p, &n.to_string()).is_ok(), within, "{} against {:?}", n, p);
    }

    #[test]
    fn patterns_and_names(text in any::<String>()) {
        let _ = value::check_pattern(&text);
        let _ = value::parse_bool(&text);
        let _ = template_params(&text);
        let _ = normalise_template(&text);
        let _ = validate_mount(&text);
        let _ = crate::is_plugin_name(&text);
    }

    /// Text forms round-trip: what parses prints back to something that parses to it.
    #[test]
    fn text_forms_round_trip(text in prop_oneof![
        any::<String>(),
        "exec:[a-z]{1,4}( ([a-z-]{1,3}|\\*|\\*\\*)){0,4}",
        "read-dir:[a-z_]{0,6}",
        "[0-9]{1,11}/(s|sec|second|m|min|minute|h|hour|d|day|week)",
    ]) {
        if let Ok(c) = Capability::parse(&text) {
            prop_assert!(c.check().is_ok());
            prop_assert_eq!(Capability::parse(&c.to_string()), Ok(c));
        }
        if let Ok(q) = Quota::parse(&text) {
            prop_assert!(q.check().is_ok());
            prop_assert_eq!(Quota::parse(&q.to_string()), Ok(q));
        }
    }

    /// `a.within(b)`: every argv `a` matches, `b` matches too.
    #[test]
    fn within_is_sound(a in exec_pattern(), b in exec_pattern(), extra in prop::collection::vec("[a-z-]{1,3}", 0..5)) {
        prop_assert!(a.within(&a));
        let argv = argv_of(&a, &extra);
        prop_assert!(a.matches(&argv), "{a} does not match {argv:?}");
        if a.within(&b) {
            prop_assert!(b.matches(&argv), "{a} within {b} but {argv:?}");
        }
        let text = a.to_string();
        prop_assert_eq!(ExecPattern::parse(&text), Ok(a));
    }

    /// Manifests from mangled JSON: decoding fails or validation answers; nothing panics.
    #[test]
    fn mangled_manifests_validate(changes in prop::collection::vec((prop::collection::vec(any::<u16>(), 0..6), json_value()), 0..4)) {
        let mut json = sample_manifest();
        for (path, with) in changes {
            mangle(&mut json, &path, with);
        }
        if let Ok(m) = serde_json::from_value::<Manifest>(json) {
            let _ = m.validate();
            let _ = m.validate_v0_1();
        }
    }
}

/// The sample manifest itself is valid (so the mangled ones start from a valid one).
#[test]
fn sample_manifest_is_valid() {
    let m: Manifest = serde_json::from_value(sample_manifest()).expect("decodes");
    m.validate().expect("valid");
}
