//! One live job: its cancel flag, its latest progress, and its ordered event log, kept in
//! memory for watchers (replay plus a broadcast of what comes next, under one lock so a
//! watcher sees every event once and in order) and written to the database by one writer
//! task in the same order.
//!
//! Bounds: at most [`MAX_LOG_LINES`] log lines of at most [`MAX_LINE_BYTES`] each are kept
//! per job (more are counted); progress reaches watchers at most every
//! [`PROGRESS_EVERY`], the job's row at most every [`PROGRESS_ROW_EVERY`], and the event log
//! at most every [`PROGRESS_EVENT_EVERY`], at most [`MAX_PROGRESS_EVENTS`] times.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use infrastructor_store::jobs::{self as store_jobs, JobState, Progress};
use infrastructor_store::{Store, now_rfc3339};
use serde_json::json;
use tokio::sync::{broadcast, mpsc, watch};

/// Log lines kept per job.
pub const MAX_LOG_LINES: u32 = 1000;
/// Longest kept log line, in bytes (longer ones are cut at a character boundary).
pub const MAX_LINE_BYTES: usize = 4096;
/// How often watchers get the latest progress at most.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);
/// How often the job's row gets the latest progress at most.
pub const PROGRESS_ROW_EVERY: Duration = Duration::from_secs(1);
/// How often a progress event is added to the kept log at most.
pub const PROGRESS_EVENT_EVERY: Duration = Duration::from_secs(5);
/// Progress events kept per job.
pub const MAX_PROGRESS_EVENTS: u32 = 1000;
/// Events a watcher may fall behind before it is resynchronised from the replay.
const BROADCAST_CAPACITY: usize = 256;

/// One event of a job, as watchers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    /// Position in the job's log (progress events that are not kept repeat the last kept
    /// position, so a watcher that resynchronises from the replay misses nothing kept).
    pub seq: u64,
    /// `state`, `progress` or `log`.
    pub kind: &'static str,
    /// The event's JSON.
    pub data: String,
}

impl JobEvent {
    /// True for the event that ends a job's log.
    pub fn is_final(&self) -> bool {
        self.kind == "state"
            && serde_json::from_str::<serde_json::Value>(&self.data)
                .ok()
                .and_then(|v| v.get("state")?.as_str().and_then(JobState::parse))
                .is_some_and(JobState::is_final)
    }
}

/// What the writer task stores, in order.
enum Write {
    Event {
        seq: u64,
        kind: &'static str,
        data: String,
    },
    Progress(Progress),
    Start,
    Finish(store_jobs::Outcome),
}

struct Log {
    /// Kept events (state, log lines, sparse progress), in order.
    replay: Vec<JobEvent>,
    next_seq: u64,
    live: broadcast::Sender<JobEvent>,
}

struct ProgressState {
    latest: Option<Progress>,
    published: Option<Progress>,
    row_at: Option<Instant>,
    event_at: Option<Instant>,
    events: u32,
}

/// A live job, shared by its runner, the host imports of its instance and its watchers.
pub struct JobHandle {
    /// The job's id.
    pub id: String,
    /// The plugin it runs.
    pub plugin: String,
    cancel: watch::Sender<bool>,
    cancelled: AtomicBool,
    interrupted: AtomicBool,
    log: Mutex<Log>,
    progress: Mutex<ProgressState>,
    log_lines: AtomicU32,
    writer: Mutex<Option<mpsc::UnboundedSender<Write>>>,
    done: watch::Sender<Option<JobState>>,
}

impl JobHandle {
    /// A handle for job `id` whose writes go to `store` through a task spawned here; the
    /// task ends once [`JobHandle::close`] is awaited.
    pub(crate) fn new(
        id: String,
        plugin: String,
        store: Store,
    ) -> (Arc<JobHandle>, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_all(id.clone(), store, rx));
        let handle = Arc::new(JobHandle {
            id,
            plugin,
            cancel: watch::channel(false).0,
            cancelled: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
            log: Mutex::new(Log {
                replay: Vec::new(),
                next_seq: 0,
                live: broadcast::channel(BROADCAST_CAPACITY).0,
            }),
            progress: Mutex::new(ProgressState {
                latest: None,
                published: None,
                row_at: None,
                event_at: None,
                events: 0,
            }),
            log_lines: AtomicU32::new(0),
            writer: Mutex::new(Some(tx)),
            done: watch::channel(None).0,
        });
        (handle, writer)
    }

    fn write(&self, w: Write) {
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = writer.as_ref() {
            let _ = tx.send(w);
        }
    }

    /// Numbers a kept event and queues it for the database (not yet shown to watchers).
    fn record(&self, log: &mut Log, kind: &'static str, data: String) -> JobEvent {
        let event = JobEvent {
            seq: log.next_seq,
            kind,
            data,
        };
        log.next_seq += 1;
        self.write(Write::Event {
            seq: event.seq,
            kind,
            data: event.data.clone(),
        });
        event
    }

    /// Shows a recorded event to watchers: the replay and the broadcast.
    fn publish(log: &mut Log, event: JobEvent) {
        log.replay.push(event.clone());
        let _ = log.live.send(event);
    }

    /// Adds a kept event and broadcasts it.
    fn push(&self, kind: &'static str, data: String) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let event = self.record(&mut log, kind, data);
        Self::publish(&mut log, event);
    }

    /// The events so far and a receiver of those to come, with nothing lost or repeated
    /// between them.
    pub fn watch(&self) -> (Vec<JobEvent>, broadcast::Receiver<JobEvent>) {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        (log.replay.clone(), log.live.subscribe())
    }

    /// Kept events from `seq` on (for a watcher that fell behind).
    pub fn replay_from(&self, seq: u64) -> Vec<JobEvent> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.replay
            .iter()
            .filter(|e| e.seq >= seq)
            .cloned()
            .collect()
    }

    /// Records a state change (`running`, or a final state with its message).
    pub(crate) fn state(&self, state: JobState, message: Option<&str>) {
        if state == JobState::Running {
            self.write(Write::Start);
        }
        self.push("state", state_data(state, message));
    }

    /// Sets the latest progress; published by [`JobHandle::publish_progress`].
    pub fn report(&self, progress: Progress) {
        let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        p.latest = Some(progress);
    }

    /// Sets the byte count of a pipe as the latest progress.
    pub fn report_bytes(&self, done: u64, total: Option<u64>, message: &str) {
        self.report(Progress {
            done,
            total,
            unit: "bytes".into(),
            message: message.into(),
        });
    }

    /// Publishes the latest progress when it changed: to watchers always, to the job's row
    /// and to the kept log when their intervals passed (or `force`, at the end).
    pub(crate) fn publish_progress(&self, force: bool) {
        let now = Instant::now();
        let (progress, to_row, to_log) = {
            let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
            let Some(latest) = p.latest.clone() else {
                return;
            };
            if p.published.as_ref() == Some(&latest) {
                return;
            }
            p.published = Some(latest.clone());
            let due = |at: Option<Instant>, every: Duration| {
                force || at.is_none_or(|t| now.duration_since(t) >= every)
            };
            let to_row = due(p.row_at, PROGRESS_ROW_EVERY);
            if to_row {
                p.row_at = Some(now);
            }
            let to_log = due(p.event_at, PROGRESS_EVENT_EVERY) && p.events < MAX_PROGRESS_EVENTS;
            if to_log {
                p.event_at = Some(now);
                p.events += 1;
            }
            (latest, to_row, to_log)
        };
        let data = json!({
            "done": progress.done, "total": progress.total, "unit": progress.unit,
            "message": progress.message, "at": now_rfc3339(),
        })
        .to_string();
        if to_row {
            self.write(Write::Progress(progress));
        }
        if to_log {
            self.push("progress", data);
        } else {
            // Live only: watchers see it, the kept log does not.
            let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            let _ = log.live.send(JobEvent {
                seq: log.next_seq.saturating_sub(1),
                kind: "progress",
                data,
            });
        }
    }

    /// Adds a log line (kept while under [`MAX_LOG_LINES`]; one more event says when lines
    /// start being dropped).
    pub fn log_line(&self, level: &str, line: &str) {
        let n = self.log_lines.fetch_add(1, Ordering::Relaxed);
        if n > MAX_LOG_LINES {
            return;
        }
        let data = if n == MAX_LOG_LINES {
            json!({"level": "warn", "line": format!("more than {MAX_LOG_LINES} log lines: further lines are not kept"), "at": now_rfc3339()})
        } else {
            json!({"level": level, "line": truncate(line, MAX_LINE_BYTES), "at": now_rfc3339()})
        };
        self.push("log", data.to_string());
    }

    /// Asks the job to stop. Returns false when it was already asked.
    pub fn cancel(&self) -> bool {
        if self.cancelled.swap(true, Ordering::SeqCst) {
            return false;
        }
        let _ = self.cancel.send(true);
        true
    }

    /// Stops the job because the server stops: it ends `interrupted`, not `cancelled`.
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        self.cancel();
    }

    /// True when the server stopped the job.
    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// True once cancelled (or interrupted).
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Resolves when the job is cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.cancel.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Resolves with the final state once the job has one and its writes are stored.
    pub async fn finished(&self) -> JobState {
        let mut rx = self.done.subscribe();
        loop {
            if let Some(state) = *rx.borrow_and_update() {
                return state;
            }
            if rx.changed().await.is_err() {
                return JobState::Interrupted;
            }
        }
    }

    /// Records the final state: the last progress, the final event, the row; then closes the
    /// writer, waits for it, and wakes whoever waits in [`JobHandle::finished`].
    pub(crate) async fn close(
        &self,
        outcome: store_jobs::Outcome,
        writer: tokio::task::JoinHandle<()>,
    ) {
        self.publish_progress(true);
        let state = outcome.state;
        // The final event is stored with the final row first and shown to watchers only
        // then, so a client that saw it and reads the job gets the final record.
        let last = {
            let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            self.record(
                &mut log,
                "state",
                state_data(state, outcome.error_message.as_deref()),
            )
        };
        self.write(Write::Finish(outcome));
        let tx = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(tx);
        let _ = writer.await;
        Self::publish(
            &mut self.log.lock().unwrap_or_else(|e| e.into_inner()),
            last,
        );
        let _ = self.done.send(Some(state));
    }
}

/// The JSON of a `state` event.
fn state_data(state: JobState, message: Option<&str>) -> String {
    let mut data = json!({"state": state.as_str(), "at": now_rfc3339()});
    if let Some(m) = message {
        data["message"] = json!(m);
    }
    data.to_string()
}

/// `line` cut to at most `max` bytes at a character boundary.
fn truncate(line: &str, max: usize) -> &str {
    if line.len() <= max {
        return line;
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// The writer task: stores every write in order; logs and goes on when one fails.
async fn write_all(id: String, store: Store, mut rx: mpsc::UnboundedReceiver<Write>) {
    while let Some(first) = rx.recv().await {
        // Batch what is already queued into one blocking call.
        let mut batch = vec![first];
        while batch.len() < 256 {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let job = id.clone();
        let result = store
            .call(move |c| {
                let tx = c.transaction()?;
                for w in &batch {
                    match w {
                        Write::Event { seq, kind, data } => {
                            store_jobs::add_event(&tx, &job, *seq, kind, data)?
                        }
                        Write::Progress(p) => store_jobs::set_progress(&tx, &job, p)?,
                        Write::Start => {
                            store_jobs::start(&tx, &job)?;
                        }
                        Write::Finish(o) => {
                            store_jobs::finish(&tx, &job, o)?;
                        }
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(job = %id, error = %e, "cannot store job events");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_at_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }

    #[test]
    fn the_final_state_event_is_recognised() {
        let e = |data: &str| JobEvent {
            seq: 0,
            kind: "state",
            data: data.into(),
        };
        assert!(e(r#"{"state":"failed"}"#).is_final());
        assert!(!e(r#"{"state":"running"}"#).is_final());
        assert!(!e("not json").is_final());
    }
}
