//! The device a compose request is about: it must be registered (404 otherwise); its
//! address is the SWAG upstream and its analysis tags give the appdata path.

use infrastructor_sdk::prelude::*;
use infrastructor_sdk::registry::Device;

/// Where appdata lives when neither the request nor the device's analysis says.
pub const DEFAULT_APPDATA: &str = "/mnt/appdata";

/// The registered device `hostname`, or not-found.
pub fn require(hostname: &str) -> Result<Device, Error> {
    registry::get(hostname)?
        .ok_or_else(|| Error::not_found(format!("device `{hostname}` is not registered")))
}

/// The address SWAG should proxy to: the device's IP address, else its hostname.
pub fn upstream_app(device: &Device) -> String {
    device
        .ip_address
        .clone()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| device.hostname.clone())
}

/// The appdata base: the request's, else the device's analysed `docker_appdata_path`, else
/// [`DEFAULT_APPDATA`].
pub fn appdata_base(device: &Device, requested: Option<&str>) -> String {
    requested
        .map(str::to_owned)
        .or_else(|| {
            device.tags["docker_appdata_path"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| DEFAULT_APPDATA.to_owned())
}
