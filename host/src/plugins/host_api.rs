//! Host implementations of the plugin imports, each checking the plugin's grants first.
//!
//! Time spent awaiting an import is added to `host_time`, so waiting on SSH or the database
//! never counts against a plugin's CPU deadline.

use std::future::Future;
use std::time::Instant;

use infrastructor_ssh::RemoteCommand;
use infrastructor_store::{StoreError, devices, documents, snapshots};

use crate::remote::ssh_error;

use super::bindings::WitError;
use super::bindings::api;
use super::bindings::infrastructor::plugin::{
    collector, config, jobs, log, registry, ssh, storage, types,
};
use super::capability::Capability;
use super::instance::InstanceState;

/// Converts a store error into the plugin API's error, without leaking internals.
pub fn store_error(e: StoreError) -> WitError {
    match e {
        StoreError::NotFound(m) => WitError::NotFound(m),
        StoreError::Conflict(m) => WitError::Conflict(m),
        StoreError::Invalid(m) => WitError::BadRequest(m),
        other => {
            tracing::error!(error = %other, "database error in a plugin import");
            WitError::Internal("database error".into())
        }
    }
}

impl InstanceState {
    /// Runs `fut`, adding its duration to the time spent in host imports.
    async fn timed<T>(&mut self, fut: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let out = fut.await;
        self.host_time += started.elapsed();
        out
    }

    fn require(&self, cap: Capability) -> Result<(), WitError> {
        if self.plugin.grants.has(&cap) {
            Ok(())
        } else {
            Err(self.denied(&cap.to_string()))
        }
    }

    fn plugin_name(&self) -> String {
        self.plugin.name.clone()
    }
}

impl types::Host for InstanceState {}

fn to_wit_output(out: infrastructor_ssh::ExecOutput) -> ssh::ExecOutput {
    ssh::ExecOutput {
        exit_code: out.exit_code,
        stdout: out.stdout,
        stderr: out.stderr,
        duration_ms: out.duration.as_millis() as u64,
    }
}

impl InstanceState {
    async fn run_remote(
        &mut self,
        target: String,
        command: RemoteCommand,
        stdin: Option<Vec<u8>>,
        timeout_ms: u32,
    ) -> Result<ssh::ExecOutput, WitError> {
        let services = self.services.clone();
        self.timed(async move {
            let remote = &services.remote;
            let target = remote.resolve(&target).await?;
            remote
                .pool
                .exec(
                    &target,
                    &command,
                    stdin.as_deref(),
                    remote.timeout(timeout_ms),
                )
                .await
                .map(to_wit_output)
                .map_err(ssh_error)
        })
        .await
    }
}

impl ssh::Host for InstanceState {
    async fn exec(
        &mut self,
        target: String,
        argv: Vec<String>,
        stdin: Option<Vec<u8>>,
        timeout_ms: u32,
    ) -> Result<ssh::ExecOutput, WitError> {
        if argv.is_empty() {
            return Err(WitError::BadRequest("empty argv".into()));
        }
        if !self.plugin.grants.allows_exec(&argv) {
            return Err(self.denied(&format!("exec:{}", argv.join(" "))));
        }
        self.run_remote(target, RemoteCommand::Argv(argv), stdin, timeout_ms)
            .await
    }

    async fn run_script(
        &mut self,
        target: String,
        script: String,
        args: Vec<String>,
        stdin: Option<Vec<u8>>,
        timeout_ms: u32,
    ) -> Result<ssh::ExecOutput, WitError> {
        let Some(spec) = self
            .plugin
            .manifest
            .as_ref()
            .and_then(|m| m.script(&script))
        else {
            return Err(WitError::BadRequest(format!("no script named `{script}`")));
        };
        if let Some(program) = spec
            .programs
            .iter()
            .find(|p| !self.plugin.grants.allows_program(p))
        {
            return Err(self.denied(&format!("exec:{program}")));
        }
        let command = RemoteCommand::Script {
            body: spec.body.clone(),
            args,
        };
        self.run_remote(target, command, stdin, timeout_ms).await
    }
}

impl collector::Host for InstanceState {
    async fn collect(
        &mut self,
        request: collector::CollectRequest,
    ) -> Result<collector::Collected, WitError> {
        self.require(Capability::Collector)?;
        if let Err(what) = crate::collector::check_steps(
            &self.plugin.grants,
            self.plugin.manifest.as_ref(),
            &request.steps,
        ) {
            return Err(self.denied(&what));
        }
        let Some(loaded) = self.loaded.clone() else {
            return Err(WitError::Unavailable(
                "the collector is not available while a plugin loads".into(),
            ));
        };
        let parsers = &loaded.manifest.parsers;
        if !parsers.contains(&request.parser) {
            return Err(WitError::BadRequest(format!(
                "parser `{}` is not declared in the manifest",
                request.parser
            )));
        }
        let services = self.services.clone();
        let call = self.call.clone();
        let req = crate::collector::Request {
            data_type: request.data_type,
            target: request.target,
            params: request
                .params
                .into_iter()
                .map(|p| (p.name, p.value))
                .collect(),
            steps: request.steps,
            parser: request.parser,
            parser_args: request.parser_args,
            max_age: std::time::Duration::from_secs(u64::from(request.max_age_secs)),
            force_refresh: request.force_refresh,
        };
        let outcome = self
            .timed(async move {
                services
                    .collector
                    .collect(&services, &loaded, req, &call)
                    .await
            })
            .await?;
        Ok(collector::Collected {
            data: outcome.data.to_string(),
            cache_key: outcome.cache_key,
            collected_at: outcome.collected_at,
            duration_ms: outcome.duration_ms,
            cache_hit: outcome.cache_hit,
        })
    }
}

fn to_wit_document(d: documents::Document) -> storage::Document {
    storage::Document {
        collection: d.collection,
        id: d.id,
        body: d.body.to_string(),
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

fn to_wit_snapshot(s: snapshots::Snapshot) -> storage::Snapshot {
    storage::Snapshot {
        data_type: s.data_type,
        target: s.target,
        cache_key: s.cache_key,
        collected_at: s.collected_at,
        data: s.data.to_string(),
    }
}

impl storage::Host for InstanceState {
    async fn put(
        &mut self,
        collection: String,
        id: String,
        body: String,
    ) -> Result<storage::Document, WitError> {
        self.require(Capability::Storage)?;
        let value: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| WitError::BadRequest(format!("document body is not JSON: {e}")))?;
        let plugin = self.plugin_name();
        let store = self.services.store.clone();
        self.timed(store.call(move |c| documents::put(c, &plugin, &collection, &id, &value)))
            .await
            .map(to_wit_document)
            .map_err(store_error)
    }

    async fn get(
        &mut self,
        collection: String,
        id: String,
    ) -> Result<Option<storage::Document>, WitError> {
        self.require(Capability::Storage)?;
        let plugin = self.plugin_name();
        let store = self.services.store.clone();
        self.timed(store.call(move |c| documents::get(c, &plugin, &collection, &id)))
            .await
            .map(|d| d.map(to_wit_document))
            .map_err(store_error)
    }

    async fn delete(&mut self, collection: String, id: String) -> Result<bool, WitError> {
        self.require(Capability::Storage)?;
        let plugin = self.plugin_name();
        let store = self.services.store.clone();
        self.timed(store.call(move |c| documents::delete(c, &plugin, &collection, &id)))
            .await
            .map_err(store_error)
    }

    async fn list(
        &mut self,
        collection: String,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<storage::Document>, WitError> {
        self.require(Capability::Storage)?;
        let plugin = self.plugin_name();
        let store = self.services.store.clone();
        let limit = limit.min(1000);
        self.timed(
            store.call(move |c| documents::list(c, &plugin, &collection, Some(limit), offset)),
        )
        .await
        .map(|v| v.into_iter().map(to_wit_document).collect())
        .map_err(store_error)
    }

    async fn snapshots(
        &mut self,
        data_type: String,
        target: Option<String>,
        limit: u32,
    ) -> Result<Vec<storage::Snapshot>, WitError> {
        self.require(Capability::Storage)?;
        let plugin = self.plugin_name();
        let store = self.services.store.clone();
        let limit = limit.min(1000);
        self.timed(
            store.call(move |c| snapshots::list(c, &plugin, &data_type, target.as_deref(), limit)),
        )
        .await
        .map(|v| v.into_iter().map(to_wit_snapshot).collect())
        .map_err(store_error)
    }

    async fn latest_snapshots(
        &mut self,
        data_type: String,
    ) -> Result<Vec<storage::Snapshot>, WitError> {
        self.require(Capability::Storage)?;
        let plugin = self.plugin_name();
        let store = self.services.store.clone();
        self.timed(store.call(move |c| snapshots::latest_per_target(c, &plugin, &data_type)))
            .await
            .map(|v| v.into_iter().map(to_wit_snapshot).collect())
            .map_err(store_error)
    }
}

fn to_wit_device(d: devices::Device) -> registry::Device {
    registry::Device {
        id: d.id,
        hostname: d.hostname,
        ip_address: d.ip_address,
        ssh_port: d.ssh_port,
        ssh_username: d.ssh_username,
        ssh_identity_file: d.ssh_identity_file,
        device_type: d.device_type,
        description: d.description,
        location: d.location,
        tags: d.tags.to_string(),
        monitoring_enabled: d.monitoring_enabled,
        status: d.status.as_str().to_string(),
        last_seen: d.last_seen,
        created_at: d.created_at,
        updated_at: d.updated_at,
        extra: d.extra.to_string(),
    }
}

fn parse_json_object(text: &str, what: &str) -> Result<serde_json::Value, WitError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| WitError::BadRequest(format!("{what} is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(WitError::BadRequest(format!(
            "{what} must be a JSON object"
        )));
    }
    Ok(value)
}

/// Store fields plus the `last-seen` change (written with the status, not as a field).
struct FieldsChange {
    fields: devices::DeviceFields,
    last_seen: Option<Option<String>>,
}

fn from_wit_fields(f: registry::DeviceFields) -> Result<FieldsChange, WitError> {
    let last_seen = f.last_seen.clone();
    let fields = devices::DeviceFields {
        hostname: f.hostname,
        ip_address: f.ip_address,
        ssh_port: f.ssh_port,
        ssh_username: f.ssh_username,
        ssh_identity_file: f.ssh_identity_file,
        device_type: f.device_type,
        description: f.description,
        location: f.location,
        tags: f.tags.map(|t| parse_json_object(&t, "tags")).transpose()?,
        monitoring_enabled: f.monitoring_enabled,
        status: f
            .status
            .map(|s| s.parse::<devices::DeviceStatus>())
            .transpose()
            .map_err(|_| WitError::BadRequest("unknown device status".into()))?,
        extra: f
            .extra
            .map(|t| parse_json_object(&t, "extra"))
            .transpose()?,
    };
    Ok(FieldsChange { fields, last_seen })
}

/// Applies a `last-seen` change after a create or update.
fn apply_last_seen(
    c: &infrastructor_store::rusqlite::Connection,
    device: devices::Device,
    last_seen: Option<Option<String>>,
) -> Result<devices::Device, StoreError> {
    match last_seen {
        Some(Some(ts)) => {
            devices::set_status(c, &device.hostname, device.status, Some(&ts))?;
            Ok(devices::get(c, &device.hostname)?.unwrap_or(device))
        }
        _ => Ok(device),
    }
}

impl registry::Host for InstanceState {
    async fn get(&mut self, hostname: String) -> Result<Option<registry::Device>, WitError> {
        self.require(Capability::RegistryRead)?;
        let store = self.services.store.clone();
        self.timed(store.call(move |c| devices::get(c, &hostname)))
            .await
            .map(|d| d.map(to_wit_device))
            .map_err(store_error)
    }

    async fn list(
        &mut self,
        filter: registry::DeviceFilter,
    ) -> Result<registry::DevicePage, WitError> {
        self.require(Capability::RegistryRead)?;
        let store = self.services.store.clone();
        let filter = devices::DeviceFilter {
            device_type: filter.device_type,
            status: filter
                .status
                .map(|s| s.parse::<devices::DeviceStatus>())
                .transpose()
                .map_err(|_| WitError::BadRequest("unknown device status".into()))?,
            monitoring_enabled: filter.monitoring_enabled,
            location: filter.location,
            search: filter.search,
            limit: Some(filter.limit.min(1000)),
            offset: filter.offset,
        };
        self.timed(store.call(move |c| devices::list(c, &filter)))
            .await
            .map(|(items, total)| registry::DevicePage {
                items: items.into_iter().map(to_wit_device).collect(),
                total,
            })
            .map_err(store_error)
    }

    async fn create(
        &mut self,
        fields: registry::DeviceFields,
    ) -> Result<registry::Device, WitError> {
        self.require(Capability::RegistryWrite)?;
        let change = from_wit_fields(fields)?;
        let store = self.services.store.clone();
        self.timed(store.call(move |c| {
            let device = devices::create(c, change.fields)?;
            apply_last_seen(c, device, change.last_seen)
        }))
        .await
        .map(to_wit_device)
        .map_err(store_error)
    }

    async fn update(
        &mut self,
        hostname: String,
        fields: registry::DeviceFields,
    ) -> Result<registry::Device, WitError> {
        self.require(Capability::RegistryWrite)?;
        let change = from_wit_fields(fields)?;
        let store = self.services.store.clone();
        self.timed(store.call(move |c| {
            let device = devices::update(c, &hostname, change.fields)?;
            apply_last_seen(c, device, change.last_seen)
        }))
        .await
        .map(to_wit_device)
        .map_err(store_error)
    }

    async fn delete(&mut self, hostname: String) -> Result<bool, WitError> {
        self.require(Capability::RegistryWrite)?;
        let store = self.services.store.clone();
        self.timed(store.call(move |c| devices::delete(c, &hostname)))
            .await
            .map_err(store_error)
    }
}

impl jobs::Host for InstanceState {
    async fn enqueue(&mut self, operation_id: String, body: String) -> Result<(), WitError> {
        let Some(loaded) = self.loaded.clone() else {
            return Err(WitError::Unavailable(
                "jobs are not available while a plugin loads".into(),
            ));
        };
        let Some(route) = loaded
            .manifest
            .routes
            .iter()
            .find(|r| r.operation_id == operation_id && r.internal)
        else {
            return Err(WitError::BadRequest(format!(
                "no internal route `{operation_id}` to run as a job"
            )));
        };
        let value: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| WitError::BadRequest(format!("job body is not JSON: {e}")))?;
        if let Some(schema) = &route.request_body {
            let validator = jsonschema::validator_for(schema)
                .map_err(|e| WitError::Internal(format!("job schema: {e}")))?;
            if let Some(error) = validator.iter_errors(&value).next() {
                return Err(WitError::BadRequest(format!("job body: {error}")));
            }
        }
        let request_id = format!("job:{}", uuid::Uuid::new_v4());
        let request = api::Request {
            operation_id: operation_id.clone(),
            method: route.method.to_wit(),
            path: String::new(),
            path_params: Vec::new(),
            query: Vec::new(),
            body: Some(body),
            request_id: request_id.clone(),
            principal: self.call.principal.clone(),
        };
        let call = super::CallContext {
            request_id: request_id.clone(),
            principal: self.call.principal.clone(),
        };
        let slots = self.services.jobs.clone();
        tracing::info!(plugin = %loaded.manifest.name, job = %operation_id, %request_id, "job queued");
        tokio::spawn(async move {
            let Ok(_permit) = slots.acquire().await else {
                return;
            };
            let plugin = loaded.manifest.name.clone();
            match loaded.handle(request, call).await {
                Ok(r) if r.status < 400 => {
                    tracing::info!(%plugin, job = %operation_id, %request_id, status = r.status, "job done")
                }
                Ok(r) => {
                    tracing::warn!(%plugin, job = %operation_id, %request_id, status = r.status, "job answered an error")
                }
                Err(e) => {
                    tracing::warn!(%plugin, job = %operation_id, %request_id, error = %e, "job failed")
                }
            }
        });
        Ok(())
    }
}

impl config::Host for InstanceState {
    async fn get(&mut self) -> String {
        self.plugin.config_json.clone()
    }
}

impl log::Host for InstanceState {
    async fn log(&mut self, level: log::Level, message: String, fields: Vec<types::Pair>) {
        let plugin = self.plugin.name.as_str();
        let request_id = self.call.request_id.as_str();
        let fields: String = fields
            .iter()
            .map(|p| format!("{}={:?}", p.name, p.value))
            .collect::<Vec<_>>()
            .join(" ");
        macro_rules! emit {
            ($lvl:ident) => {
                tracing::$lvl!(target: "plugin", plugin, request_id, fields = %fields, "{message}")
            };
        }
        match level {
            log::Level::Trace => emit!(trace),
            log::Level::Debug => emit!(debug),
            log::Level::Info => emit!(info),
            log::Level::Warn => emit!(warn),
            log::Level::Error => emit!(error),
        }
    }
}
