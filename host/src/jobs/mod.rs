//! Jobs as a host service: work that outlives an HTTP request (a long-running plugin route,
//! an internal route queued with `jobs.enqueue`), persisted in SQLite, run in the background
//! under global and per-device limits, watched through its events, and cancellable.
//!
//! The service knows nothing about plugins: [`JobService::submit`] takes a description of
//! the job and the work to run (a future built from the [`JobHandle`] it will report to);
//! the plugin runtime builds that future ([`crate::plugins::jobs`]).
//!
//! Life of a job: `queued` (inserted, waiting for a global and a device slot) → `running`
//! → `succeeded` | `failed` | `cancelled`. Cancelling drops the work future, which drops
//! the guest's instance and every remote command it was awaiting; the SSH layer stops the
//! remote process group of each. A job still queued or running when the server stops is
//! `interrupted`: at shutdown by [`JobService::shutdown`], after a crash by
//! [`JobService::recover`] at the next start.

mod handle;
pub mod view;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use infrastructor_store::Store;
use infrastructor_store::jobs::{self as store_jobs, Job, JobState, NewJob, Outcome};
use tokio::sync::Semaphore;

pub use handle::{JobEvent, JobHandle, MAX_LINE_BYTES, MAX_LOG_LINES, PROGRESS_EVERY};

use crate::config::{JobsConfig, Scope};
use crate::fault::Fault;

/// Longest job result kept, in bytes; a bigger answer is replaced by a note saying so.
pub const MAX_RESULT_BYTES: usize = 1024 * 1024;

/// What a job is, for the record.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// The plugin whose route it runs.
    pub plugin: String,
    /// The route's operation id.
    pub operation_id: String,
    /// The device it works on, when its route names one.
    pub device: Option<String>,
    /// The scope of that route (cancelling needs it).
    pub scope: Scope,
    /// The API key that started it.
    pub principal: Option<String>,
    /// The request that started it.
    pub request_id: String,
}

/// How a job's work ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobResult {
    /// The handler answered: a status below 400 succeeds, any other fails.
    Answer {
        /// HTTP status.
        status: u16,
        /// Its content type.
        content_type: String,
        /// Its body.
        body: Vec<u8>,
    },
    /// The handler failed before answering.
    Error {
        /// HTTP status of the failure.
        status: u16,
        /// Stable code (`PLUGIN_FAILED`, `SERVICE_UNAVAILABLE`…).
        code: String,
        /// User-safe message.
        message: String,
    },
}

/// The work of a job: a future that reports to the handle it was built from.
pub type JobWork = Pin<Box<dyn Future<Output = JobResult> + Send>>;

/// The job service.
pub struct JobService {
    store: Store,
    config: JobsConfig,
    global: Arc<Semaphore>,
    devices: Mutex<HashMap<String, Arc<Semaphore>>>,
    live: Mutex<HashMap<String, Arc<JobHandle>>>,
}

impl JobService {
    /// The service over `store` with the limits of `config`.
    pub fn new(store: Store, config: JobsConfig) -> Arc<JobService> {
        Arc::new(JobService {
            global: Arc::new(Semaphore::new(config.max_running as usize)),
            store,
            config,
            devices: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
        })
    }

    /// The limits in force.
    pub fn config(&self) -> &JobsConfig {
        &self.config
    }

    /// Marks jobs left `queued` or `running` by a previous run `interrupted` (start-up).
    pub async fn recover(&self) -> Result<usize, Fault> {
        let n = self
            .store
            .call(|c| {
                store_jobs::interrupt_unfinished(
                    c,
                    "the server stopped while the job was queued or running",
                )
            })
            .await?;
        if n > 0 {
            tracing::warn!(jobs = n, "jobs of a previous run marked interrupted");
        }
        Ok(n)
    }

    /// Records a `queued` job and starts it in the background: it waits for a global slot
    /// and one for its device, then runs the work `make` builds from its handle. Returns
    /// the job as recorded and its handle.
    pub async fn submit(
        self: &Arc<Self>,
        spec: JobSpec,
        make: impl FnOnce(Arc<JobHandle>) -> JobWork + Send + 'static,
    ) -> Result<(Job, Arc<JobHandle>), Fault> {
        let id = uuid::Uuid::new_v4().to_string();
        let record = NewJob {
            id: id.clone(),
            plugin: spec.plugin.clone(),
            operation_id: spec.operation_id.clone(),
            device: spec.device.clone(),
            scope: spec.scope.as_str().to_owned(),
            principal: spec.principal.clone(),
            request_id: spec.request_id.clone(),
        };
        let job = self
            .store
            .call(move |c| store_jobs::insert(c, &record))
            .await?;
        let (handle, writer) = JobHandle::new(id.clone(), spec.plugin.clone(), self.store.clone());
        handle.state(JobState::Queued, None);
        self.live_jobs().insert(id.clone(), handle.clone());
        tracing::info!(job = %id, plugin = %spec.plugin, operation = %spec.operation_id, device = ?spec.device, "job queued");
        let this = self.clone();
        let h = handle.clone();
        tokio::spawn(async move {
            let outcome = this.run(&h, spec.device.as_deref(), make).await;
            tracing::info!(job = %h.id, state = outcome.state.as_str(), message = ?outcome.error_message, "job finished");
            h.close(outcome, writer).await;
            this.live_jobs().remove(&h.id);
        });
        Ok((job, handle))
    }

    /// Waits for slots, runs the work under the cancel flag, and says how it ended.
    async fn run(
        &self,
        handle: &Arc<JobHandle>,
        device: Option<&str>,
        make: impl FnOnce(Arc<JobHandle>) -> JobWork,
    ) -> Outcome {
        let device_slots = device.map(|d| self.device_slots(d));
        let slots = async {
            let global = self.global.clone().acquire_owned().await.ok();
            let device = match device_slots {
                Some(s) => s.acquire_owned().await.ok(),
                None => None,
            };
            (global, device)
        };
        let _permits = tokio::select! {
            permits = slots => permits,
            _ = handle.cancelled() => return stopped(handle),
        };
        if handle.is_cancelled() {
            return stopped(handle);
        }
        handle.state(JobState::Running, None);
        let work = make(handle.clone());
        tokio::pin!(work);
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        loop {
            tokio::select! {
                result = &mut work => return outcome_of(result),
                _ = handle.cancelled() => return stopped(handle),
                _ = tick.tick() => handle.publish_progress(false),
            }
        }
    }

    fn live_jobs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<JobHandle>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn device_slots(&self, device: &str) -> Arc<Semaphore> {
        let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        // Drop the semaphores of devices with nothing running, so the map stays small.
        let per_device = self.config.max_per_device as usize;
        devices.retain(|_, s| s.available_permits() < per_device || Arc::strong_count(s) > 1);
        devices
            .entry(device.to_ascii_lowercase())
            .or_insert_with(|| Arc::new(Semaphore::new(per_device)))
            .clone()
    }

    /// The live handle of job `id`, when it is queued or running in this process.
    pub fn live(&self, id: &str) -> Option<Arc<JobHandle>> {
        self.live_jobs().get(id).cloned()
    }

    /// The stored job `id`.
    pub async fn get(&self, id: &str) -> Result<Option<Job>, Fault> {
        let id = id.to_owned();
        Ok(self.store.call(move |c| store_jobs::get(c, &id)).await?)
    }

    /// One page of jobs.
    pub async fn list(&self, filter: store_jobs::JobFilter) -> Result<(Vec<Job>, u64), Fault> {
        Ok(self
            .store
            .call(move |c| store_jobs::list(c, &filter))
            .await?)
    }

    /// The kept events of job `id` from `from_seq` on (at most `limit`).
    pub async fn events(
        &self,
        id: &str,
        from_seq: u64,
        limit: u32,
    ) -> Result<Vec<store_jobs::JobEvent>, Fault> {
        let id = id.to_owned();
        Ok(self
            .store
            .call(move |c| store_jobs::events(c, &id, from_seq, limit))
            .await?)
    }

    /// Cancels job `id` and waits (at most `wait`) for it to stop. Errors: not-found when no
    /// such job exists, conflict when it already finished.
    pub async fn cancel(&self, id: &str, wait: Duration) -> Result<Job, Fault> {
        let Some(handle) = self.live(id) else {
            return match self.get(id).await? {
                Some(job) => Err(Fault::new(
                    crate::fault::FaultKind::Conflict,
                    format!("job {id} already finished: {}", job.state.as_str()),
                )),
                None => Err(Fault::not_found(format!("no job {id}"))),
            };
        };
        if handle.cancel() {
            tracing::info!(job = %id, "job cancel requested");
        }
        let _ = tokio::time::timeout(wait, handle.finished()).await;
        self.get(id)
            .await?
            .ok_or_else(|| Fault::not_found(format!("no job {id}")))
    }

    /// Stops every live job as `interrupted` (graceful shutdown) and waits for their
    /// records, at most `wait`.
    pub async fn shutdown(&self, wait: Duration) {
        let live: Vec<Arc<JobHandle>> = self.live_jobs().values().cloned().collect();
        for h in &live {
            h.interrupt();
        }
        let all = futures::future::join_all(live.iter().map(|h| h.finished()));
        let _ = tokio::time::timeout(wait, all).await;
    }

    /// Deletes finished jobs past retention; returns how many.
    pub async fn prune(&self) -> Result<usize, Fault> {
        let age = self.config.retention_hours.saturating_mul(3600);
        let keep = self.config.max_retained;
        Ok(self
            .store
            .call(move |c| store_jobs::prune(c, age, keep))
            .await?)
    }
}

/// The outcome of a job stopped before its work ended: cancelled by a client, or
/// interrupted by the server's shutdown.
fn stopped(handle: &JobHandle) -> Outcome {
    let (state, message) = if handle.is_interrupted() {
        (
            JobState::Interrupted,
            "the server stopped while the job ran",
        )
    } else {
        (JobState::Cancelled, "cancelled by a client")
    };
    Outcome {
        state,
        result_status: None,
        result: None,
        error_kind: None,
        error_message: Some(message.into()),
    }
}

/// The stored outcome of a result: the answer's body as JSON text (a non-JSON body as a
/// JSON string, a body over [`MAX_RESULT_BYTES`] as a note), failures with their code.
fn outcome_of(result: JobResult) -> Outcome {
    match result {
        JobResult::Answer {
            status,
            content_type,
            body,
        } => {
            let text = if body.len() > MAX_RESULT_BYTES {
                serde_json::json!({"truncated": true, "bytes": body.len()}).to_string()
            } else if content_type.contains("json")
                && serde_json::from_slice::<serde_json::Value>(&body).is_ok()
            {
                String::from_utf8_lossy(&body).into_owned()
            } else {
                serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()).to_string()
            };
            if status < 400 {
                Outcome {
                    state: JobState::Succeeded,
                    result_status: Some(status),
                    result: Some(text),
                    error_kind: None,
                    error_message: None,
                }
            } else {
                let message = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| {
                        v.pointer("/error/message")
                            .or_else(|| v.get("message"))
                            .and_then(|m| m.as_str().map(str::to_owned))
                    })
                    .unwrap_or_else(|| format!("the handler answered {status}"));
                Outcome {
                    state: JobState::Failed,
                    result_status: Some(status),
                    result: Some(text),
                    error_kind: Some(crate::fault::code_for_status(status).to_owned()),
                    error_message: Some(message),
                }
            }
        }
        JobResult::Error {
            status,
            code,
            message,
        } => Outcome {
            state: JobState::Failed,
            result_status: Some(status),
            result: None,
            error_kind: Some(code),
            error_message: Some(message),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, ct: &str, body: &[u8]) -> Outcome {
        outcome_of(JobResult::Answer {
            status,
            content_type: ct.into(),
            body: body.to_vec(),
        })
    }

    #[test]
    fn answers_become_outcomes() {
        let ok = answer(200, "application/json", br#"{"bytes":3}"#);
        assert_eq!(ok.state, JobState::Succeeded);
        assert_eq!(ok.result.as_deref(), Some(r#"{"bytes":3}"#));
        let text = answer(201, "text/plain", b"done \"now\"");
        assert_eq!(text.result.as_deref(), Some(r#""done \"now\"""#));
        let failed = answer(
            503,
            "application/json",
            br#"{"error":"unavailable","message":"nas is down"}"#,
        );
        assert_eq!(failed.state, JobState::Failed);
        assert_eq!(failed.error_kind.as_deref(), Some("SERVICE_UNAVAILABLE"));
        assert_eq!(failed.error_message.as_deref(), Some("nas is down"));
        let big = answer(200, "application/json", &vec![b'1'; MAX_RESULT_BYTES + 1]);
        assert!(
            big.result
                .as_deref()
                .is_some_and(|r| r.contains("truncated"))
        );
        let trapped = outcome_of(JobResult::Error {
            status: 500,
            code: "PLUGIN_FAILED".into(),
            message: "it trapped".into(),
        });
        assert_eq!(
            (trapped.state, trapped.error_kind.as_deref()),
            (JobState::Failed, Some("PLUGIN_FAILED"))
        );
    }
}
