//! `infrastructor plugins reload`: asks a running server to reload its plugins over its
//! own API (`POST /api/plugins/reload`, an admin key) and prints what it did.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;

use super::ReloadAction;

/// The largest answer read (a report lists every plugin: a few kilobytes).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Why the reload request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `http://HOST:PORT`.
    #[error("--url {0}: expected http://HOST:PORT")]
    Url(String),
    /// The server could not be reached.
    #[error("cannot reach the server at {url}: {message}")]
    Connect {
        /// Where.
        url: String,
        /// Why.
        message: String,
    },
    /// The server answered with an error.
    #[error("the server refused the reload ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error envelope's message, or the body.
        message: String,
    },
}

/// The base URL of the server listening on `listen` (an unspecified address means this
/// machine).
pub fn url_for(listen: SocketAddr) -> String {
    let mut address = listen;
    if address.ip().is_unspecified() {
        address.set_ip(if address.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("http://{address}")
}

/// What a reload did, as the command prints it.
pub struct Printed {
    /// One line for the generation, then one per plugin.
    pub text: String,
    /// Plugins that kept their running version or could not be loaded.
    pub refused: usize,
}

/// Sends the reload to the server at `base` (`http://HOST:PORT`) with `key`, and returns
/// the report as text. Fails when the server cannot be reached or refuses.
pub async fn reload(base: &str, key: Option<&str>) -> Result<Printed, ClientError> {
    let uri: Uri = format!("{}/api/plugins/reload", base.trim_end_matches('/'))
        .parse()
        .map_err(|_| ClientError::Url(base.into()))?;
    if uri.scheme_str() != Some("http") {
        return Err(ClientError::Url(base.into()));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| ClientError::Url(base.into()))?
        .clone();
    let connect = |e: String| ClientError::Connect {
        url: base.into(),
        message: e,
    };
    let port = authority.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((authority.host().trim_matches(['[', ']']), port))
        .await
        .map_err(|e| connect(e.to_string()))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| connect(e.to_string()))?;
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(uri.path())
        .header(header::HOST, authority.as_str())
        .header(header::CONTENT_LENGTH, "0");
    if let Some(key) = key {
        request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    let request = request
        .body(Full::new(Bytes::new()))
        .map_err(|e| connect(e.to_string()))?;
    let answer = sender
        .send_request(request)
        .await
        .map_err(|e| connect(e.to_string()))?;
    let status = answer.status();
    let body = Limited::new(answer.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| connect(e.to_string()))?
        .to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if status != StatusCode::OK {
        let message = json["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        return Err(ClientError::Refused {
            status: status.as_u16(),
            message,
        });
    }
    let report: super::ReloadReport =
        serde_json::from_value(json).map_err(|e| connect(format!("unexpected answer: {e}")))?;
    let mut text = format!(
        "generation {}{} in {:.0} ms\n",
        report.generation,
        if report.changed {
            ""
        } else {
            " (nothing changed)"
        },
        report.took_ms
    );
    let mut refused = 0;
    for p in &report.plugins {
        let action = p.action.as_str();
        let version = match (&p.previous_version, &p.version) {
            (Some(before), Some(now)) => format!("{before} -> {now}"),
            (None, Some(now)) => now.clone(),
            (Some(before), None) => format!("{before} -> -"),
            (None, None) => "-".into(),
        };
        text.push_str(&format!("{:<16} {:<10} {version}", p.name, action));
        if let Some(e) = &p.error {
            text.push_str(&format!("  error: {e}"));
        }
        text.push('\n');
        if matches!(p.action, ReloadAction::Kept | ReloadAction::Failed) {
            refused += 1;
        }
    }
    Ok(Printed { text, refused })
}
