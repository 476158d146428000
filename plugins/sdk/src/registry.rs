//! The device registry (the `registry` import): reads need `registry-read`, changes need
//! `registry-write`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::Error;
use crate::host::registry as wit;

/// What the host last knew of a device's reachability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    /// Answered its last probe or command.
    Online,
    /// Failed several connection attempts in a row.
    Offline,
    /// Never probed.
    Unknown,
    /// Set by an operator: not polled, not marked offline.
    Maintenance,
}

impl DeviceStatus {
    /// Every status, in the order the API documents them.
    pub const ALL: [DeviceStatus; 4] = [
        DeviceStatus::Online,
        DeviceStatus::Offline,
        DeviceStatus::Unknown,
        DeviceStatus::Maintenance,
    ];

    /// The status's name (`online`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Online => "online",
            DeviceStatus::Offline => "offline",
            DeviceStatus::Unknown => "unknown",
            DeviceStatus::Maintenance => "maintenance",
        }
    }

    /// The status called `name`.
    pub fn from_name(name: &str) -> Option<DeviceStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for DeviceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<wit::DeviceStatus> for DeviceStatus {
    fn from(s: wit::DeviceStatus) -> Self {
        match s {
            wit::DeviceStatus::Online => Self::Online,
            wit::DeviceStatus::Offline => Self::Offline,
            wit::DeviceStatus::Unknown => Self::Unknown,
            wit::DeviceStatus::Maintenance => Self::Maintenance,
        }
    }
}

impl From<DeviceStatus> for wit::DeviceStatus {
    fn from(s: DeviceStatus) -> Self {
        match s {
            DeviceStatus::Online => Self::Online,
            DeviceStatus::Offline => Self::Offline,
            DeviceStatus::Unknown => Self::Unknown,
            DeviceStatus::Maintenance => Self::Maintenance,
        }
    }
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
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
    /// Kind of device (`server`, `nas`…).
    pub device_type: String,
    /// Free text.
    pub description: Option<String>,
    /// Free text.
    pub location: Option<String>,
    /// A JSON object of tags.
    pub tags: Value,
    /// Whether periodic collectors run for it.
    pub monitoring_enabled: bool,
    /// Reachability as the host last knew it.
    pub status: DeviceStatus,
    /// RFC 3339 time it was last reached.
    pub last_seen: Option<String>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
    /// Plugin-specific extra fields (a JSON object).
    pub extra: Value,
}

/// Deserialises a present field (even `null`) as `Some(…)`, so `{"x": null}` means "clear x"
/// while an absent field (via `#[serde(default)]`) means "leave x as it is".
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Fields of a device to create or change: `None` leaves a field as it is on update, and
/// `Some(None)` clears an optional field. Deserialising JSON follows the same rule (absent
/// field → `None`, `null` → `Some(None)`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceFields {
    /// New hostname (required on create).
    pub hostname: Option<String>,
    /// Address.
    #[serde(deserialize_with = "present")]
    pub ip_address: Option<Option<String>>,
    /// SSH port.
    #[serde(deserialize_with = "present")]
    pub ssh_port: Option<Option<u16>>,
    /// SSH user.
    #[serde(deserialize_with = "present")]
    pub ssh_username: Option<Option<String>>,
    /// SSH identity file.
    #[serde(deserialize_with = "present")]
    pub ssh_identity_file: Option<Option<String>>,
    /// Kind of device.
    pub device_type: Option<String>,
    /// Free text.
    #[serde(deserialize_with = "present")]
    pub description: Option<Option<String>>,
    /// Free text.
    #[serde(deserialize_with = "present")]
    pub location: Option<Option<String>>,
    /// A JSON object of tags.
    pub tags: Option<Value>,
    /// Whether periodic collectors run for it.
    pub monitoring_enabled: Option<bool>,
    /// Reachability.
    pub status: Option<DeviceStatus>,
    /// RFC 3339 time it was last reached.
    #[serde(deserialize_with = "present")]
    pub last_seen: Option<Option<String>>,
    /// Plugin-specific extra fields (a JSON object).
    pub extra: Option<Value>,
}

/// Filters for [`list`]; all optional and combined with AND.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceFilter {
    /// Exact device type.
    pub device_type: Option<String>,
    /// Exact status.
    pub status: Option<DeviceStatus>,
    /// Monitoring flag.
    pub monitoring_enabled: Option<bool>,
    /// Case-insensitive substring of location.
    pub location: Option<String>,
    /// Case-insensitive substring of hostname or description.
    pub search: Option<String>,
    /// Page size (default 100).
    pub limit: u32,
    /// Page offset.
    pub offset: u32,
}

impl Default for DeviceFilter {
    fn default() -> Self {
        Self {
            device_type: None,
            status: None,
            monitoring_enabled: None,
            location: None,
            search: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// A page of devices ordered by hostname, and the total matching the filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevicePage {
    /// The devices of this page.
    pub items: Vec<Device>,
    /// How many devices match the filter in all.
    pub total: u64,
}

fn json_field(what: &str, hostname: &str, raw: &str) -> Result<Value, Error> {
    if raw.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_str(raw)
        .map_err(|e| Error::internal(format!("device `{hostname}` has invalid {what} JSON: {e}")))
}

fn device(d: wit::Device) -> Result<Device, Error> {
    Ok(Device {
        tags: json_field("tags", &d.hostname, &d.tags)?,
        extra: json_field("extra", &d.hostname, &d.extra)?,
        id: d.id,
        hostname: d.hostname,
        ip_address: d.ip_address,
        ssh_port: d.ssh_port,
        ssh_username: d.ssh_username,
        ssh_identity_file: d.ssh_identity_file,
        device_type: d.device_type,
        description: d.description,
        location: d.location,
        monitoring_enabled: d.monitoring_enabled,
        status: d.status.into(),
        last_seen: d.last_seen,
        created_at: d.created_at,
        updated_at: d.updated_at,
    })
}

impl From<&DeviceFields> for wit::DeviceFields {
    fn from(f: &DeviceFields) -> Self {
        Self {
            hostname: f.hostname.clone(),
            ip_address: f.ip_address.clone(),
            ssh_port: f.ssh_port,
            ssh_username: f.ssh_username.clone(),
            ssh_identity_file: f.ssh_identity_file.clone(),
            device_type: f.device_type.clone(),
            description: f.description.clone(),
            location: f.location.clone(),
            tags: f.tags.as_ref().map(Value::to_string),
            monitoring_enabled: f.monitoring_enabled,
            status: f.status.map(Into::into),
            last_seen: f.last_seen.clone(),
            extra: f.extra.as_ref().map(Value::to_string),
        }
    }
}

impl From<&DeviceFilter> for wit::DeviceFilter {
    fn from(f: &DeviceFilter) -> Self {
        Self {
            device_type: f.device_type.clone(),
            status: f.status.map(Into::into),
            monitoring_enabled: f.monitoring_enabled,
            location: f.location.clone(),
            search: f.search.clone(),
            limit: f.limit,
            offset: f.offset,
        }
    }
}

/// A device by hostname; `None` when not registered.
pub fn get(hostname: &str) -> Result<Option<Device>, Error> {
    wit::get(hostname)?.map(device).transpose()
}

/// Devices matching a filter.
pub fn list(filter: &DeviceFilter) -> Result<DevicePage, Error> {
    let page = wit::list(&filter.into())?;
    Ok(DevicePage {
        items: page
            .items
            .into_iter()
            .map(device)
            .collect::<Result<_, _>>()?,
        total: page.total,
    })
}

/// Registers a device (needs `registry-write`); conflict when the hostname exists.
pub fn create(fields: &DeviceFields) -> Result<Device, Error> {
    device(wit::create(&fields.into())?)
}

/// Changes the fields that are `Some` (needs `registry-write`); not_found, or conflict on a
/// rename onto an existing hostname.
pub fn update(hostname: &str, fields: &DeviceFields) -> Result<Device, Error> {
    device(wit::update(hostname, &fields.into())?)
}

/// Deletes a device and its history (needs `registry-write`); `false` when absent.
pub fn delete(hostname: &str) -> Result<bool, Error> {
    Ok(wit::delete(hostname)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_distinguish_absent_from_null() {
        let f: DeviceFields = serde_json::from_value(
            json!({"description": null, "location": "rack 2", "tags": {"a": 1}}),
        )
        .expect("fields");
        assert_eq!(f.description, Some(None));
        assert_eq!(f.location, Some(Some("rack 2".into())));
        assert_eq!(f.ip_address, None);
        let w = wit::DeviceFields::from(&f);
        assert_eq!(w.tags.as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(w.description, Some(None));
    }

    #[test]
    fn devices_parse_json_fields() {
        let raw = wit::Device {
            id: "1".into(),
            hostname: "web1".into(),
            ip_address: None,
            ssh_port: Some(22),
            ssh_username: None,
            ssh_identity_file: None,
            device_type: "server".into(),
            description: None,
            location: None,
            tags: r#"{"env":"prod"}"#.into(),
            monitoring_enabled: true,
            status: wit::DeviceStatus::Online,
            last_seen: None,
            created_at: "t".into(),
            updated_at: "t".into(),
            extra: String::new(),
        };
        let d = device(raw.clone()).expect("valid");
        assert_eq!(d.tags, json!({"env": "prod"}));
        assert_eq!(d.extra, json!({}));
        let broken = wit::Device {
            tags: "{".into(),
            ..raw
        };
        assert_eq!(device(broken).expect_err("bad").kind(), "internal");
        assert_eq!(DeviceFilter::default().limit, 100);
    }
}
