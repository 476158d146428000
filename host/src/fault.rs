//! The error vocabulary shared by host services, the plugin runtime and the HTTP edge: what
//! kind of failure it is (which decides the HTTP status, once, at the edge) and a message
//! meant for API users (no secrets, no internal paths).
//!
//! Services keep their own typed errors (`RemoteError` in `remote`, `CollectError` in
//! `collector`) and convert into a [`Fault`] where they meet a caller that only needs the
//! kind; the plugin ABI converts a [`Fault`] to and from the WIT error of
//! each API version.

/// The kind of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// The device, resource or document does not exist (404).
    NotFound,
    /// The request is wrong in a way parameter validation could not see (400).
    BadRequest,
    /// The resource exists or is in a conflicting state (409).
    Conflict,
    /// A host, device or service cannot be reached or authenticated to (503).
    Unavailable,
    /// The operation did not finish in time (504).
    Timeout,
    /// A capability was not granted (403).
    Forbidden,
    /// Anything else (500).
    Internal,
    /// A remote command ran and failed, or answered something unusable (502).
    Upstream,
    /// A well-formed value is refused; the message starts with the field it names (422).
    Invalid,
    /// Something the request asks for is larger than the server allows (413).
    TooLarge,
}

impl FaultKind {
    /// The HTTP status of this kind: not-found 404, bad-request 400, conflict 409,
    /// unavailable 503, timeout 504, forbidden 403, internal 500, upstream 502, invalid 422,
    /// too-large 413.
    pub fn status(self) -> u16 {
        match self {
            FaultKind::NotFound => 404,
            FaultKind::BadRequest => 400,
            FaultKind::Conflict => 409,
            FaultKind::Unavailable => 503,
            FaultKind::Timeout => 504,
            FaultKind::Forbidden => 403,
            FaultKind::Internal => 500,
            FaultKind::Upstream => 502,
            FaultKind::Invalid => 422,
            FaultKind::TooLarge => 413,
        }
    }
}

/// The stable machine-readable code of an HTTP error status (shared with the SDK's test host).
pub use infrastructor_manifest::request::code_for_status;

/// A failure: its kind and a user-safe message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Fault {
    /// What kind of failure.
    pub kind: FaultKind,
    /// For API users.
    pub message: String,
}

impl Fault {
    /// A fault of `kind`.
    pub fn new(kind: FaultKind, message: impl Into<String>) -> Fault {
        Fault {
            kind,
            message: message.into(),
        }
    }

    /// [`FaultKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Fault {
        Fault::new(FaultKind::NotFound, message)
    }

    /// [`FaultKind::BadRequest`].
    pub fn bad_request(message: impl Into<String>) -> Fault {
        Fault::new(FaultKind::BadRequest, message)
    }

    /// [`FaultKind::Unavailable`].
    pub fn unavailable(message: impl Into<String>) -> Fault {
        Fault::new(FaultKind::Unavailable, message)
    }

    /// [`FaultKind::Forbidden`].
    pub fn forbidden(message: impl Into<String>) -> Fault {
        Fault::new(FaultKind::Forbidden, message)
    }

    /// [`FaultKind::Invalid`] for `field`: the message reads `field: message`.
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Fault {
        Fault::new(FaultKind::Invalid, format!("{field}: {message}"))
    }

    /// [`FaultKind::Internal`].
    pub fn internal(message: impl Into<String>) -> Fault {
        Fault::new(FaultKind::Internal, message)
    }
}

impl From<infrastructor_store::StoreError> for Fault {
    /// Store errors without internals: not-found, conflict and invalid keep their message;
    /// anything else is logged and answered as a database error.
    fn from(e: infrastructor_store::StoreError) -> Fault {
        use infrastructor_store::StoreError;
        match e {
            StoreError::NotFound(m) => Fault::not_found(m),
            StoreError::Conflict(m) => Fault::new(FaultKind::Conflict, m),
            StoreError::Invalid(m) => Fault::bad_request(m),
            other => {
                tracing::error!(error = %other, "database error");
                Fault::internal("database error")
            }
        }
    }
}
