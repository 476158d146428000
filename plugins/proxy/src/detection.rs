//! `GET /detection`: what SWAG detection found on each monitored device (or one).

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::detect;

/// Which devices, and whether to probe again.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectionQuery {
    /// Only this device (registered or not); absent = every monitored device.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub device: Option<String>,
    /// Probe again instead of answering remembered results.
    #[serde(default)]
    pub refresh: bool,
}

/// The answer of `GET /detection`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DetectionReport {
    /// What was found on each device.
    pub devices: Vec<detect::Detection>,
    /// Devices with SWAG.
    pub found: usize,
    /// Devices probed (or answered from memory).
    pub probed: usize,
}

/// `GET /detection`.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let q: DetectionQuery = req.query()?;
    let devices = match &q.device {
        Some(d) => vec![d.clone()],
        None => detect::monitored_devices()?,
    };
    let results = detect::detect_all(&devices, q.refresh)?;
    Ok(Json(DetectionReport {
        found: results.iter().filter(|d| d.found).count(),
        probed: devices.len(),
        devices: results,
    })
    .into())
}
