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
    json!(crate::views::DeviceView::of(d))
}

/// Checks an address: an IPv4/IPv6 literal or a host name of at most 253 characters in
/// dot-separated labels of 1 to 63 letters, digits, `-` and `_`, neither starting nor
/// ending with `-` (what a SWAG upstream and an SSH target both take).
pub fn valid_address(a: &str) -> bool {
    a.parse::<std::net::IpAddr>().is_ok()
        || (!a.is_empty()
            && a.len() <= 253
            && a.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            }))
}

/// The registered device `hostname`, or 404.
pub fn require_device(hostname: &str) -> Result<Device, Error> {
    registry::get(&hostname.to_ascii_lowercase())?
        .ok_or_else(|| Error::not_found(format!("device not found: {hostname}")))
}
