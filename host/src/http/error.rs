//! The one error type of the HTTP edge and the envelope every error response carries:
//! `{"error": {"code", "message", "timestamp", "path", "method", "request_id", "details"?}}`.
//!
//! Handlers return [`ApiError`]; its `IntoResponse` stores the error in a response
//! extension and the edge middleware ([`super::edge`]) renders the envelope, because only
//! it knows the path, method and request id.

use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::Value;

use crate::fault::Fault;
use crate::plugins::PluginError;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`VALIDATION_ERROR`).
    pub code: &'static str,
    /// Message for the user: no secrets, no internals.
    pub message: String,
    /// Details and headers, boxed to keep `Result<_, ApiError>` small.
    extra: Option<Box<Extra>>,
}

#[derive(Debug, Clone, Default)]
struct Extra {
    details: Option<Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.extra.get_or_insert_with(Box::default).details = Some(details);
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.extra
            .get_or_insert_with(Box::default)
            .headers
            .push((name, value));
        self
    }

    /// Structured details, if any.
    pub fn details(&self) -> Option<&Value> {
        self.extra.as_ref().and_then(|e| e.details.as_ref())
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// 422 naming the failing field.
    pub fn validation(field: &str, location: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            format!("{location} `{field}`: {reason}"),
        )
        .with_details(serde_json::json!({"field": field, "location": location, "reason": reason}))
    }

    /// 500 without internals (the cause goes to the log).
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "internal server error",
        )
    }
}

/// The default code for a bare status.
pub fn code_for(status: StatusCode) -> &'static str {
    crate::fault::code_for_status(status.as_u16())
}

/// The error as carried from a handler to the edge middleware.
#[derive(Debug, Clone)]
pub struct ErrorPayload {
    /// Code.
    pub code: &'static str,
    /// Message.
    pub message: String,
    /// Details.
    pub details: Option<Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        let extra = self.extra.map(|e| *e).unwrap_or_default();
        for (name, value) in extra.headers {
            response.headers_mut().append(name, value);
        }
        response.extensions_mut().insert(ErrorPayload {
            code: self.code,
            message: self.message,
            details: extra.details,
        });
        response
    }
}

impl From<Fault> for ApiError {
    /// The one mapping of failure kinds to HTTP statuses ([`FaultKind::status`]).
    fn from(f: Fault) -> Self {
        let status =
            StatusCode::from_u16(f.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, code_for(status), f.message)
    }
}

impl From<PluginError> for ApiError {
    fn from(e: PluginError) -> Self {
        let e = match e {
            PluginError::Api(w) => return w.into(),
            other => other,
        };
        if matches!(e, PluginError::Load { .. }) {
            return ApiError::internal(e);
        }
        let (status, code) = e.status_and_code();
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if matches!(e, PluginError::Busy) {
            return ApiError::new(status, code, e.to_string())
                .with_header(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        let details = match &e {
            PluginError::Trapped {
                plugin, version, ..
            }
            | PluginError::Deadline {
                plugin, version, ..
            }
            | PluginError::MemoryLimit {
                plugin, version, ..
            } => serde_json::json!({"plugin": plugin, "version": version}),
            _ => serde_json::Value::Null,
        };
        ApiError::new(status, code, e.to_string()).with_details(details)
    }
}
