//! [`App::call`]: a request through the host's validation, defaults and error envelope,
//! then the handler.

use infrastructor_manifest::Param;
use infrastructor_manifest::{request, value};
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

/// The envelope code the server gives a status.
pub use infrastructor_manifest::request::code_for_status;

/// A refusal before the handler: status, message and details, as the host's `ApiError`.
struct Refusal {
    status: u16,
    message: String,
    details: Option<Value>,
}

impl From<request::Refusal> for Refusal {
    /// 422 naming the field, as the host's `ApiError::validation`.
    fn from(r: request::Refusal) -> Self {
        Self {
            status: 422,
            message: format!("{} `{}`: {}", r.location, r.field, r.reason),
            details: Some(json!({"field": r.field, "location": r.location, "reason": r.reason})),
        }
    }
}

impl App {
    /// Serves `request` as the server would: finds its route (404 for an unknown or internal
    /// operation, 405 for another method), validates path and query parameters against the
    /// declarations (type, bounds, lengths, pattern, allowed values; defaults applied;
    /// undeclared query parameters dropped), checks a JSON body against the route's schema exactly as the server does (empty counts as
    /// `{}`; integral floats made integers),
    /// then runs the handler with the validated request. Any refusal or handler error comes
    /// back as the [`Rejection`] the server would send (boxed: it carries the whole
    /// envelope). Long-running routes run at once (the server would queue a job and answer
    /// 202).
    ///
    /// Needs the `testing` feature; host calls the handler makes go to the installed
    /// [`MockHost`](crate::testing::MockHost).
    pub fn call(&self, request: &Request) -> Result<Response, Box<Rejection>> {
        let validated = self.host_checks(request).map_err(|r| {
            Box::new(rejection(
                self, request, r.status, r.message, r.details, false,
            ))
        })?;
        self.dispatch(&validated).map_err(|e: Error| {
            let status = e.status();
            Box::new(rejection(
                self,
                request,
                status,
                e.message().to_owned(),
                None,
                true,
            ))
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

/// The server's parameter rules (shared: [`request::validate_params`]), each value checked
/// as the server checks it.
fn validate_params(
    params: &[Param],
    path: &[(String, String)],
    query: &[(String, String)],
) -> Result<(request::Pairs, request::Pairs), Refusal> {
    let params: Vec<&Param> = params.iter().collect();
    request::validate_params(&params, path, query, |p: &&Param, raw: &str| {
        value::check_request_value(p, raw)
    })
    .map_err(Refusal::from)
}

/// The server's body rules (shared: [`request::validate_body`]) against the route's schema.
/// Returns the body the handler gets (integral floats as integers).
fn validate_body(schema: &str, body: Option<&str>) -> Result<String, Refusal> {
    let schema: Value = serde_json::from_str(schema).map_err(|e| Refusal {
        status: 500,
        message: format!("the route's body schema is not JSON: {e}"),
        details: None,
    })?;
    let validator = request::body_validator(&schema).map_err(|e| Refusal {
        status: 500,
        message: format!("the route's body schema does not compile: {e}"),
        details: None,
    })?;
    let bytes = body.unwrap_or_default().as_bytes();
    let value = request::validate_body(&validator, bytes).map_err(Refusal::from)?;
    Ok(value.to_string())
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
