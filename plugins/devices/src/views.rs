//! The registry routes' answers as types: the handlers serialise them and the manifest
//! derives their response schemas from them ([`Route::returns`]).

use infrastructor_sdk::prelude::*;
use infrastructor_sdk::registry::{Device, DeviceStatus};
use serde::Serialize;

use crate::device::GLANCES_PORT;

/// A device as the API answers it (the Python original's `DeviceResponse` shape).
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeviceView {
    /// Stable id.
    pub id: String,
    /// Unique hostname; also the SSH target name.
    pub hostname: String,
    /// Address to connect to, when not the hostname.
    pub ip_address: Option<String>,
    /// SSH port, when not the default.
    pub ssh_port: Option<u16>,
    /// SSH user, when not the default.
    pub ssh_username: Option<String>,
    /// SSH identity file, when not the default.
    pub ssh_identity_file: Option<String>,
    /// Kind of device.
    pub device_type: String,
    /// Free text.
    pub description: Option<String>,
    /// Free text.
    pub location: Option<String>,
    /// Tags: capability tags of the analysis and the operator's own.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub tags: Value,
    /// Whether periodic collectors run for it.
    pub monitoring_enabled: bool,
    /// Whether Glances is used for it.
    pub glances_enabled: bool,
    /// Glances' port.
    pub glances_port: u64,
    /// Glances' URL, when set.
    #[schemars(with = "Option<String>")]
    pub glances_url: Value,
    /// Reachability as last known.
    pub status: DeviceStatus,
    /// RFC 3339 time it was last reached.
    pub last_seen: Option<String>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

impl DeviceView {
    /// The view of `d`, Glances settings from its extra fields.
    pub fn of(d: &Device) -> DeviceView {
        let extra = &d.extra;
        DeviceView {
            id: d.id.clone(),
            hostname: d.hostname.clone(),
            ip_address: d.ip_address.clone(),
            ssh_port: d.ssh_port,
            ssh_username: d.ssh_username.clone(),
            ssh_identity_file: d.ssh_identity_file.clone(),
            device_type: d.device_type.clone(),
            description: d.description.clone(),
            location: d.location.clone(),
            tags: d.tags.clone(),
            monitoring_enabled: d.monitoring_enabled,
            glances_enabled: extra
                .get("glances_enabled")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            glances_port: extra
                .get("glances_port")
                .and_then(Value::as_u64)
                .unwrap_or(u64::from(GLANCES_PORT)),
            glances_url: extra
                .get("glances_url")
                .filter(|v| v.is_string())
                .cloned()
                .unwrap_or(Value::Null),
            status: d.status,
            last_seen: d.last_seen.clone(),
            created_at: d.created_at.clone(),
            updated_at: d.updated_at.clone(),
        }
    }
}

/// One page of devices.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeviceList {
    /// The page's devices, ordered by hostname.
    pub items: Vec<DeviceView>,
    /// Devices matching the filters.
    pub total_count: u64,
    /// This page, from 1.
    pub page: u32,
    /// Devices per page.
    pub page_size: u32,
    /// Pages in all.
    pub total_pages: u64,
    /// A later page exists.
    pub has_next: bool,
    /// An earlier page exists.
    pub has_previous: bool,
}

/// What a deletion removed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeletedDevice {
    /// The deleted device's id.
    pub device_id: String,
    /// Its hostname.
    pub hostname: String,
}

/// The answer of a deletion.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeleteResult {
    /// Always true (failures are errors).
    pub success: bool,
    /// `delete_device:ID`.
    pub operation_id: String,
    /// `delete_device`.
    pub operation_type: String,
    /// What was deleted.
    pub result: DeletedDevice,
    /// Always null.
    pub error_message: Option<String>,
    /// Always empty.
    pub warnings: Vec<String>,
}

/// A device's summary from the database.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeviceSummary {
    /// Stable id.
    pub id: String,
    /// Hostname.
    pub hostname: String,
    /// Address.
    pub ip_address: Option<String>,
    /// Kind of device.
    pub device_type: String,
    /// Reachability as last known.
    pub status: DeviceStatus,
    /// Whether periodic collectors run for it.
    pub monitoring_enabled: bool,
    /// RFC 3339 time it was last reached.
    pub last_seen: Option<String>,
}

/// A device's connectivity: probed now, or as stored.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Connectivity {
    /// Stable id.
    pub device_id: String,
    /// Hostname.
    pub hostname: String,
    /// Address.
    pub ip_address: Option<String>,
    /// SSH port.
    pub ssh_port: Option<u16>,
    /// The probe's result, or the stored status.
    pub connection_status: DeviceStatus,
    /// How long the probe took (ms); null without a probe or when it failed.
    pub response_time_ms: Option<f64>,
    /// Why the probe failed.
    pub error_message: Option<String>,
    /// When the probe ran (RFC 3339); null without a probe.
    pub test_timestamp: Option<String>,
}
