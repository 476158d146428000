//! A device as this plugin answers it, and the helpers every handler uses to find one.

use infrastructor_sdk::prelude::*;
use infrastructor_sdk::registry::{self, Device};

/// Device types the API accepts.
pub const DEVICE_TYPES: &[&str] = &[
    "server",
    "container_host",
    "storage",
    "network",
    "router",
    "switch",
    "firewall",
    "workstation",
    "development",
];

/// Device statuses.
pub const STATUSES: &[&str] = &["online", "offline", "unknown", "maintenance"];

/// The default Glances port (the Python original's default).
pub const GLANCES_PORT: u16 = 61208;

/// The JSON a device is answered as (the Python original's `DeviceResponse` shape).
pub fn device_json(d: &Device) -> Value {
    let extra = &d.extra;
    json!({
        "id": d.id,
        "hostname": d.hostname,
        "ip_address": d.ip_address,
        "ssh_port": d.ssh_port,
        "ssh_username": d.ssh_username,
        "ssh_identity_file": d.ssh_identity_file,
        "device_type": d.device_type,
        "description": d.description,
        "location": d.location,
        "tags": d.tags,
        "monitoring_enabled": d.monitoring_enabled,
        "glances_enabled": extra.get("glances_enabled").and_then(Value::as_bool).unwrap_or(true),
        "glances_port": extra.get("glances_port").and_then(Value::as_u64).unwrap_or(u64::from(GLANCES_PORT)),
        "glances_url": extra.get("glances_url").cloned().unwrap_or(Value::Null),
        "status": d.status,
        "last_seen": d.last_seen,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    })
}

/// Checks an address: an IPv4/IPv6 literal or a DNS name.
pub fn valid_address(a: &str) -> bool {
    a.parse::<std::net::IpAddr>().is_ok()
        || (!a.is_empty()
            && a.len() <= 253
            && !a.starts_with('-')
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
}

/// The registered device `hostname`, or 404.
pub fn require_device(hostname: &str) -> Result<Device, Error> {
    registry::get(&hostname.to_ascii_lowercase())?
        .ok_or_else(|| Error::not_found(format!("device not found: {hostname}")))
}
