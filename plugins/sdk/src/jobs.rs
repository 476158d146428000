//! Background jobs: queue one of the plugin's internal routes ([`crate::Route::internal`]).

use serde::Serialize;

use crate::Error;
use crate::bindings::infrastructor::plugin::jobs as wit;

/// Queues the internal route `operation_id` with `body` (serialised as JSON and validated
/// against the route's schema by the host). Returns once queued; the host runs the job in a
/// fresh instance with this plugin's grants and logs its outcome.
pub fn enqueue<T: Serialize>(operation_id: &str, body: &T) -> Result<(), Error> {
    let text = serde_json::to_string(body)
        .map_err(|e| Error::internal(format!("job body is not serialisable: {e}")))?;
    wit::enqueue(operation_id, &text).map_err(Into::into)
}
