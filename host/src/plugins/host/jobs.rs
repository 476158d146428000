//! `jobs`: the progress, log and cancel flag of the job the call runs as, and queueing an
//! internal route as a job ([`crate::plugins::jobs`]).

use infrastructor_store::jobs::Progress;

use crate::fault::Fault;
use crate::plugins::bindings::v0_2::WitError;
use crate::plugins::bindings::v0_2::infrastructor::plugin::{jobs, log};
use crate::plugins::instance::InstanceState;

use super::to_wit_error;

/// Longest progress unit and message kept, in bytes.
const MAX_PROGRESS_TEXT: usize = 256;

fn level_name(level: log::Level) -> &'static str {
    match level {
        log::Level::Trace => "trace",
        log::Level::Debug => "debug",
        log::Level::Info => "info",
        log::Level::Warn => "warn",
        log::Level::Error => "error",
    }
}

fn clip(text: String) -> String {
    if text.len() <= MAX_PROGRESS_TEXT {
        return text;
    }
    let mut end = MAX_PROGRESS_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

impl jobs::Host for InstanceState {
    async fn progress(&mut self, done: u64, total: Option<u64>, unit: String, message: String) {
        if let Some(job) = &self.job {
            job.report(Progress {
                done,
                total,
                unit: clip(unit),
                message: clip(message),
            });
        }
    }

    async fn log(&mut self, level: log::Level, line: String) {
        let name = level_name(level);
        let job = self.job.as_ref().map(|j| j.id.as_str()).unwrap_or("-");
        tracing::info!(plugin = %self.plugin.name, request_id = %self.call.request_id, job, level = name, line = %line.chars().take(1024).collect::<String>(), "job log");
        if let Some(job) = &self.job {
            job.log_line(name, &line);
        }
    }

    async fn is_cancelled(&mut self) -> bool {
        self.job.as_ref().is_some_and(|j| j.is_cancelled())
    }

    async fn enqueue(&mut self, operation_id: String, body: String) -> Result<String, WitError> {
        self.taint_answer();
        let Some(loaded) = self.loaded.clone() else {
            return Err(to_wit_error(Fault::unavailable(
                "jobs are not available while a plugin loads",
            )));
        };
        let call = self.call.clone();
        self.timed(async move {
            crate::plugins::jobs::enqueue(&loaded, &operation_id, &body, &call).await
        })
        .await
        .map_err(to_wit_error)
    }
}
