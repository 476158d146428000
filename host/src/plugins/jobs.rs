//! Background jobs: a plugin's internal routes, queued with the `jobs` import and run later in
//! a fresh instance with the plugin's grants, at most `plugins.max_jobs` at once.

use std::sync::Arc;

use super::call::PluginRequest;
use super::{CallContext, LoadedPlugin};
use crate::fault::Fault;

/// Queues the internal route `operation_id` of `plugin` with the JSON `body`, validated now
/// against the route's schema. Returns at once; the outcome is logged.
///
/// Errors: bad-request when there is no such internal route or the body does not match.
pub fn enqueue(
    plugin: &Arc<LoadedPlugin>,
    operation_id: &str,
    body: &str,
    call: &CallContext,
) -> Result<(), Fault> {
    let Some(route) = plugin
        .manifest
        .routes
        .iter()
        .find(|r| r.operation_id == operation_id && r.internal)
    else {
        return Err(Fault::bad_request(format!(
            "no internal route `{operation_id}` to run as a job"
        )));
    };
    let value: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| Fault::bad_request(format!("job body is not JSON: {e}")))?;
    if let Some(schema) = &route.request_body {
        let validator = jsonschema::validator_for(schema)
            .map_err(|e| Fault::internal(format!("job schema: {e}")))?;
        if let Some(error) = validator.iter_errors(&value).next() {
            return Err(Fault::bad_request(format!("job body: {error}")));
        }
    }
    let request_id = format!("job:{}", uuid::Uuid::new_v4());
    let request = PluginRequest {
        operation_id: operation_id.to_string(),
        method: route.method,
        path: String::new(),
        path_params: Vec::new(),
        query: Vec::new(),
        body: Some(body.to_string()),
        request_id: request_id.clone(),
        principal: call.principal.clone(),
    };
    let call = CallContext {
        request_id: request_id.clone(),
        principal: call.principal.clone(),
    };
    let slots = plugin.services().jobs.clone();
    let plugin = plugin.clone();
    let job = operation_id.to_string();
    tracing::info!(plugin = %plugin.manifest.name, %job, %request_id, "job queued");
    tokio::spawn(async move {
        let Ok(_permit) = slots.acquire().await else {
            return;
        };
        let name = plugin.manifest.name.clone();
        match plugin.handle(request, call).await {
            Ok(r) if r.status < 400 => {
                tracing::info!(plugin = %name, %job, %request_id, status = r.status, "job done")
            }
            Ok(r) => {
                tracing::warn!(plugin = %name, %job, %request_id, status = r.status, "job answered an error")
            }
            Err(e) => {
                tracing::warn!(plugin = %name, %job, %request_id, error = %e, "job failed")
            }
        }
    });
    Ok(())
}
