//! The host's parameter checks: a declaration (from the first line, as JSON) and a value
//! (the rest), checked as the host does (bounds and lengths, the compiled pattern, the
//! allowed set). A value that passes is within its declaration.
#![no_main]
use infrastructor_manifest::{Param, ParamKind, value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (decl, raw) = text.split_once('\n').unwrap_or(("", &text));
    let Ok(param) = serde_json::from_str::<Param>(decl) else {
        return;
    };
    let Ok(v) = value::bounded(&param, raw) else {
        return;
    };
    if let Some(pattern) = &param.pattern {
        if value::check_pattern(pattern).is_err() {
            return;
        }
        let Ok(re) = regex::Regex::new(&value::anchored(pattern)) else {
            return;
        };
        if !re.is_match(&v) {
            return;
        }
    }
    if value::allowed(&param, &v).is_err() {
        return;
    }
    match param.kind {
        ParamKind::Integer => {
            let n: i64 = v.parse().expect("canonical integer");
            if let Some(max) = param.maximum.filter(|m| m.is_finite()) {
                assert!(i128::from(n) <= max.floor() as i128);
            }
            if let Some(min) = param.minimum.filter(|m| m.is_finite()) {
                assert!(i128::from(n) >= min.ceil() as i128);
            }
        }
        ParamKind::Number => assert!(v.parse::<f64>().is_ok_and(f64::is_finite)),
        ParamKind::Boolean => assert!(v == "true" || v == "false"),
        ParamKind::String => {
            let len = v.chars().count() as u64;
            assert!(param.max_length.is_none_or(|m| len <= u64::from(m)));
        }
    }
});
