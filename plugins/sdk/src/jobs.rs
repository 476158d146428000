//! Jobs (the `jobs` import): progress and log lines of the job the current call runs, its
//! cancellation flag, and queueing one of the plugin's internal routes as a job.
//!
//! A handler runs as a job when its route is declared [`crate::Route::long_running`] (or is
//! an internal route queued with [`enqueue`]). Outside a job, [`progress`] does nothing,
//! [`log`] only writes to the host's log and [`is_cancelled`] is false. Natively (in unit
//! tests) they go to the installed mock host, or to standard error when there is none.

use serde::Serialize;

use crate::Error;
use crate::log::Level;

/// Reports how far the job is: `done` of `total` (`None` when unknown) in `unit`
/// (`"bytes"`, `"steps"`…), with a short message. The host keeps the latest value and
/// publishes it to watchers at most four times a second, so calling this often is cheap.
pub fn progress(done: u64, total: Option<u64>, unit: &str, message: &str) {
    crate::host::jobs::progress(done, total, unit, message);
}

/// Adds a line to the job's log (the host keeps at most 1000 lines of 4 KiB per job) and to
/// the host's log.
pub fn log(level: Level, line: &str) {
    crate::host::jobs::log(crate::log::to_wit(level), line);
}

/// True once a client asked to cancel the job. The host interrupts the guest by itself at
/// its next host call, so this only helps a guest avoid starting new work.
pub fn is_cancelled() -> bool {
    crate::host::jobs::is_cancelled()
}

/// Queues the internal route `operation_id` with `body` (serialised as JSON and validated
/// against the route's schema by the host) as a job, and returns the job's id at once. The
/// host runs it in a fresh instance with this plugin's grants; it is listed under
/// `/api/jobs` with its outcome.
pub fn enqueue<T: Serialize>(operation_id: &str, body: &T) -> Result<String, Error> {
    let text = serde_json::to_string(body)
        .map_err(|e| Error::internal(format!("job body is not serialisable: {e}")))?;
    crate::host::jobs::enqueue(operation_id, &text).map_err(Into::into)
}
