//! The API's view of a job: `GET /api/jobs/{id}`, the items of `GET /api/jobs`, the body of a
//! `202 Accepted`, and the JSON Schema of that shape for the OpenAPI document.

use infrastructor_store::jobs::Job;
use serde_json::{Value, json};

/// The path of job `id`.
pub fn job_path(id: &str) -> String {
    format!("/api/jobs/{id}")
}

/// A job as the API shows it: state, progress, timings, the result or the error with its
/// HTTP-style code and status, who started it, and links.
pub fn job_json(job: &Job) -> Value {
    let duration_ms = match (&job.started_at, &job.finished_at) {
        (Some(start), Some(end)) => millis_between(start, end),
        _ => None,
    };
    // The handler's answer, also when it was an error answer (a deploy's per-step report).
    let result = job
        .result
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null);
    let error = job.error_message.as_ref().map(|message| {
        json!({
            "code": job.error_kind.clone().unwrap_or_else(|| job.state.as_str().to_ascii_uppercase()),
            "status": job.result_status,
            "message": message,
        })
    });
    let path = job_path(&job.id);
    json!({
        "id": job.id,
        "plugin": job.plugin,
        "operation_id": job.operation_id,
        "device": job.device,
        "state": job.state,
        "progress": job.progress,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "duration_ms": duration_ms,
        "result_status": job.result_status,
        "result": result,
        "error": error,
        "principal": job.principal,
        "request_id": job.request_id,
        "links": {"self": path, "events": format!("{path}/events")},
    })
}

fn millis_between(start: &str, end: &str) -> Option<i64> {
    let s = chrono::DateTime::parse_from_rfc3339(start).ok()?;
    let e = chrono::DateTime::parse_from_rfc3339(end).ok()?;
    Some((e - s).num_milliseconds())
}

/// JSON Schema of [`job_json`].
pub fn job_schema() -> Value {
    let nullable_string = json!({"type": ["string", "null"]});
    json!({
        "type": "object",
        "required": ["id", "plugin", "operation_id", "state", "created_at", "links"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "plugin": {"type": "string"},
            "operation_id": {"type": "string"},
            "device": nullable_string,
            "state": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]},
            "progress": {
                "type": ["object", "null"],
                "properties": {
                    "done": {"type": "integer", "minimum": 0},
                    "total": {"type": ["integer", "null"], "minimum": 0},
                    "unit": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": {"type": ["string", "null"], "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "duration_ms": {"type": ["integer", "null"]},
            "result_status": {"type": ["integer", "null"]},
            "result": {"description": "The handler's answer (JSON) once it answered: its result, or the body of its error answer."},
            "error": {
                "type": ["object", "null"],
                "properties": {
                    "code": {"type": "string"},
                    "status": {"type": ["integer", "null"]},
                    "message": {"type": "string"},
                },
            },
            "principal": nullable_string,
            "request_id": {"type": "string"},
            "links": {
                "type": "object",
                "properties": {"self": {"type": "string"}, "events": {"type": "string"}},
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_store::jobs::{JobState, Progress};

    fn job(state: JobState) -> Job {
        Job {
            id: "j1".into(),
            plugin: "zfs".into(),
            operation_id: "send".into(),
            device: Some("nas".into()),
            state,
            scope: "write".into(),
            principal: None,
            request_id: "r".into(),
            progress: Some(Progress {
                done: 1,
                total: Some(2),
                unit: "bytes".into(),
                message: String::new(),
            }),
            result_status: Some(200),
            result: Some(r#"{"ok":true}"#.into()),
            error_kind: None,
            error_message: None,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            started_at: Some("2026-01-01T00:00:01.000Z".into()),
            finished_at: Some("2026-01-01T00:00:03.500Z".into()),
        }
    }

    #[test]
    fn views_and_schema_agree() {
        let ok = job_json(&job(JobState::Succeeded));
        assert_eq!(ok["result"], json!({"ok": true}));
        assert_eq!(ok["duration_ms"], 2500);
        assert_eq!(ok["links"]["events"], "/api/jobs/j1/events");
        assert!(ok["error"].is_null());
        let mut failed = job(JobState::Failed);
        failed.error_kind = Some("SERVICE_UNAVAILABLE".into());
        failed.error_message = Some("nas is down".into());
        failed.result_status = Some(503);
        failed.result = None;
        let failed = job_json(&failed);
        assert!(failed["result"].is_null());
        assert_eq!(failed["error"]["code"], "SERVICE_UNAVAILABLE");
        let schema = job_schema();
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        assert!(validator.is_valid(&ok));
        assert!(validator.is_valid(&failed));
    }
}
