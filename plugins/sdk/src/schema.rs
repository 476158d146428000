//! JSON Schemas derived from Rust types (with `schemars`), and query parameters declared from
//! the same types, so a route's declaration and its handler's types cannot drift apart.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::param::Param;

/// The JSON Schema (2020-12) of `T`, every subschema inlined (the host embeds it in the
/// OpenAPI document, where a `$ref` into the schema's own `$defs` would not resolve), without
/// the `$schema` keyword.
pub fn schema_of<T: JsonSchema>() -> Value {
    inlined::<T>(SchemaSettings::draft2020_12())
}

/// The JSON Schema of `T` as it is serialised (what a handler answers), inlined as
/// [`schema_of`]'s: a field is required unless serde may skip it (`skip_serializing_if`),
/// where [`schema_of`] describes what deserialises (a field with a default, or an `Option`,
/// may be absent).
pub fn response_schema_of<T: JsonSchema>() -> Value {
    inlined::<T>(SchemaSettings::draft2020_12().for_serialize())
}

fn inlined<T: JsonSchema>(settings: SchemaSettings) -> Value {
    let schema = settings
        .with(|s| s.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>();
    let mut value = schema.to_value();
    if let Some(obj) = value.as_object_mut() {
        obj.remove("$schema");
    }
    value
}

/// A property written as a choice (`oneOf`/`anyOf`, as schemars writes an `Option` of an
/// enum or an enum with documented variants) of constant strings and `null`, as one
/// `{"type": ["string", "null"], "enum": [...]}` with the property's own keys; `None` when
/// the property is not such a choice.
fn flatten_choice(prop: &Value) -> Option<Value> {
    if prop.get("type").is_some() {
        return None;
    }
    let branches = prop
        .get("oneOf")
        .or_else(|| prop.get("anyOf"))
        .and_then(Value::as_array)?;
    let mut values = Vec::new();
    let mut nullable = false;
    let mut pending: Vec<&Value> = branches.iter().collect();
    while let Some(branch) = pending.pop() {
        if branch.get("type").and_then(Value::as_str) == Some("null") {
            nullable = true;
        } else if let Some(c) = branch.get("const").and_then(Value::as_str) {
            values.push(Value::String(c.to_owned()));
        } else if let Some(e) = branch.get("enum").and_then(Value::as_array) {
            values.extend(e.iter().filter(|v| v.is_string()).cloned());
        } else if let Some(inner) = branch
            .get("oneOf")
            .or_else(|| branch.get("anyOf"))
            .and_then(Value::as_array)
        {
            pending.extend(inner.iter());
        } else {
            return None;
        }
    }
    if values.is_empty() {
        return None;
    }
    values.reverse();
    let mut flat = prop.clone();
    let obj = flat.as_object_mut()?;
    obj.remove("oneOf");
    obj.remove("anyOf");
    obj.insert(
        "type".to_owned(),
        if nullable {
            serde_json::json!(["string", "null"])
        } else {
            serde_json::json!("string")
        },
    );
    obj.insert("enum".to_owned(), Value::Array(values));
    Some(flat)
}

/// The query parameters a struct's schema describes, one per property: the type (`string`,
/// `integer`, `number`, `boolean`, alone or with `null` for an `Option`), `description` (the
/// field's doc comment), `default`, `minimum`/`maximum`, `minLength`/`maxLength`, `pattern`
/// and `enum` (allowed values). A property is required when the schema requires it and gives
/// it no default. Properties of other types are reported.
pub fn query_params(schema: &Value) -> Result<Vec<Param>, String> {
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .ok_or("a query type must be a struct with named fields")?;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut params = Vec::with_capacity(properties.len());
    for (name, prop) in properties {
        let flattened = flatten_choice(prop);
        let prop = flattened.as_ref().unwrap_or(prop);
        let types: Vec<&str> = match prop.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let kind = types.iter().find(|t| **t != "null").copied();
        let mut p = Param::query(name);
        p = match kind {
            Some("string") => p.string(),
            Some("integer") => p.integer(),
            Some("number") => p.number(),
            Some("boolean") => p.boolean(),
            other => {
                return Err(format!(
                    "query parameter `{name}` has type {other:?}; only strings, integers, numbers and booleans fit a query"
                ));
            }
        };
        if let Some(d) = prop.get("description").and_then(Value::as_str) {
            p = p.description(d);
        }
        let default = prop
            .get("default")
            .filter(|d| !d.is_null())
            .map(|d| match d {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        if let Some(d) = &default {
            p = p.default(d.clone());
        } else if required.contains(&name.as_str()) {
            p = p.required();
        }
        if let Some(n) = prop.get("minimum").and_then(Value::as_f64) {
            p = p.min(n);
        }
        if let Some(n) = prop.get("maximum").and_then(Value::as_f64) {
            p = p.max(n);
        }
        let length = |key: &str| {
            prop.get(key)
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
        };
        if let Some(n) = length("minLength") {
            p = p.min_len(n);
        }
        if let Some(n) = length("maxLength") {
            p = p.max_len(n);
        }
        if let Some(re) = prop.get("pattern").and_then(Value::as_str) {
            p = p.pattern(re);
        }
        if let Some(values) = prop.get("enum").and_then(Value::as_array) {
            let allowed: Vec<String> = values
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            let refs: Vec<&str> = allowed.iter().map(String::as_str).collect();
            p = p.allowed(&refs);
        }
        params.push(p);
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParamKind;
    use serde::Deserialize;

    /// A list query.
    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct ListQuery {
        /// Page number, from 1.
        #[serde(default = "one")]
        #[schemars(range(min = 1, max = 1000))]
        page: u32,
        /// Only this state.
        #[schemars(regex(pattern = r"^[a-z]+$"), length(max = 20))]
        state: Option<String>,
        /// Include stopped ones.
        #[serde(default)]
        all: bool,
        /// Who asks.
        who: String,
    }

    fn one() -> u32 {
        1
    }

    #[test]
    fn query_params_come_from_the_type() {
        let params = query_params(&schema_of::<ListQuery>()).expect("params");
        let by = |n: &str| {
            params
                .iter()
                .find(|p| p.name() == n)
                .unwrap_or_else(|| panic!("{n}"))
                .model()
                .clone()
        };
        let page = by("page");
        assert_eq!(page.kind, ParamKind::Integer);
        assert_eq!(page.default.as_deref(), Some("1"));
        assert_eq!((page.minimum, page.maximum), (Some(1.0), Some(1000.0)));
        assert!(!page.required);
        assert_eq!(page.description, "Page number, from 1.");
        let state = by("state");
        assert_eq!(state.kind, ParamKind::String);
        assert_eq!(state.pattern.as_deref(), Some("^[a-z]+$"));
        assert_eq!(state.max_length, Some(20));
        assert!(!state.required);
        let all = by("all");
        assert_eq!(all.kind, ParamKind::Boolean);
        assert_eq!(all.default.as_deref(), Some("false"));
        assert!(by("who").required);
    }

    #[test]
    fn optional_enums_with_documented_variants_are_string_choices() {
        #[derive(Deserialize, JsonSchema)]
        #[serde(rename_all = "lowercase")]
        #[allow(dead_code)]
        enum Kind {
            /// The first.
            Sub,
            /// The second.
            Folder,
        }
        #[derive(Deserialize, JsonSchema)]
        #[allow(dead_code)]
        struct Q {
            /// Which kind.
            kind: Option<Kind>,
            /// Required kind.
            must: Kind,
        }
        let params = query_params(&schema_of::<Q>()).expect("params");
        for p in &params {
            let m = p.model();
            assert_eq!(m.kind, ParamKind::String, "{}", m.name);
            assert_eq!(
                m.allowed.iter().map(String::as_str).collect::<Vec<_>>(),
                ["sub", "folder"],
                "{}",
                m.name
            );
        }
        let must = params.iter().find(|p| p.name() == "must").expect("must");
        assert!(must.model().required);
    }

    #[test]
    fn bodies_are_inlined_and_closed_by_the_route() {
        #[derive(Deserialize, JsonSchema)]
        #[allow(dead_code)]
        struct Inner {
            x: u8,
        }
        #[derive(Deserialize, JsonSchema)]
        #[allow(dead_code)]
        struct Body {
            inner: Inner,
            list: Vec<Inner>,
        }
        let s = schema_of::<Body>();
        assert!(s.get("$schema").is_none());
        assert!(!s.to_string().contains("$ref"), "{s}");
        assert_eq!(
            s["properties"]["inner"]["properties"]["x"]["type"],
            "integer"
        );
        assert!(query_params(&s).is_err(), "objects do not fit a query");
    }
}
