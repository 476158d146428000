//! Plugin API 0.1.0, served by delegation: each 0.1.0 import converts its arguments to the
//! 0.2.0 types, calls the 0.2.0 implementation on the same instance state, and converts the
//! answer back; the 0.1.0 exports convert to the host's own types. A plugin built against
//! 0.1.0 therefore gets exactly the checks and services a 0.2.0 plugin gets.
//!
//! What changed in 0.2.0, and how 0.1.0 values map:
//! - capabilities were strings (`exec:docker ps *`): parsed with
//!   [`infrastructor_manifest::Capability::parse`];
//! - quotas were strings (`60/minute`): parsed with [`infrastructor_manifest::Quota::parse`];
//! - device status was a string: `online|offline|unknown|maintenance` (anything else is a
//!   bad request);
//! - a collection step was `command: argv(list) | script(tuple<name, args>)` in `collect` and
//!   `{argv, script: option<name>}` in the manifest's periodic collectors: both become the
//!   one 0.2.0 step.

use infrastructor_manifest as model;

use crate::fault::Fault;
use crate::plugins::bindings::{v0_1 as v1, v0_2 as v2};
use crate::plugins::instance::InstanceState;

use v1::infrastructor::plugin as i1;
use v2::infrastructor::plugin as i2;

fn err_down(e: v2::WitError) -> v1::WitError {
    match e {
        v2::WitError::NotFound(m) => v1::WitError::NotFound(m),
        v2::WitError::BadRequest(m) => v1::WitError::BadRequest(m),
        v2::WitError::Conflict(m) => v1::WitError::Conflict(m),
        v2::WitError::Unavailable(m) => v1::WitError::Unavailable(m),
        v2::WitError::Timeout(m) => v1::WitError::Timeout(m),
        v2::WitError::Forbidden(m) => v1::WitError::Forbidden(m),
        v2::WitError::Internal(m) => v1::WitError::Internal(m),
        v2::WitError::Upstream(m) => v1::WitError::Upstream(m),
        // 0.1.0 has neither kind: the closest it can carry on is a bad request (400).
        v2::WitError::Invalid(m) | v2::WitError::TooLarge(m) => v1::WitError::BadRequest(m),
    }
}

/// A 0.1.0 error as a host fault.
pub fn fault_from_wit(e: v1::WitError) -> Fault {
    let up = match e {
        v1::WitError::NotFound(m) => v2::WitError::NotFound(m),
        v1::WitError::BadRequest(m) => v2::WitError::BadRequest(m),
        v1::WitError::Conflict(m) => v2::WitError::Conflict(m),
        v1::WitError::Unavailable(m) => v2::WitError::Unavailable(m),
        v1::WitError::Timeout(m) => v2::WitError::Timeout(m),
        v1::WitError::Forbidden(m) => v2::WitError::Forbidden(m),
        v1::WitError::Internal(m) => v2::WitError::Internal(m),
        v1::WitError::Upstream(m) => v2::WitError::Upstream(m),
    };
    super::from_wit_error(up)
}

fn bad_request(message: String) -> v1::WitError {
    v1::WitError::BadRequest(message)
}

impl i1::types::Host for InstanceState {}

fn exec_output(o: i2::ssh::ExecOutput) -> i1::ssh::ExecOutput {
    i1::ssh::ExecOutput {
        exit_code: o.exit_code,
        stdout: o.stdout,
        stderr: o.stderr,
        duration_ms: o.duration_ms,
    }
}

impl i1::ssh::Host for InstanceState {
    async fn exec(
        &mut self,
        target: String,
        argv: Vec<String>,
        stdin: Option<Vec<u8>>,
        timeout_ms: u32,
    ) -> Result<i1::ssh::ExecOutput, v1::WitError> {
        i2::ssh::Host::exec(self, target, argv, stdin, timeout_ms)
            .await
            .map(exec_output)
            .map_err(err_down)
    }

    async fn run_script(
        &mut self,
        target: String,
        script: String,
        args: Vec<String>,
        stdin: Option<Vec<u8>>,
        timeout_ms: u32,
    ) -> Result<i1::ssh::ExecOutput, v1::WitError> {
        i2::ssh::Host::run_script(self, target, script, args, stdin, timeout_ms)
            .await
            .map(exec_output)
            .map_err(err_down)
    }
}

impl i1::collector::Host for InstanceState {
    async fn collect(
        &mut self,
        r: i1::collector::CollectRequest,
    ) -> Result<i1::collector::Collected, v1::WitError> {
        let request = i2::collector::CollectRequest {
            data_type: r.data_type,
            target: r.target,
            params: r
                .params
                .into_iter()
                .map(|p| i2::types::Pair {
                    name: p.name,
                    value: p.value,
                })
                .collect(),
            steps: r
                .steps
                .into_iter()
                .map(|s| i2::collector::Step {
                    name: s.name,
                    command: match s.command {
                        i1::collector::Command::Argv(argv) => i2::collector::Command::Argv(argv),
                        i1::collector::Command::Script((name, args)) => {
                            i2::collector::Command::Script(i2::collector::ScriptCall { name, args })
                        }
                    },
                    timeout_ms: s.timeout_ms,
                })
                .collect(),
            parser: r.parser,
            parser_args: r.parser_args,
            max_age_secs: r.max_age_secs,
            force_refresh: r.force_refresh,
        };
        i2::collector::Host::collect(self, request)
            .await
            .map(|c| i1::collector::Collected {
                data: c.data,
                cache_key: c.cache_key,
                collected_at: c.collected_at,
                duration_ms: c.duration_ms,
                cache_hit: c.cache_hit,
            })
            .map_err(err_down)
    }
}

fn document(d: i2::storage::Document) -> i1::storage::Document {
    i1::storage::Document {
        collection: d.collection,
        id: d.id,
        body: d.body,
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

fn snapshot(s: i2::storage::Snapshot) -> i1::storage::Snapshot {
    i1::storage::Snapshot {
        data_type: s.data_type,
        target: s.target,
        cache_key: s.cache_key,
        collected_at: s.collected_at,
        data: s.data,
    }
}

impl i1::storage::Host for InstanceState {
    async fn put(
        &mut self,
        collection: String,
        id: String,
        body: String,
    ) -> Result<i1::storage::Document, v1::WitError> {
        i2::storage::Host::put(self, collection, id, body)
            .await
            .map(document)
            .map_err(err_down)
    }

    async fn get(
        &mut self,
        collection: String,
        id: String,
    ) -> Result<Option<i1::storage::Document>, v1::WitError> {
        i2::storage::Host::get(self, collection, id)
            .await
            .map(|d| d.map(document))
            .map_err(err_down)
    }

    async fn delete(&mut self, collection: String, id: String) -> Result<bool, v1::WitError> {
        i2::storage::Host::delete(self, collection, id)
            .await
            .map_err(err_down)
    }

    async fn list(
        &mut self,
        collection: String,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<i1::storage::Document>, v1::WitError> {
        i2::storage::Host::list(self, collection, limit, offset)
            .await
            .map(|v| v.into_iter().map(document).collect())
            .map_err(err_down)
    }

    async fn snapshots(
        &mut self,
        data_type: String,
        target: Option<String>,
        limit: u32,
    ) -> Result<Vec<i1::storage::Snapshot>, v1::WitError> {
        i2::storage::Host::snapshots(self, data_type, target, limit)
            .await
            .map(|v| v.into_iter().map(snapshot).collect())
            .map_err(err_down)
    }

    async fn latest_snapshots(
        &mut self,
        data_type: String,
    ) -> Result<Vec<i1::storage::Snapshot>, v1::WitError> {
        i2::storage::Host::latest_snapshots(self, data_type)
            .await
            .map(|v| v.into_iter().map(snapshot).collect())
            .map_err(err_down)
    }
}

/// A 0.2.0 status by its 0.1.0 name (the store's names).
fn status_name(s: i2::registry::DeviceStatus) -> String {
    super::registry::from_wit_status(s).as_str().to_string()
}

/// A 0.1.0 status name as the 0.2.0 enum; a bad request for any other name.
fn status_from_name(s: &str) -> Result<i2::registry::DeviceStatus, v1::WitError> {
    s.parse::<infrastructor_store::devices::DeviceStatus>()
        .map(super::registry::to_wit_status)
        .map_err(|_| bad_request("unknown device status".into()))
}

fn device(d: i2::registry::Device) -> i1::registry::Device {
    i1::registry::Device {
        id: d.id,
        hostname: d.hostname,
        ip_address: d.ip_address,
        ssh_port: d.ssh_port,
        ssh_username: d.ssh_username,
        ssh_identity_file: d.ssh_identity_file,
        device_type: d.device_type,
        description: d.description,
        location: d.location,
        tags: d.tags,
        monitoring_enabled: d.monitoring_enabled,
        status: status_name(d.status),
        last_seen: d.last_seen,
        created_at: d.created_at,
        updated_at: d.updated_at,
        extra: d.extra,
    }
}

fn fields(f: i1::registry::DeviceFields) -> Result<i2::registry::DeviceFields, v1::WitError> {
    Ok(i2::registry::DeviceFields {
        status: f.status.as_deref().map(status_from_name).transpose()?,
        hostname: f.hostname,
        ip_address: f.ip_address,
        ssh_port: f.ssh_port,
        ssh_username: f.ssh_username,
        ssh_identity_file: f.ssh_identity_file,
        device_type: f.device_type,
        description: f.description,
        location: f.location,
        tags: f.tags,
        monitoring_enabled: f.monitoring_enabled,
        last_seen: f.last_seen,
        extra: f.extra,
    })
}

impl i1::registry::Host for InstanceState {
    async fn get(
        &mut self,
        hostname: String,
    ) -> Result<Option<i1::registry::Device>, v1::WitError> {
        i2::registry::Host::get(self, hostname)
            .await
            .map(|d| d.map(device))
            .map_err(err_down)
    }

    async fn list(
        &mut self,
        f: i1::registry::DeviceFilter,
    ) -> Result<i1::registry::DevicePage, v1::WitError> {
        let filter = i2::registry::DeviceFilter {
            status: f.status.as_deref().map(status_from_name).transpose()?,
            device_type: f.device_type,
            monitoring_enabled: f.monitoring_enabled,
            location: f.location,
            search: f.search,
            limit: f.limit,
            offset: f.offset,
        };
        i2::registry::Host::list(self, filter)
            .await
            .map(|p| i1::registry::DevicePage {
                items: p.items.into_iter().map(device).collect(),
                total: p.total,
            })
            .map_err(err_down)
    }

    async fn create(
        &mut self,
        f: i1::registry::DeviceFields,
    ) -> Result<i1::registry::Device, v1::WitError> {
        i2::registry::Host::create(self, fields(f)?)
            .await
            .map(device)
            .map_err(err_down)
    }

    async fn update(
        &mut self,
        hostname: String,
        f: i1::registry::DeviceFields,
    ) -> Result<i1::registry::Device, v1::WitError> {
        i2::registry::Host::update(self, hostname, fields(f)?)
            .await
            .map(device)
            .map_err(err_down)
    }

    async fn delete(&mut self, hostname: String) -> Result<bool, v1::WitError> {
        i2::registry::Host::delete(self, hostname)
            .await
            .map_err(err_down)
    }
}

impl i1::jobs::Host for InstanceState {
    async fn enqueue(&mut self, operation_id: String, body: String) -> Result<(), v1::WitError> {
        i2::jobs::Host::enqueue(self, operation_id, body)
            .await
            .map(|_job_id| ())
            .map_err(err_down)
    }
}

impl i1::config::Host for InstanceState {
    async fn get(&mut self) -> String {
        i2::config::Host::get(self).await
    }
}

impl i1::log::Host for InstanceState {
    async fn log(&mut self, level: i1::log::Level, message: String, fields: Vec<i1::types::Pair>) {
        let level = match level {
            i1::log::Level::Trace => i2::log::Level::Trace,
            i1::log::Level::Debug => i2::log::Level::Debug,
            i1::log::Level::Info => i2::log::Level::Info,
            i1::log::Level::Warn => i2::log::Level::Warn,
            i1::log::Level::Error => i2::log::Level::Error,
        };
        let fields = fields
            .into_iter()
            .map(|p| i2::types::Pair {
                name: p.name,
                value: p.value,
            })
            .collect();
        i2::log::Host::log(self, level, message, fields).await;
    }
}

use v1::api;

/// A 0.1.0 manifest as the shared model (not yet checked). Capability and quota strings that
/// do not parse are reported as problems.
pub fn manifest_from_wit(m: api::PluginManifest) -> Result<model::Manifest, model::Problems> {
    let mut problems = Vec::new();
    let mut capabilities = Vec::new();
    for text in &m.capabilities {
        match model::Capability::parse(text) {
            Ok(c) => capabilities.push(c),
            Err(e) => problems.push(format!("capability `{text}`: {e}")),
        }
    }
    let mut routes = Vec::with_capacity(m.routes.len());
    for r in m.routes {
        let rate_limit = match r.rate_limit.as_deref().map(model::Quota::parse) {
            None => None,
            Some(Ok(q)) => Some(q),
            Some(Err(e)) => {
                problems.push(format!("route `{}`: rate limit {e}", r.operation_id));
                None
            }
        };
        routes.push(model::Route {
            method: method_from_wit(r.method),
            path: r.path,
            operation_id: r.operation_id,
            summary: r.summary,
            description: r.description,
            params: r.params.into_iter().map(param_from_wit).collect(),
            request_body: r.request_body,
            response: r.response,
            success_status: r.success_status,
            rate_limit,
            mutates: r.mutates,
            scope: r.scope.map(scope_from_wit),
            internal: r.internal,
            long_running: false,
            stream_body: false,
            errors: v0_1_errors(),
            event_stream: false,
            cacheable: false,
        });
    }
    let manifest = model::Manifest {
        name: m.name,
        version: m.version,
        description: m.description,
        mount: m.mount,
        routes,
        scripts: m
            .scripts
            .into_iter()
            .map(|s| model::Script {
                name: s.name,
                body: s.body,
                programs: s.programs,
            })
            .collect(),
        parsers: m.parsers,
        collectors: m
            .collectors
            .into_iter()
            .map(|c| model::PeriodicCollector {
                name: c.name,
                data_type: c.data_type,
                interval_secs: c.interval_secs,
                steps: c
                    .steps
                    .into_iter()
                    .map(|s| model::Step {
                        name: s.name,
                        command: match s.script {
                            Some(name) => model::Command::Script { name, args: s.argv },
                            None => model::Command::Argv(s.argv),
                        },
                        timeout_ms: s.timeout_ms,
                    })
                    .collect(),
                parser: c.parser,
            })
            .collect(),
        capabilities,
    };
    if problems.is_empty() {
        Ok(manifest)
    } else {
        Err(model::Problems(problems))
    }
}

export_conversions!();

/// A 0.1.0 streamed command: always an argv.
fn stream_command_from_wit(s: api::StreamCommand) -> crate::plugins::call::StreamCommand {
    crate::plugins::call::StreamCommand {
        target: s.target,
        command: model::Command::Argv(s.argv),
        sse: s.sse,
    }
}

/// The error statuses a plugin of API 0.1.0 may answer on any route: its manifest cannot say
/// which, so every status its `error` variant maps to (the host adds its own).
fn v0_1_errors() -> Vec<model::ErrorStatus> {
    [
        (
            400,
            "The request is wrong in a way parameter validation could not see",
        ),
        (404, "The device, resource or document does not exist"),
        (
            409,
            "The resource already exists or is in a conflicting state",
        ),
        (
            503,
            "The host, device or service cannot be reached or authenticated to",
        ),
        (504, "The operation did not finish in time"),
    ]
    .into_iter()
    .map(|(status, description)| model::ErrorStatus {
        status,
        description: description.to_owned(),
    })
    .collect()
}
