//! `registry`: the device registry (reads need `registry-read`, changes `registry-write`).

use infrastructor_manifest::Capability;
use infrastructor_store::{StoreError, devices};

use crate::fault::Fault;
use crate::plugins::bindings::v0_2::WitError;
use crate::plugins::bindings::v0_2::infrastructor::plugin::registry;
use crate::plugins::instance::InstanceState;

use super::to_wit_error;

pub(super) fn to_wit_status(s: devices::DeviceStatus) -> registry::DeviceStatus {
    match s {
        devices::DeviceStatus::Online => registry::DeviceStatus::Online,
        devices::DeviceStatus::Offline => registry::DeviceStatus::Offline,
        devices::DeviceStatus::Unknown => registry::DeviceStatus::Unknown,
        devices::DeviceStatus::Maintenance => registry::DeviceStatus::Maintenance,
    }
}

pub(super) fn from_wit_status(s: registry::DeviceStatus) -> devices::DeviceStatus {
    match s {
        registry::DeviceStatus::Online => devices::DeviceStatus::Online,
        registry::DeviceStatus::Offline => devices::DeviceStatus::Offline,
        registry::DeviceStatus::Unknown => devices::DeviceStatus::Unknown,
        registry::DeviceStatus::Maintenance => devices::DeviceStatus::Maintenance,
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
        status: to_wit_status(d.status),
        last_seen: d.last_seen,
        created_at: d.created_at,
        updated_at: d.updated_at,
        extra: d.extra.to_string(),
    }
}

fn parse_json_object(text: &str, what: &str) -> Result<serde_json::Value, Fault> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Fault::bad_request(format!("{what} is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(Fault::bad_request(format!("{what} must be a JSON object")));
    }
    Ok(value)
}

/// Store fields plus the `last-seen` change (written with the status, not as a field).
struct FieldsChange {
    fields: devices::DeviceFields,
    last_seen: Option<Option<String>>,
}

fn from_wit_fields(f: registry::DeviceFields) -> Result<FieldsChange, Fault> {
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
        status: f.status.map(from_wit_status),
        extra: f
            .extra
            .map(|t| parse_json_object(&t, "extra"))
            .transpose()?,
    };
    Ok(FieldsChange { fields, last_seen })
}

/// Applies a `last-seen` change after a create or update.
fn apply_last_seen(
    c: &mut infrastructor_store::rusqlite::Connection,
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

impl InstanceState {
    /// Refuses (422 naming the field) an identity file that could never be used: outside the
    /// allowed key directories, not a regular file, larger than 64 KiB. Checked on a
    /// blocking thread, the file opened without blocking (a FIFO never stalls).
    fn check_identity_field(
        &self,
        change: &FieldsChange,
    ) -> impl Future<Output = Result<(), WitError>> + Send + 'static {
        let path = change.fields.ssh_identity_file.clone().flatten();
        let dirs = self.services.remote.pool.config().identity_dirs.clone();
        async move {
            let Some(path) = path else {
                return Ok(());
            };
            check_identity_file(path, dirs).await
        }
    }
}

/// See [`InstanceState::check_identity_field`].
async fn check_identity_file(path: String, dirs: Vec<std::path::PathBuf>) -> Result<(), WitError> {
    {
        let path = crate::remote::expand_home(std::path::Path::new(&path));
        let checked = tokio::task::spawn_blocking(move || {
            infrastructor_ssh::identity::check_identity(&path, &dirs)
        })
        .await
        .map_err(|e| to_wit_error(Fault::internal(e.to_string())))?;
        checked.map_err(|e| to_wit_error(Fault::invalid("ssh_identity_file", e)))
    }
}

impl InstanceState {
    /// Checks `capability`, then runs `f` on a database connection.
    async fn with_registry<T: Send + 'static>(
        &mut self,
        capability: Capability,
        f: impl FnOnce(&mut infrastructor_store::rusqlite::Connection) -> Result<T, StoreError>
        + Send
        + 'static,
    ) -> Result<T, WitError> {
        self.granter().require(&capability).map_err(to_wit_error)?;
        let store = self.services.store.clone();
        self.timed(store.call(f))
            .await
            .map_err(|e| to_wit_error(Fault::from(e)))
    }
}

impl registry::Host for InstanceState {
    async fn get(&mut self, hostname: String) -> Result<Option<registry::Device>, WitError> {
        self.with_registry(Capability::RegistryRead, move |c| {
            devices::get(c, &hostname)
        })
        .await
        .map(|d| d.map(to_wit_device))
    }

    async fn list(
        &mut self,
        filter: registry::DeviceFilter,
    ) -> Result<registry::DevicePage, WitError> {
        let filter = devices::DeviceFilter {
            device_type: filter.device_type,
            status: filter.status.map(from_wit_status),
            monitoring_enabled: filter.monitoring_enabled,
            location: filter.location,
            search: filter.search,
            limit: Some(filter.limit.min(1000)),
            offset: filter.offset,
        };
        self.with_registry(Capability::RegistryRead, move |c| devices::list(c, &filter))
            .await
            .map(|(items, total)| registry::DevicePage {
                items: items.into_iter().map(to_wit_device).collect(),
                total,
            })
    }

    async fn create(
        &mut self,
        fields: registry::DeviceFields,
    ) -> Result<registry::Device, WitError> {
        let change = from_wit_fields(fields).map_err(to_wit_error)?;
        self.granter()
            .require(&Capability::RegistryWrite)
            .map_err(to_wit_error)?;
        self.check_identity_field(&change).await?;
        self.with_registry(Capability::RegistryWrite, move |c| {
            let device = devices::create(c, change.fields)?;
            apply_last_seen(c, device, change.last_seen)
        })
        .await
        .map(to_wit_device)
    }

    async fn update(
        &mut self,
        hostname: String,
        fields: registry::DeviceFields,
    ) -> Result<registry::Device, WitError> {
        let change = from_wit_fields(fields).map_err(to_wit_error)?;
        self.granter()
            .require(&Capability::RegistryWrite)
            .map_err(to_wit_error)?;
        self.check_identity_field(&change).await?;
        self.with_registry(Capability::RegistryWrite, move |c| {
            let device = devices::update(c, &hostname, change.fields)?;
            apply_last_seen(c, device, change.last_seen)
        })
        .await
        .map(to_wit_device)
    }

    async fn delete(&mut self, hostname: String) -> Result<bool, WitError> {
        self.with_registry(Capability::RegistryWrite, move |c| {
            devices::delete(c, &hostname)
        })
        .await
    }
}
