//! What a handler returns.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::bindings::exports::infrastructor::plugin::plugin as wit;
use infrastructor_manifest::Command;

/// A JSON value as a response body: `Ok(Json(value).into())` answers 200 with
/// `application/json`, `Json(value).with_status(201)` another status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> Json<T> {
    /// The JSON response with another status.
    pub fn with_status(self, status: u16) -> Response {
        Response::from(self).with_status(status)
    }
}

impl<T: Serialize> From<Json<T>> for Response {
    /// Serialises the value. A value serde cannot represent as JSON (a map with non-string
    /// keys, a failing `Serialize` impl) becomes a 500 response naming the problem.
    fn from(Json(value): Json<T>) -> Self {
        match serde_json::to_vec(&value) {
            Ok(bytes) => Response::bytes("application/json", bytes),
            Err(e) => Response::bytes(
                "application/json",
                serde_json::json!({
                    "error": "internal",
                    "message": format!("response is not representable as JSON: {e}"),
                })
                .to_string()
                .into_bytes(),
            )
            .with_status(500),
        }
    }
}

/// A response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A complete body.
    Bytes(Vec<u8>),
    /// A remote command whose standard output the host streams to the client until it ends
    /// or the client disconnects.
    Stream {
        /// Where to run it (device hostname or raw host).
        target: String,
        /// An argv (quoted by the host) or a declared script with its `$1…`.
        command: Command,
        /// Frame each output line as a Server-Sent Event.
        sse: bool,
    },
}

/// A response: status, content type, extra headers and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    content_type: String,
    headers: Vec<(String, String)>,
    body: Body,
}

impl Response {
    /// A 200 response with `content_type` and `bytes`.
    pub fn bytes(content_type: &str, bytes: Vec<u8>) -> Self {
        Self {
            status: 200,
            content_type: content_type.to_owned(),
            headers: Vec::new(),
            body: Body::Bytes(bytes),
        }
    }

    /// A 200 `text/plain; charset=utf-8` response.
    pub fn text(text: impl Into<String>) -> Self {
        Self::bytes("text/plain; charset=utf-8", text.into().into_bytes())
    }

    /// A response without a body (204, 202…).
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            content_type: String::new(),
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
        }
    }

    /// A 200 response streaming the output of `argv` run on `target`: stdout as plain text,
    /// or (`sse`) one Server-Sent Event per line of both streams (stdout lines as `data:`,
    /// stderr lines as `event: stderr`) and a final `end` event with the exit code. The
    /// program must be granted like an [`crate::ssh::exec`] argv.
    pub fn stream(target: &str, argv: &[&str], sse: bool) -> Self {
        Self::streamed(
            target,
            Command::Argv(argv.iter().map(|a| (*a).to_owned()).collect()),
            sse,
        )
    }

    /// Like [`Response::stream`], running the declared script `script` with `args` as
    /// `$1…`; every program the script declares must be granted.
    pub fn stream_script(target: &str, script: &str, args: &[&str], sse: bool) -> Self {
        Self::streamed(
            target,
            Command::Script {
                name: script.to_owned(),
                args: args.iter().map(|a| (*a).to_owned()).collect(),
            },
            sse,
        )
    }

    fn streamed(target: &str, command: Command, sse: bool) -> Self {
        Self {
            status: 200,
            content_type: if sse {
                "text/event-stream".to_owned()
            } else {
                "text/plain; charset=utf-8".to_owned()
            },
            headers: Vec::new(),
            body: Body::Stream {
                target: target.to_owned(),
                command,
                sse,
            },
        }
    }

    /// Sets the status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the content type.
    pub fn content_type(mut self, content_type: &str) -> Self {
        self.content_type = content_type.to_owned();
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The content type (empty for [`Response::empty`]).
    pub fn content_type_str(&self) -> &str {
        &self.content_type
    }

    /// The extra headers.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The complete body's bytes; `None` for a streamed body.
    pub fn body_bytes(&self) -> Option<&[u8]> {
        match &self.body {
            Body::Bytes(b) => Some(b),
            Body::Stream { .. } => None,
        }
    }

    /// The body parsed as JSON (for unit tests).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let bytes = self
            .body_bytes()
            .ok_or_else(|| Error::internal("streamed response has no JSON body"))?;
        serde_json::from_slice(bytes)
            .map_err(|e| Error::internal(format!("response body is not JSON: {e}")))
    }
}

impl From<Response> for wit::Response {
    fn from(r: Response) -> Self {
        wit::Response {
            status: r.status,
            content_type: r.content_type,
            headers: r
                .headers
                .into_iter()
                .map(|(name, value)| wit::Pair { name, value })
                .collect(),
            body: match r.body {
                Body::Bytes(b) => wit::Body::Bytes(b),
                Body::Stream {
                    target,
                    command,
                    sse,
                } => wit::Body::Stream(wit::StreamCommand {
                    target,
                    command: crate::manifest_wit::command(command),
                    sse,
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    #[test]
    fn json_responses() {
        let r: Response = Json(json!({"a": 1})).into();
        assert_eq!(r.status(), 200);
        assert_eq!(r.content_type_str(), "application/json");
        assert_eq!(r.body_bytes(), Some(&br#"{"a":1}"#[..]));
        let created = Json(json!([1]))
            .with_status(201)
            .header("Location", "/items/1");
        assert_eq!(created.status(), 201);
        assert_eq!(
            created.headers(),
            [("Location".to_owned(), "/items/1".to_owned())]
        );
        let w = wit::Response::from(created);
        assert_eq!(w.status, 201);
        assert_eq!(w.headers[0].name, "Location");
        assert!(matches!(w.body, wit::Body::Bytes(ref b) if b == b"[1]"));
    }

    #[test]
    fn unrepresentable_json_is_a_500() {
        let mut m = BTreeMap::new();
        m.insert((1, 2), 3);
        let r: Response = Json(m).into();
        assert_eq!(r.status(), 500);
        assert_eq!(r.json::<Value>().expect("json")["error"], "internal");
    }

    #[test]
    fn text_empty_and_stream() {
        assert_eq!(Response::text("hi").body_bytes(), Some(&b"hi"[..]));
        let e = Response::empty(204);
        assert_eq!((e.status(), e.body_bytes()), (204, Some(&b""[..])));
        let s = Response::stream("web1", &["docker", "logs", "-f", "x"], true);
        assert_eq!(s.content_type_str(), "text/event-stream");
        assert!(s.body_bytes().is_none());
        match wit::Response::from(s).body {
            wit::Body::Stream(c) => {
                assert_eq!(c.target, "web1");
                assert!(
                    matches!(&c.command, crate::bindings::infrastructor::plugin::types::Command::Argv(a) if a == &["docker", "logs", "-f", "x"])
                );
                assert!(c.sse);
            }
            wit::Body::Bytes(_) => panic!("expected a stream"),
        }
        let s = Response::stream_script("web1", "follow", &["x"], false);
        match wit::Response::from(s).body {
            wit::Body::Stream(c) => assert!(
                matches!(&c.command, crate::bindings::infrastructor::plugin::types::Command::Script(call) if call.name == "follow" && call.args == ["x"])
            ),
            wit::Body::Bytes(_) => panic!("expected a stream"),
        }
    }
}
