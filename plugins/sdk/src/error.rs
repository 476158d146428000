//! The error a handler, a parser or a host import reports.

use std::fmt;

use crate::bindings::infrastructor::plugin::types::Error as WitError;

/// An error a plugin returns, or a host import reported. It mirrors the WIT `error` variant and
/// the host maps each case to an HTTP status (see [`Error::status`]).
///
/// Messages are shown to API users: they must not carry secrets or internal paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The device, resource or document does not exist (404).
    NotFound(String),
    /// The request is wrong in a way parameter validation could not see (400).
    BadRequest(String),
    /// The resource already exists or is in a conflicting state (409).
    Conflict(String),
    /// The host, device or service cannot be reached or authenticated to (503).
    Unavailable(String),
    /// The operation did not finish in time (504).
    Timeout(String),
    /// The plugin was not granted the capability it tried to use (403).
    Forbidden(String),
    /// Anything else; the message should say what failed (500).
    Internal(String),
    /// A remote command ran and failed; the message summarises its stderr (502).
    Upstream(String),
    /// A value is well-formed but refused; the message starts with the field it names (422).
    Invalid(String),
    /// Something the request asks for is larger than the server allows: a command line, an
    /// upload (413).
    TooLarge(String),
}

impl Error {
    /// Every kind name, in WIT order, as [`Error::kind`] returns them.
    pub const KINDS: [&'static str; 10] = [
        "not_found",
        "bad_request",
        "conflict",
        "unavailable",
        "timeout",
        "forbidden",
        "internal",
        "upstream",
        "invalid",
        "too_large",
    ];

    /// A [`Error::NotFound`] (404).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// A [`Error::BadRequest`] (400).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    /// A [`Error::Conflict`] (409).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }

    /// An [`Error::Unavailable`] (503).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable(message.into())
    }

    /// A [`Error::Timeout`] (504).
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::Timeout(message.into())
    }

    /// A [`Error::Forbidden`] (403).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    /// An [`Error::Internal`] (500).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
    }

    /// An [`Error::Upstream`] (502).
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::Upstream(message.into())
    }

    /// An [`Error::Invalid`] (422) for `field`: the message reads `field: message`.
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        Self::Invalid(format!("{field}: {message}"))
    }

    /// An [`Error::TooLarge`] (413).
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::TooLarge(message.into())
    }

    /// Builds an error from its kind name (`"not_found"`, `"bad_request"`… as in
    /// [`Error::KINDS`]; `-` is accepted for `_`). `None` for an unknown kind.
    pub fn from_kind(kind: &str, message: impl Into<String>) -> Option<Self> {
        let message = message.into();
        Some(match kind.replace('-', "_").as_str() {
            "not_found" => Self::NotFound(message),
            "bad_request" => Self::BadRequest(message),
            "conflict" => Self::Conflict(message),
            "unavailable" => Self::Unavailable(message),
            "timeout" => Self::Timeout(message),
            "forbidden" => Self::Forbidden(message),
            "internal" => Self::Internal(message),
            "upstream" => Self::Upstream(message),
            "invalid" => Self::Invalid(message),
            "too_large" => Self::TooLarge(message),
            _ => return None,
        })
    }

    /// The kind's name in snake case (`"not_found"`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::BadRequest(_) => "bad_request",
            Self::Conflict(_) => "conflict",
            Self::Unavailable(_) => "unavailable",
            Self::Timeout(_) => "timeout",
            Self::Forbidden(_) => "forbidden",
            Self::Internal(_) => "internal",
            Self::Upstream(_) => "upstream",
            Self::Invalid(_) => "invalid",
            Self::TooLarge(_) => "too_large",
        }
    }

    /// The HTTP status the host answers with for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound(_) => 404,
            Self::BadRequest(_) => 400,
            Self::Conflict(_) => 409,
            Self::Unavailable(_) => 503,
            Self::Timeout(_) => 504,
            Self::Forbidden(_) => 403,
            Self::Internal(_) => 500,
            Self::Upstream(_) => 502,
            Self::Invalid(_) => 422,
            Self::TooLarge(_) => 413,
        }
    }

    /// The user-facing message.
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m)
            | Self::BadRequest(m)
            | Self::Conflict(m)
            | Self::Unavailable(m)
            | Self::Timeout(m)
            | Self::Forbidden(m)
            | Self::Internal(m)
            | Self::Upstream(m)
            | Self::Invalid(m)
            | Self::TooLarge(m) => m,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self {
            Self::NotFound(_) => "not found",
            Self::BadRequest(_) => "bad request",
            Self::Conflict(_) => "conflict",
            Self::Unavailable(_) => "unavailable",
            Self::Timeout(_) => "timeout",
            Self::Forbidden(_) => "forbidden",
            Self::Internal(_) => "internal error",
            Self::Upstream(_) => "upstream error",
            Self::Invalid(_) => "invalid",
            Self::TooLarge(_) => "too large",
        };
        write!(f, "{label}: {}", self.message())
    }
}

impl std::error::Error for Error {}

/// A JSON (de)serialisation failure is taken to be a malformed request body: 400.
/// Parsers meeting remote output they cannot read should map their errors explicitly
/// (usually to [`Error::upstream`] or [`Error::internal`]).
impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::BadRequest(format!("invalid request body: {e}"))
    }
}

impl From<WitError> for Error {
    fn from(e: WitError) -> Self {
        match e {
            WitError::NotFound(m) => Self::NotFound(m),
            WitError::BadRequest(m) => Self::BadRequest(m),
            WitError::Conflict(m) => Self::Conflict(m),
            WitError::Unavailable(m) => Self::Unavailable(m),
            WitError::Timeout(m) => Self::Timeout(m),
            WitError::Forbidden(m) => Self::Forbidden(m),
            WitError::Internal(m) => Self::Internal(m),
            WitError::Upstream(m) => Self::Upstream(m),
            WitError::Invalid(m) => Self::Invalid(m),
            WitError::TooLarge(m) => Self::TooLarge(m),
        }
    }
}

impl From<Error> for WitError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(m) => Self::NotFound(m),
            Error::BadRequest(m) => Self::BadRequest(m),
            Error::Conflict(m) => Self::Conflict(m),
            Error::Unavailable(m) => Self::Unavailable(m),
            Error::Timeout(m) => Self::Timeout(m),
            Error::Forbidden(m) => Self::Forbidden(m),
            Error::Internal(m) => Self::Internal(m),
            Error::Upstream(m) => Self::Upstream(m),
            Error::Invalid(m) => Self::Invalid(m),
            Error::TooLarge(m) => Self::TooLarge(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_map_to_statuses() {
        let statuses = [404, 400, 409, 503, 504, 403, 500, 502, 422, 413];
        for (kind, status) in Error::KINDS.iter().zip(statuses) {
            let e = Error::from_kind(kind, "m").expect("known kind");
            assert_eq!(e.kind(), *kind);
            assert_eq!(e.status(), status);
            assert_eq!(e.message(), "m");
            let back = Error::from(WitError::from(e.clone()));
            assert_eq!(back, e);
        }
        assert!(Error::from_kind("nope", "m").is_none());
        assert_eq!(
            Error::from_kind("not-found", "x"),
            Some(Error::not_found("x"))
        );
    }

    #[test]
    fn display_and_json_errors() {
        assert_eq!(
            Error::not_found("device web1").to_string(),
            "not found: device web1"
        );
        let e: Error = serde_json::from_str::<serde_json::Value>("{")
            .expect_err("invalid")
            .into();
        assert_eq!(e.kind(), "bad_request");
    }
}
