//! A request checked against its route's declarations, before any handler runs: the path
//! and query parameters (one value each, checked, defaults applied, undeclared query
//! parameters dropped) and, with the `body` feature, a JSON body against the route's schema.
//!
//! The server applies exactly these rules, and the SDK's native test host applies them the
//! same way, so a handler test sees what the server would let through.

use std::ops::Deref;

use crate::route::{Param, ParamLocation};

/// Why a request is refused (the server answers 422): the field, where it was
/// (`path parameter`, `query parameter`, `body field` or `request`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The parameter or body field (`spec.ports.0`), or `body` for the body as a whole.
    pub field: String,
    /// Where the field was.
    pub location: &'static str,
    /// Why it was refused.
    pub reason: String,
}

impl Refusal {
    /// A refusal of `field` at `location`.
    pub fn new(field: &str, location: &'static str, reason: impl Into<String>) -> Refusal {
        Refusal {
            field: field.to_string(),
            location,
            reason: reason.into(),
        }
    }
}

/// The stable machine-readable code of an HTTP error status (`NOT_FOUND`, `TIMEOUT`…), as
/// the server's error envelopes and failed jobs carry it.
pub fn code_for_status(status: u16) -> &'static str {
    match status {
        400 => "BAD_REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        408 => "REQUEST_TIMEOUT",
        409 => "CONFLICT",
        413 => "PAYLOAD_TOO_LARGE",
        415 => "UNSUPPORTED_MEDIA_TYPE",
        422 => "VALIDATION_ERROR",
        429 => "RATE_LIMITED",
        502 => "UPSTREAM_ERROR",
        503 => "SERVICE_UNAVAILABLE",
        504 => "TIMEOUT",
        s if s >= 500 => "INTERNAL_ERROR",
        _ => "ERROR",
    }
}

/// Name/value pairs in declaration order.
pub type Pairs = Vec<(String, String)>;

/// The one value of `name` among `pairs`: `None` when absent, refused (at `location`)
/// when given more than once.
pub fn single<'a>(
    pairs: &'a [(String, String)],
    name: &str,
    location: &'static str,
) -> Result<Option<&'a str>, Refusal> {
    let mut values = pairs.iter().filter(|(k, _)| k == name);
    match (values.next(), values.next()) {
        (Some(_), Some(_)) => Err(Refusal::new(name, location, "given more than once")),
        (Some((_, v)), None) => Ok(Some(v.as_str())),
        (None, _) => Ok(None),
    }
}

/// Checks the declared parameters of a route: per declaration, its one value checked by
/// `check` (which returns the canonical text), else its default, else refused when
/// required. Returns (path params, query params) in declaration order; undeclared query
/// parameters are dropped.
///
/// `P` is the declaration as the caller keeps it (the host keeps each with its compiled
/// pattern); `check` is where the pattern is applied.
pub fn validate_params<P: Deref<Target = Param>>(
    params: &[P],
    path: &[(String, String)],
    query: &[(String, String)],
    check: impl Fn(&P, &str) -> Result<String, String>,
) -> Result<(Pairs, Pairs), Refusal> {
    let mut path_out = Vec::new();
    let mut query_out = Vec::new();
    for spec in params {
        let (source, location) = match spec.location {
            ParamLocation::Path => (path, "path parameter"),
            ParamLocation::Query => (query, "query parameter"),
        };
        let checked = match (single(source, &spec.name, location)?, &spec.default) {
            (Some(v), _) => {
                Some(check(spec, v).map_err(|r| Refusal::new(&spec.name, location, r))?)
            }
            (None, Some(d)) => Some(d.clone()),
            (None, None) if spec.is_required() => {
                return Err(Refusal::new(&spec.name, location, "is required"));
            }
            (None, None) => None,
        };
        if let Some(v) = checked {
            match spec.location {
                ParamLocation::Path => path_out.push((spec.name.clone(), v)),
                ParamLocation::Query => query_out.push((spec.name.clone(), v)),
            }
        }
    }
    Ok((path_out, query_out))
}

/// Compiles a route's body schema (the `draft` its `$schema` names, else the newest).
#[cfg(feature = "body")]
pub fn body_validator(schema: &serde_json::Value) -> Result<jsonschema::Validator, String> {
    jsonschema::validator_for(schema).map_err(|e| e.to_string())
}

/// Parses a JSON body and checks it against a compiled schema. An empty body counts as
/// `{}`: a schema whose fields are all optional accepts it, one with required fields names
/// the first missing one. Returns the body with integral floats written as integers (see
/// [`integral_floats_as_integers`]).
#[cfg(feature = "body")]
pub fn validate_body(
    validator: &jsonschema::Validator,
    bytes: &[u8],
) -> Result<serde_json::Value, Refusal> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        let reason = format!(
            "invalid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        );
        Refusal::new("body", "request", reason)
    })?;
    integral_floats_as_integers(&mut value);
    if let Some(error) = validator.iter_errors(&value).next() {
        let field = field_name(&error);
        return Err(Refusal::new(&field, "body field", error.to_string()));
    }
    Ok(value)
}

/// Writes every integral float (`8080.0`) as the integer it equals. JSON Schema's
/// `integer` counts such a number as an integer, so the body validates; a plugin reading the
/// field as a Rust integer must then get it in integer form, or a schema-valid body would be
/// refused by its deserialiser.
pub fn integral_floats_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                // Below 2^53 every integral f64 converts exactly.
                #[allow(clippy::cast_possible_truncation)]
                let i = f as i64;
                *value = Value::from(i);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// The dotted path of the field a schema error is about (`spec.ports.0`), with the missing
/// or unexpected property's own name for those errors; `body` for the body as a whole.
#[cfg(feature = "body")]
fn field_name(error: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::error::ValidationErrorKind;
    let pointer = error.instance_path().to_string();
    let field = pointer.trim_start_matches('/').replace('/', ".");
    let named = match error.kind() {
        ValidationErrorKind::Required { property } => {
            Some(property.as_str().unwrap_or_default().to_string())
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            Some(unexpected.first().cloned().unwrap_or_default())
        }
        _ => None,
    };
    match (field.is_empty(), named) {
        (true, Some(name)) => name,
        (false, Some(name)) => format!("{field}.{name}"),
        (true, None) => "body".into(),
        (false, None) => field,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{Param, ParamKind};

    struct Spec(Param);
    impl Deref for Spec {
        type Target = Param;
        fn deref(&self) -> &Param {
            &self.0
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Pairs {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn params_are_checked_defaulted_and_undeclared_ones_dropped() {
        let mut n = Param::new("n", ParamLocation::Query);
        n.kind = ParamKind::Integer;
        n.default = Some("2".into());
        let name = Param::new("name", ParamLocation::Path);
        let specs = [Spec(name), Spec(n)];
        let check = |_: &Spec, v: &str| {
            if v == "bad" {
                Err("is bad".to_string())
            } else {
                Ok(v.to_string())
            }
        };
        let (path, query) = validate_params(
            &specs,
            &pairs(&[("name", "ann")]),
            &pairs(&[("other", "x")]),
            check,
        )
        .expect("valid");
        assert_eq!(path, pairs(&[("name", "ann")]));
        assert_eq!(
            query,
            pairs(&[("n", "2")]),
            "default applied, `other` dropped"
        );
        let twice = validate_params(
            &specs,
            &pairs(&[("name", "ann")]),
            &pairs(&[("n", "1"), ("n", "3")]),
            check,
        );
        assert_eq!(
            twice,
            Err(Refusal::new("n", "query parameter", "given more than once"))
        );
        let bad = validate_params(&specs, &pairs(&[("name", "bad")]), &[], check);
        assert_eq!(bad, Err(Refusal::new("name", "path parameter", "is bad")));
        let missing = validate_params(&specs, &[], &[], check);
        assert_eq!(
            missing,
            Err(Refusal::new("name", "path parameter", "is required"))
        );
    }

    #[test]
    fn integral_floats_become_integers_everywhere() {
        let mut v = serde_json::json!({"a": 8080.0, "b": [1.0, 1.5], "c": {"d": -2.0}});
        integral_floats_as_integers(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"a": 8080, "b": [1, 1.5], "c": {"d": -2}})
        );
    }
}
