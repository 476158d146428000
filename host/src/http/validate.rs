//! Validation of path and query parameters against a route's declared parameters, and of
//! JSON bodies against its schema. Every plugin gets the same 422 answers, naming the field.

use crate::http::error::ApiError;
use infrastructor_manifest::{request, value};

use crate::plugins::manifest::ParamSpec;

/// Checks one textual value against a parameter's type and constraints (the shared rules of
/// [`infrastructor_manifest::value`], then the compiled pattern) and returns its canonical
/// text form (`true`/`false` for booleans, plain digits for integers).
pub fn check_value(spec: &ParamSpec, raw: &str) -> Result<String, String> {
    let canonical = value::bounded(spec, raw)?;
    if let Some(pattern) = &spec.regex
        && !pattern.is_match(&canonical)
    {
        return Err(format!(
            "must match the pattern `{}`",
            spec.pattern.as_deref().unwrap_or_default()
        ));
    }
    value::allowed(spec, &canonical)?;
    Ok(canonical)
}

pub use infrastructor_manifest::request::Pairs;

/// A refusal of the shared request rules as the 422 the API answers.
fn refused(r: request::Refusal) -> ApiError {
    ApiError::validation(&r.field, r.location, r.reason)
}

/// The one value of `name` among `pairs`: `None` when absent, 422 naming it (as a
/// `location`, e.g. `query parameter`) when given more than once.
pub fn single<'a>(
    pairs: &'a [(String, String)],
    name: &str,
    location: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    request::single(pairs, name, location).map_err(refused)
}

/// Validates the declared parameters of a route (the shared rules of
/// [`infrastructor_manifest::request::validate_params`], each value checked by
/// [`check_value`]). Returns (path params, query params) in declaration order, with
/// defaults applied; undeclared query parameters are ignored.
pub fn validate_params(
    params: &[ParamSpec],
    path: &[(String, String)],
    query: &[(String, String)],
) -> Result<(Pairs, Pairs), ApiError> {
    request::validate_params(params, path, query, check_value).map_err(refused)
}

/// Parses and validates a JSON body against a compiled schema (the shared rules of
/// [`infrastructor_manifest::request::validate_body`]). An empty body counts as `{}`: a
/// schema whose fields are all optional accepts it, one with required fields names the
/// first missing one.
pub fn validate_body(
    validator: &jsonschema::Validator,
    bytes: &[u8],
) -> Result<serde_json::Value, ApiError> {
    request::validate_body(validator, bytes).map_err(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::plugins::manifest::{ParamKind, ParamLocation};
    use infrastructor_manifest::Param;

    fn spec(kind: ParamKind) -> ParamSpec {
        let mut p = Param::new("p", ParamLocation::Query);
        p.kind = kind;
        ParamSpec::new(p).expect("spec")
    }

    #[test]
    fn integers_and_bounds() {
        let mut s = spec(ParamKind::Integer);
        s.param.minimum = Some(1.0);
        s.param.maximum = Some(10.0);
        assert_eq!(check_value(&s, "5").as_deref(), Ok("5"));
        assert!(check_value(&s, "0").is_err());
        assert!(check_value(&s, "11").is_err());
        assert!(check_value(&s, "five").is_err());
        assert!(check_value(&s, "1.5").is_err());
    }

    #[test]
    fn booleans_are_canonical() {
        let s = spec(ParamKind::Boolean);
        assert_eq!(check_value(&s, "1").as_deref(), Ok("true"));
        assert_eq!(check_value(&s, "No").as_deref(), Ok("false"));
        assert!(check_value(&s, "maybe").is_err());
    }

    #[test]
    fn strings_pattern_enum_length() {
        let mut p = Param::new("p", ParamLocation::Query);
        p.pattern = Some("[a-z]+".into());
        let s = ParamSpec::new(p).expect("spec");
        assert!(check_value(&s, "abc").is_ok());
        assert_eq!(
            check_value(&s, "abc; rm -rf /"),
            Err("must match the pattern `[a-z]+`".to_string())
        );
        let mut s = spec(ParamKind::String);
        s.param.allowed = vec!["a".into(), "b".into()];
        assert!(check_value(&s, "c").is_err());
        s.param.allowed.clear();
        s.param.max_length = Some(3);
        assert!(check_value(&s, "abcd").is_err());
    }

    #[test]
    fn missing_required_and_defaults() {
        let mut required = spec(ParamKind::String);
        required.param.required = true;
        let err = validate_params(&[required], &[], &[]).expect_err("required");
        assert_eq!(err.status.as_u16(), 422);
        let mut defaulted = spec(ParamKind::Integer);
        defaulted.param.default = Some("7".into());
        let (_, q) = validate_params(&[defaulted], &[], &[]).expect("default");
        assert_eq!(q, vec![("p".to_string(), "7".to_string())]);
    }

    #[test]
    fn body_errors_name_fields() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"name": {"type": "string"}, "count": {"type": "integer", "minimum": 0}},
            "required": ["name"],
            "additionalProperties": false
        });
        let v = jsonschema::validator_for(&schema).expect("schema");
        let field = |body: &str| {
            let e = validate_body(&v, body.as_bytes()).expect_err(body);
            e.details().expect("details")["field"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(field(r#"{"count": 1}"#), "name");
        assert_eq!(field(r#"{"name": "a", "count": -1}"#), "count");
        assert_eq!(field(r#"{"name": "a", "extra": 1}"#), "extra");
        assert_eq!(field("{nope"), "body");
        assert_eq!(
            field(""),
            "name",
            "an empty body is {{}}: the missing field is named"
        );
        assert!(validate_body(&v, br#"{"name": "a"}"#).is_ok());
        let optional =
            jsonschema::validator_for(&serde_json::json!({"type": "object"})).expect("schema");
        assert_eq!(
            validate_body(&optional, b"").ok(),
            Some(serde_json::json!({}))
        );
    }
}
