//! `/api/jobs`: list, read, watch (Server-Sent Events) and cancel jobs. Reading needs any
//! key (`read`); cancelling needs the scope of the route that started the job. A key sees
//! only the jobs it started; an `admin` key sees (and may cancel) everyone's. Another key's
//! job reads as absent (404), so job ids reveal nothing.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use infrastructor_store::jobs::{JobFilter, JobState};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::config::Scope;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::validate::single;
use crate::jobs::JobEvent;
use crate::jobs::view::{job_json, job_schema};

/// Largest page of `GET /api/jobs`.
pub const MAX_PAGE: u32 = 500;
/// Page size when none is asked for.
pub const DEFAULT_PAGE: u32 = 50;
/// Kept events replayed from the database for a finished job, at most.
const MAX_REPLAY: u32 = 5000;
/// How long `DELETE /api/jobs/{id}` waits for the job to stop.
const CANCEL_WAIT: Duration = Duration::from_secs(5);

/// Checks a job id: a UUID (422 otherwise), in its canonical lower-case form.
fn job_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| ApiError::validation("id", "path parameter", "must be a job id (a UUID)"))
}

fn one<'a>(query: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, ApiError> {
    single(query, name, "query parameter")
}

fn number(query: &[(String, String)], name: &str, max: u32, default: u32) -> Result<u32, ApiError> {
    match one(query, name)? {
        None => Ok(default),
        Some(v) => v.parse::<u32>().ok().filter(|n| *n <= max).ok_or_else(|| {
            ApiError::validation(
                name,
                "query parameter",
                format!("must be a whole number from 0 to {max}"),
            )
        }),
    }
}

/// The filter of `GET /api/jobs` from its query: `plugin`, `state`, `device`, `limit`,
/// `offset`, each checked (422 naming the parameter).
pub fn job_filter(query: &[(String, String)]) -> Result<JobFilter, ApiError> {
    let plugin = match one(query, "plugin")? {
        Some(p) if infrastructor_manifest::is_plugin_name(p) => Some(p.to_owned()),
        Some(_) => {
            return Err(ApiError::validation(
                "plugin",
                "query parameter",
                "must be a plugin name (lower-case letters, digits, `-`, `_`)",
            ));
        }
        None => None,
    };
    let state = match one(query, "state")? {
        Some(s) => Some(JobState::parse(s).ok_or_else(|| {
            ApiError::validation(
                "state",
                "query parameter",
                "must be one of queued, running, succeeded, failed, cancelled, interrupted",
            )
        })?),
        None => None,
    };
    let device = match one(query, "device")? {
        Some(d) if crate::remote::is_valid_host(d) => Some(d.to_owned()),
        Some(_) => {
            return Err(ApiError::validation(
                "device",
                "query parameter",
                "must be a host name",
            ));
        }
        None => None,
    };
    let limit = number(query, "limit", MAX_PAGE, DEFAULT_PAGE)?.max(1);
    let offset = number(query, "offset", 1_000_000, 0)?;
    Ok(JobFilter {
        plugin,
        state,
        device,
        principal: None,
        limit,
        offset,
    })
}

/// The caller of a request (none in in-process calls without the auth layer).
fn caller_of(request: &Request) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or(Caller(None))
}

/// The key whose jobs `caller` may see: `None` for every job (admin keys, auth off).
fn owner_filter(caller: &Caller) -> Option<String> {
    match &caller.0 {
        Some(p) if p.scope < Scope::Admin => Some(p.name.clone()),
        _ => None,
    }
}

/// Job `id`, if `caller` may see it (404 for a missing job and another key's alike).
async fn visible_job(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<infrastructor_store::jobs::Job, ApiError> {
    let job = state.services.jobs.get(id).await?;
    match (job, owner_filter(caller)) {
        (Some(job), None) => Ok(job),
        (Some(job), Some(owner)) if job.principal.as_deref() == Some(owner.as_str()) => Ok(job),
        _ => Err(ApiError::not_found(format!("no job {id}"))),
    }
}

/// `GET /api/jobs`: one page of jobs, newest first (the caller's own, unless admin).
pub async fn list(
    State(state): State<Arc<AppState>>,
    Query(query): Query<Vec<(String, String)>>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let mut filter = job_filter(&query)?;
    filter.principal = owner_filter(&caller_of(&request));
    let (limit, offset) = (filter.limit, filter.offset);
    let (jobs, total) = state.services.jobs.list(filter).await?;
    Ok(Json(json!({
        "jobs": jobs.iter().map(job_json).collect::<Vec<_>>(),
        "total": total,
        "limit": limit,
        "offset": offset,
    })))
}

/// `GET /api/jobs/{id}`.
pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let id = job_id(&id)?;
    let job = visible_job(&state, &caller_of(&request), &id).await?;
    Ok(Json(job_json(&job)))
}

/// `DELETE /api/jobs/{id}`: cancels a queued or running job (needs the scope of the route
/// that started it) and answers the job once it stopped (at most 5 s later).
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let started = std::time::Instant::now();
    let audit = crate::http::operation_audit::Pending::new(&request, "host", "jobs_cancel");
    let caller = caller_of(&request);
    drop(request);
    let result = async {
        let id = job_id(&id)?;
        let job = visible_job(&state, &caller, &id).await?;
        let scope = match job.scope.as_str() {
            "read" => Scope::Read,
            "admin" => Scope::Admin,
            _ => Scope::Write,
        };
        caller.require(scope)?;
        let job = state.services.jobs.cancel(&id, CANCEL_WAIT).await?;
        Ok(Json(job_json(&job)).into_response())
    }
    .await;
    audit.finish(&state.services.store, &result, started).await;
    result
}

fn sse_event(e: &JobEvent) -> Event {
    Event::default()
        .id(e.seq.to_string())
        .event(e.kind)
        .data(e.data.clone())
}

/// `GET /api/jobs/{id}/events`: the job's events as Server-Sent Events (`state`,
/// `progress`, `log`), the kept ones so far first, then live ones until the final state.
/// `Last-Event-ID` resumes after that event.
pub async fn events(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = job_id(&id)?;
    visible_job(&state, &caller_of(&request), &id).await?;
    let headers = request.headers();
    let after: Option<u64> = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let from = after.map_or(0, |n| n + 1);
    let jobs = state.services.jobs.clone();
    if let Some(handle) = jobs.live(&id) {
        let (replay, live) = handle.watch();
        let stream = live_events(replay, live, handle, from);
        return Ok(Sse::new(stream)
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .into_response());
    }
    let kept = jobs.events(&id, from, MAX_REPLAY).await?;
    let stream = futures::stream::iter(kept.into_iter().map(|e| {
        Ok::<_, Infallible>(
            Event::default()
                .id(e.seq.to_string())
                .event(e.kind)
                .data(e.data),
        )
    }));
    Ok(Sse::new(stream).into_response())
}

/// A live job's events: the replay from `from`, then the broadcast (resynchronised from the
/// replay when this watcher falls behind), until the final state.
fn live_events(
    replay: Vec<JobEvent>,
    live: tokio::sync::broadcast::Receiver<JobEvent>,
    handle: Arc<crate::jobs::JobHandle>,
    from: u64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    struct St {
        pending: std::collections::VecDeque<JobEvent>,
        live: tokio::sync::broadcast::Receiver<JobEvent>,
        handle: Arc<crate::jobs::JobHandle>,
        next_seq: u64,
        ended: bool,
    }
    let st = St {
        pending: replay.into_iter().filter(|e| e.seq >= from).collect(),
        live,
        handle,
        next_seq: from,
        ended: false,
    };
    futures::stream::unfold(st, |mut st| async move {
        loop {
            if st.ended {
                return None;
            }
            if let Some(e) = st.pending.pop_front() {
                st.next_seq = st.next_seq.max(e.seq + 1);
                st.ended = e.is_final();
                return Some((Ok(sse_event(&e)), st));
            }

            match st.live.recv().await {
                // Progress is a snapshot: delivered as it comes, a repeat is harmless.
                Ok(e) if e.kind == "progress" => return Some((Ok(sse_event(&e)), st)),
                Ok(e) if e.seq < st.next_seq => continue,
                Ok(e) => {
                    st.next_seq = e.seq + 1;
                    st.ended = e.is_final();
                    return Some((Ok(sse_event(&e)), st));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    st.pending = st.handle.replay_from(st.next_seq).into();
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// JSON Schema of `GET /api/jobs`.
pub fn list_schema() -> Value {
    json!({
        "type": "object",
        "required": ["jobs", "total", "limit", "offset"],
        "properties": {
            "jobs": {"type": "array", "items": job_schema()},
            "total": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1},
            "offset": {"type": "integer", "minimum": 0},
        },
    })
}

/// `text/event-stream` has no JSON Schema; the OpenAPI document describes its events.
pub fn events_schema() -> Value {
    json!({
        "type": "string",
        "description": "Server-Sent Events: `state` ({state, at, message?}), `progress` ({done, total, unit, message, at}) and `log` ({level, line, at}); each with `id:` its position, for `Last-Event-ID`. Ends after the final state.",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn filters_are_checked() {
        let f = job_filter(&q(&[
            ("plugin", "zfs"),
            ("state", "running"),
            ("limit", "10"),
        ]))
        .expect("valid");
        assert_eq!(
            (f.plugin.as_deref(), f.state, f.limit, f.offset),
            (Some("zfs"), Some(JobState::Running), 10, 0)
        );
        for bad in [
            ("plugin", "../etc"),
            ("plugin", "Zfs;drop"),
            ("state", "done"),
            ("device", "a b"),
            ("device", "-oProxyCommand=x"),
            ("limit", "501"),
            ("limit", "-1"),
            ("offset", "x"),
        ] {
            let e = job_filter(&q(&[bad])).expect_err(bad.1);
            assert_eq!(e.status, http::StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        }
        assert!(job_filter(&q(&[("state", "failed"), ("state", "running")])).is_err());
    }

    #[test]
    fn ids_must_be_uuids() {
        assert!(job_id("not-a-uuid").is_err());
        assert!(job_id("../../etc/passwd").is_err());
        assert_eq!(
            job_id("6F9619FF-8B86-D011-B42D-00C04FC964FF").expect("uuid"),
            "6f9619ff-8b86-d011-b42d-00c04fc964ff"
        );
    }
}
