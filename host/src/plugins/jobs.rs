//! Plugin routes as jobs ([`crate::jobs`]): a long-running route called over HTTP, or an
//! internal route queued with the `jobs` import. Either way the job runs `handle` in a fresh
//! instance with the plugin's grants and the job's handle (for `jobs.progress`, `jobs.log`,
//! `jobs.is-cancelled` and pipe progress).

use std::sync::Arc;

use infrastructor_store::jobs::Job;

use super::call::{PluginRequest, PluginResponse, ResponseBody};
use super::manifest::RouteSpec;
use super::{CallContext, LoadedPlugin, PluginError};
use crate::fault::Fault;
use crate::jobs::{JobHandle, JobResult, JobSpec};

/// Path parameters that name the device a route works on (per-device job limits).
const DEVICE_PARAMS: &[&str] = &["hostname", "device", "host"];

/// Starts `request` for `route` of `plugin` as a job; returns the job as recorded and its
/// handle.
pub async fn start(
    plugin: &Arc<LoadedPlugin>,
    route: &RouteSpec,
    request: PluginRequest,
    call: CallContext,
) -> Result<(Job, Arc<JobHandle>), Fault> {
    let device = request
        .path_params
        .iter()
        .find(|(name, _)| DEVICE_PARAMS.contains(&name.as_str()))
        .map(|(_, value)| value.clone());
    let spec = JobSpec {
        plugin: plugin.manifest.name.clone(),
        operation_id: route.operation_id.clone(),
        device,
        scope: route.scope,
        principal: call.principal.clone(),
        request_id: call.request_id.clone(),
    };
    let plugin = plugin.clone();
    plugin
        .services()
        .jobs
        .clone()
        .submit(spec, move |handle| {
            Box::pin(async move {
                let answer = plugin.handle_job(request, call, handle).await;
                job_result(answer)
            })
        })
        .await
}

/// Queues the internal route `operation_id` of `plugin` with the JSON `body`, validated now
/// against the route's schema, as a job started by the current call's principal. Returns the
/// job's id at once.
///
/// Errors: bad-request when there is no such internal route or the body does not match.
pub async fn enqueue(
    plugin: &Arc<LoadedPlugin>,
    operation_id: &str,
    body: &str,
    call: &CallContext,
) -> Result<String, Fault> {
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
        request_id,
        principal: call.principal.clone(),
        hosts: call.hosts,
    };
    let (job, _handle) = start(plugin, route, request, call).await?;
    Ok(job.id)
}

/// A handler's answer as a job result.
fn job_result(answer: Result<PluginResponse, PluginError>) -> JobResult {
    match answer {
        Ok(PluginResponse {
            status,
            content_type,
            body: ResponseBody::Bytes(body),
            ..
        }) => JobResult::Answer {
            status,
            content_type,
            body: body.into(),
        },
        Ok(PluginResponse {
            body: ResponseBody::Stream(_),
            ..
        }) => JobResult::Error {
            status: 500,
            code: "PLUGIN_FAILED".into(),
            message: "a job cannot answer with a streamed body".into(),
        },
        Err(e) => {
            let (status, code) = e.status_and_code();
            JobResult::Error {
                status,
                code: code.into(),
                message: e.to_string(),
            }
        }
    }
}
