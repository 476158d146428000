//! A plugin call in the host's own terms: the request the HTTP edge (or a job) hands to
//! [`super::LoadedPlugin::handle`] and the response it gets back. Each API version's binding
//! converts these to and from its WIT types, so nothing outside `plugins/` sees a WIT type.

use infrastructor_manifest::Method;

/// A validated request for one route.
#[derive(Debug, Clone)]
pub struct PluginRequest {
    /// The route's operation id.
    pub operation_id: String,
    /// The route's method.
    pub method: Method,
    /// The path as the client sent it, without `/api` and the mount.
    pub path: String,
    /// Path parameters, percent-decoded and validated.
    pub path_params: Vec<(String, String)>,
    /// Declared query parameters after validation and defaults, in canonical text form.
    pub query: Vec<(String, String)>,
    /// The JSON body, validated against the route's schema.
    pub body: Option<String>,
    /// The request id (`X-Request-ID`, or `job:…`).
    pub request_id: String,
    /// The API key's name, when auth is on.
    pub principal: Option<String>,
}

/// A plugin's answer.
#[derive(Debug, Clone)]
pub struct PluginResponse {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Further headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: ResponseBody,
}

/// A response body.
#[derive(Debug, Clone)]
pub enum ResponseBody {
    /// A complete body.
    Bytes(bytes::Bytes),
    /// A remote command's output, streamed until it ends or the client leaves.
    Stream(StreamCommand),
}

/// A command whose output is streamed to the client.
#[derive(Debug, Clone)]
pub struct StreamCommand {
    /// Device hostname or raw host.
    pub target: String,
    /// An argv or a declared script, checked against the grants like an `exec` or a
    /// `run-script`.
    pub command: infrastructor_manifest::Command,
    /// Server-Sent Events (stdout lines as `data:`, stderr lines as `event: stderr`, then
    /// `event: end` with the exit code) instead of raw stdout.
    pub sse: bool,
}

/// A request body streamed from the client (a route declared `stream-body`), never
/// buffered whole: chunks as they arrive, an error when the client stopped sending, sent
/// too much, or went quiet for too long.
pub type BodySource = std::pin::Pin<
    Box<dyn futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static>,
>;

/// What a call may carry beyond its request: the job it runs as, the streamed body.
#[derive(Default)]
pub struct CallExtras {
    /// The job the call runs as.
    pub job: Option<std::sync::Arc<crate::jobs::JobHandle>>,
    /// The request body, for `ssh.exec-with-body`.
    pub body: Option<BodySource>,
    /// Record what the call reads, for storing its answer (a `cacheable` route).
    pub trace_answer: bool,
}
