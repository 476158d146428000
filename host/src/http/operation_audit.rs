//! The operation audit of the HTTP edge: routes that change something leave one row each
//! (`operation_audit`), with who called, the status answered, the time taken and the job
//! started, written after the answer is known.

use std::time::Instant;

use axum::extract::Request;
use axum::response::Response;
use http::header;
use infrastructor_store::Store;
use infrastructor_store::operations::{self, OperationEntry};

use super::auth::Caller;
use super::edge::RequestId;
use super::error::ApiError;

/// What is known of an operation before it runs.
pub struct Pending {
    entry: OperationEntry,
}

impl Pending {
    /// Takes the caller, method, path and request id from `request`.
    pub fn new(request: &Request, plugin: &str, operation_id: &str) -> Pending {
        let principal = request.extensions().get::<Caller>().and_then(Caller::name);
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        Pending {
            entry: OperationEntry {
                plugin: plugin.to_owned(),
                operation_id: operation_id.to_owned(),
                method: request.method().as_str().to_owned(),
                path: request.uri().path().to_owned(),
                principal,
                status: 0,
                duration_ms: 0,
                request_id,
                job_id: None,
            },
        }
    }

    /// Writes the row with the answer's status (and the job named by `Location` or
    /// `Content-Location`). A failed write is logged; the answer stands.
    pub fn finish(
        mut self,
        store: &Store,
        result: &Result<Response, ApiError>,
        started: Instant,
    ) -> impl Future<Output = ()> + Send + 'static {
        let entry = &mut self.entry;
        entry.duration_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(response) => {
                entry.status = response.status().as_u16();
                entry.job_id = [header::LOCATION, header::CONTENT_LOCATION]
                    .iter()
                    .filter_map(|h| response.headers().get(h))
                    .filter_map(|v| v.to_str().ok())
                    .find_map(|v| v.strip_prefix("/api/jobs/"))
                    .map(str::to_owned);
            }
            Err(e) => entry.status = e.status.as_u16(),
        }
        let entry = self.entry;
        let store = store.clone();
        async move {
            if let Err(e) = store.call(move |c| operations::insert(c, &entry)).await {
                tracing::warn!(error = %e, "cannot write operation audit row");
            }
        }
    }
}
