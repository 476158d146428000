//! Parameter values: the text a client sends, checked against a [`Param`] and turned into
//! its canonical text (`true`/`false` for booleans, plain digits for integers). The host
//! validates every request with these functions, and the manifest rules check defaults and
//! allowed values with them, so a default that passes here is a value the host accepts.

use crate::route::{Param, ParamKind};

/// A boolean's text forms: `true`/`1`/`yes`/`on` and `false`/`0`/`no`/`off`, any case.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The value's canonical text for its kind, or why it is not of that kind.
pub fn canonical(kind: ParamKind, raw: &str) -> Result<String, String> {
    match kind {
        ParamKind::String => Ok(raw.to_string()),
        ParamKind::Integer => raw
            .trim()
            .parse::<i64>()
            .map(|n| n.to_string())
            .map_err(|_| format!("must be an integer, got `{}`", shorten(raw))),
        ParamKind::Number => raw
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(|_| raw.trim().to_string())
            .ok_or_else(|| format!("must be a number, got `{}`", shorten(raw))),
        ParamKind::Boolean => parse_bool(raw)
            .map(|b| b.to_string())
            .ok_or_else(|| format!("must be true or false, got `{}`", shorten(raw))),
    }
}

/// Checks `raw` against the parameter's type, bounds, lengths and allowed set, and returns
/// its canonical text. The pattern is not checked here: the host checks it between
/// [`bounded`] and [`allowed`] with its compiled regex (see also [`check_pattern`]).
pub fn check(param: &Param, raw: &str) -> Result<String, String> {
    let value = bounded(param, raw)?;
    allowed(param, &value)?;
    Ok(value)
}

/// Checks `raw` as the host checks a request's parameter value: type, bounds and lengths
/// ([`bounded`]), then the pattern (compiled here, anchored), then the allowed set; returns
/// the canonical text. For native test hosts (the SDK's `testing` feature); the host does
/// the same with patterns it compiled once at load.
#[cfg(feature = "regex")]
pub fn check_request_value(param: &Param, raw: &str) -> Result<String, String> {
    let canonical = bounded(param, raw)?;
    if let Some(pattern) = &param.pattern {
        let regex = regex::Regex::new(&anchored(pattern))
            .map_err(|e| format!("has an invalid pattern `{pattern}`: {e}"))?;
        if !regex.is_match(&canonical) {
            return Err(format!("must match the pattern `{pattern}`"));
        }
    }
    allowed(param, &canonical)?;
    Ok(canonical)
}

/// Checks the closed set of allowed values (if any) on a canonical value.
pub fn allowed(param: &Param, value: &str) -> Result<(), String> {
    if !param.allowed.is_empty() && !param.allowed.iter().any(|a| a == value) {
        return Err(format!("must be one of: {}", param.allowed.join(", ")));
    }
    Ok(())
}

/// Checks `raw` against the parameter's type, bounds and lengths, and returns its canonical
/// text.
pub fn bounded(param: &Param, raw: &str) -> Result<String, String> {
    let value = canonical(param.kind, raw)?;
    match param.kind {
        ParamKind::String => {
            let len = raw.chars().count() as u64;
            if let Some(min) = param.min_length
                && len < u64::from(min)
            {
                return Err(format!("must be at least {min} characters long"));
            }
            if let Some(max) = param.max_length
                && len > u64::from(max)
            {
                return Err(format!("must be at most {max} characters long"));
            }
        }
        ParamKind::Integer => {
            // Compared exactly, against the bounds' integer parts: an integer beyond 2^53 has
            // no exact f64, so `n as f64 <= max` would let `max + 1` through.
            let n = value
                .parse::<i64>()
                .map(i128::from)
                .map_err(|_| format!("must be an integer, got `{}`", shorten(raw)))?;
            if let Some(min) = param.minimum
                && n < min.ceil() as i128
            {
                return Err(format!("must be ≥ {min}"));
            }
            if let Some(max) = param.maximum
                && n > max.floor() as i128
            {
                return Err(format!("must be ≤ {max}"));
            }
        }
        ParamKind::Number => {
            let n: f64 = value.parse().unwrap_or(f64::NAN);
            if let Some(min) = param.minimum
                && n < min
            {
                return Err(format!("must be ≥ {min}"));
            }
            if let Some(max) = param.maximum
                && n > max
            {
                return Err(format!("must be ≤ {max}"));
            }
        }
        ParamKind::Boolean => {}
    }
    Ok(value)
}

/// The anchored form of a parameter pattern: the whole value must match.
pub fn anchored(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

/// Checks that a pattern compiles (with the `regex` feature, as the host's engine does;
/// without it, only that it is not empty).
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("empty pattern".into());
    }
    #[cfg(feature = "regex")]
    {
        regex::Regex::new(&anchored(pattern)).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::ParamLocation;

    #[cfg(feature = "regex")]
    #[test]
    fn request_values_check_the_anchored_pattern_between_bounds_and_allowed() {
        let mut p = Param::new("name", ParamLocation::Path);
        p.pattern = Some("[a-z]+".into());
        p.max_length = Some(5);
        assert_eq!(check_request_value(&p, "abc"), Ok("abc".into()));
        let partial = check_request_value(&p, "abc1").expect_err("anchored");
        assert!(partial.contains("pattern"), "{partial}");
        let long = check_request_value(&p, "abcdefg").expect_err("too long");
        assert!(long.contains("at most 5"), "{long}");
        p.allowed = vec!["abd".into()];
        assert!(check_request_value(&p, "abc").is_err());
    }

    #[test]
    fn values_are_checked_and_made_canonical() {
        let mut p = Param::new("n", ParamLocation::Query);
        p.kind = ParamKind::Integer;
        p.minimum = Some(1.0);
        p.maximum = Some(5.0);
        assert_eq!(check(&p, " 3 "), Ok("3".into()));
        assert!(check(&p, "9").is_err());
        assert!(check(&p, "x").is_err());
        p.kind = ParamKind::Boolean;
        p.minimum = None;
        p.maximum = None;
        for (raw, want) in [
            ("yes", "true"),
            ("ON", "true"),
            ("0", "false"),
            ("off", "false"),
        ] {
            assert_eq!(check(&p, raw).as_deref(), Ok(want), "{raw}");
        }
        assert!(check(&p, "maybe").is_err());
        let mut s = Param::new("s", ParamLocation::Query);
        s.max_length = Some(3);
        s.allowed = vec!["a".into(), "bb".into()];
        assert!(check(&s, "abcd").is_err());
        assert!(check(&s, "c").is_err());
        assert_eq!(check(&s, "bb"), Ok("bb".into()));
        assert!(check_pattern("").is_err());
    }

    /// Regression (property tests): integers were compared with their bounds as f64, so
    /// 2^53 + 1 passed a maximum of 2^53 (both are the same f64).
    #[test]
    fn integer_bounds_are_exact_beyond_2_pow_53() {
        let mut p = Param::new("n", ParamLocation::Query);
        p.kind = ParamKind::Integer;
        let two_53: i64 = 1 << 53;
        p.maximum = Some(two_53 as f64);
        assert_eq!(check(&p, &two_53.to_string()), Ok(two_53.to_string()));
        assert!(check(&p, &(two_53 + 1).to_string()).is_err());
        p.maximum = None;
        p.minimum = Some(-(two_53 as f64));
        assert!(check(&p, &(-two_53 - 1).to_string()).is_err());
        p.minimum = Some(i64::MIN as f64);
        assert_eq!(check(&p, &i64::MIN.to_string()), Ok(i64::MIN.to_string()));
    }
}
