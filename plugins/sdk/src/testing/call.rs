//! [`App::call`]: a request through the host's validation, defaults and error envelope,
//! then the handler.

use infrastructor_manifest::value;
use infrastructor_manifest::{Param, ParamLocation};
use serde_json::{Value, json};

use crate::{App, Error, Request, Response};

/// A request the server would answer with an error, as its JSON envelope: refused by the
/// host's validation before the handler ran, or the handler's (or a host import's) error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct Rejection {
    /// The HTTP status (422 for a parameter or body the route's declaration refuses).
    pub status: u16,
    /// The envelope's code (`VALIDATION_ERROR`, `NOT_FOUND`, `UPSTREAM_ERROR`…).
    pub code: String,
    /// The envelope's message.
    pub message: String,
    /// The envelope's details (`{"field", "location", "reason"}` for validation errors).
    pub details: Option<Value>,
    /// Whether the handler ran (false: the host refused the request first).
    pub reached_handler: bool,
    envelope: Value,
}

impl Rejection {
    /// The whole body the server sends: `{"error": {"code", "message", "timestamp", "path",
    /// "method", "request_id", "details"?}}`.
    pub fn envelope(&self) -> &Value {
        &self.envelope
    }

    /// The validation details' `field`, if any.
    pub fn field(&self) -> Option<&str> {
        self.details.as_ref()?.get("field")?.as_str()
    }
}

/// The envelope code the server gives a status (the host's `fault::code_for_status`).
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

/// A refusal before the handler: status, message and details, as the host's `ApiError`.
struct Refusal {
    status: u16,
    message: String,
    details: Option<Value>,
}

impl Refusal {
    /// 422 naming the field, as the host's `ApiError::validation`.
    fn validation(field: &str, location: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self {
            status: 422,
            message: format!("{location} `{field}`: {reason}"),
            details: Some(json!({"field": field, "location": location, "reason": reason})),
        }
    }
}

impl App {
    /// Serves `request` as the server would: finds its route (404 for an unknown or internal
    /// operation, 405 for another method), validates path and query parameters against the
    /// declarations (type, bounds, lengths, pattern, allowed values; defaults applied;
    /// undeclared query parameters dropped), checks a JSON body (empty counts as `{}`;
    /// required and unknown top-level fields of its schema; integral floats made integers),
    /// then runs the handler with the validated request. Any refusal or handler error comes
    /// back as the [`Rejection`] the server would send. Long-running routes run at once
    /// (the server would queue a job and answer 202).
    ///
    /// Needs the `testing` feature; host calls the handler makes go to the installed
    /// [`MockHost`](crate::testing::MockHost).
    pub fn call(&self, request: &Request) -> Result<Response, Rejection> {
        let validated = self
            .host_checks(request)
            .map_err(|r| rejection(self, request, r.status, r.message, r.details, false))?;
        self.dispatch(&validated).map_err(|e: Error| {
            let status = e.status();
            rejection(self, request, status, e.message().to_owned(), None, true)
        })
    }

    /// The host's checks, in its order; the request the handler gets.
    fn host_checks(&self, request: &Request) -> Result<Request, Refusal> {
        let not_found = || Refusal {
            status: 404,
            message: format!("no route `{}`", request.operation_id()),
            details: None,
        };
        let route = self
            .route_of(request.operation_id())
            .ok_or_else(not_found)?;
        let model = route.model();
        if model.internal {
            return Err(not_found());
        }
        if model.method != request.method() {
            return Err(Refusal {
                status: 405,
                message: "method not allowed".into(),
                details: None,
            });
        }
        let query: Vec<(String, String)> = request
            .query_pairs()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let (path, query) = validate_params(&model.params, request.path_pairs(), &query)?;
        let body = match &model.request_body {
            Some(schema) if !model.stream_body => Some(validate_body(schema, request.body_str())?),
            _ => request.body_str().map(str::to_owned),
        };
        Ok(request.validated(path, query, body))
    }
}

/// The host's `validate_params`: per declared parameter, its one value checked, else its
/// default, else 422 when required.
#[allow(clippy::type_complexity)]
fn validate_params(
    params: &[Param],
    path: &[(String, String)],
    query: &[(String, String)],
) -> Result<(Vec<(String, String)>, Vec<(String, String)>), Refusal> {
    let mut path_out = Vec::new();
    let mut query_out = Vec::new();
    for spec in params {
        let (source, location) = match spec.location {
            ParamLocation::Path => (path, "path parameter"),
            ParamLocation::Query => (query, "query parameter"),
        };
        let mut values = source.iter().filter(|(k, _)| k == &spec.name);
        let given = match (values.next(), values.next()) {
            (Some(_), Some(_)) => {
                return Err(Refusal::validation(
                    &spec.name,
                    location,
                    "given more than once",
                ));
            }
            (Some((_, v)), None) => Some(v.as_str()),
            (None, _) => None,
        };
        let checked = match (given, &spec.default) {
            (Some(v), _) => Some(
                value::check_request_value(spec, v)
                    .map_err(|r| Refusal::validation(&spec.name, location, r))?,
            ),
            (None, Some(d)) => Some(d.clone()),
            (None, None) if spec.is_required() => {
                return Err(Refusal::validation(&spec.name, location, "is required"));
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

/// The host's `validate_body`, with a subset of JSON Schema: the body parses (empty is
/// `{}`), has the schema's required top-level fields and, when the schema is closed, no
/// others. Returns the body with integral floats as integers.
fn validate_body(schema: &str, body: Option<&str>) -> Result<String, Refusal> {
    let text = body.filter(|b| !b.trim().is_empty()).unwrap_or("{}");
    let mut value: Value = serde_json::from_str(text).map_err(|e| {
        let reason = format!(
            "invalid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        );
        Refusal::validation("body", "request", reason)
    })?;
    integral_floats_as_integers(&mut value);
    let schema: Value = serde_json::from_str(schema).unwrap_or(Value::Null);
    if let Some(fields) = value.as_object() {
        let required = schema.get("required").and_then(Value::as_array);
        for name in required.into_iter().flatten().filter_map(Value::as_str) {
            if !fields.contains_key(name) {
                let reason = format!("\"{name}\" is a required property");
                return Err(Refusal::validation(name, "body field", reason));
            }
        }
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        let known = schema.get("properties").and_then(Value::as_object);
        if closed {
            for name in fields.keys() {
                if !known.is_some_and(|k| k.contains_key(name)) {
                    let reason =
                        format!("Additional properties are not allowed ('{name}' was unexpected)");
                    return Err(Refusal::validation(name, "body field", reason));
                }
            }
        }
    }
    Ok(value.to_string())
}

/// Writes every integral float (`8080.0`) as the integer it equals, as the host does.
fn integral_floats_as_integers(value: &mut Value) {
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

fn rejection(
    app: &App,
    request: &Request,
    status: u16,
    message: String,
    details: Option<Value>,
    reached_handler: bool,
) -> Rejection {
    let code = code_for_status(status);
    let micros = i64::try_from(crate::storage::unix_now_secs())
        .unwrap_or(0)
        .saturating_mul(1_000_000);
    let mut error = json!({
        "code": code,
        "message": message,
        "timestamp": crate::text::rfc3339_from_micros(micros),
        "path": format!("/api{}{}", app.mount_path(), request.uri_path()),
        "method": request.method().as_str(),
        "request_id": request.request_id(),
    });
    if let Some(d) = &details {
        error["details"] = d.clone();
    }
    Rejection {
        status,
        code: code.to_owned(),
        message,
        details,
        reached_handler,
        envelope: json!({ "error": error }),
    }
}
