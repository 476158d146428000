//! `POST /scan`: reconcile a device's confs directory into the records.

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::{detect, names, remote, sync};

/// What to scan.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanQuery {
    /// The device; absent = the detected SWAG device.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub device: Option<String>,
    /// The confs directory; absent = the detected `<config>/nginx/proxy-confs`.
    #[schemars(
        regex(
            pattern = r"^(/([A-Za-z0-9_-][A-Za-z0-9._-]*|\.[A-Za-z0-9_-][A-Za-z0-9._-]*|\.\.[A-Za-z0-9._-]+))+/?$"
        ),
        length(max = 255)
    )]
    pub config_directory: Option<String>,
    /// Write the records (false = only report what would change).
    #[serde(default = "yes")]
    pub sync_to_database: bool,
}

fn yes() -> bool {
    true
}

/// `POST /scan`.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let q: ScanQuery = req.query()?;
    let detection = match (&q.device, &q.config_directory) {
        // A named directory on a named device needs no detection for reading.
        (Some(device), Some(_)) => detect::detect_all(std::slice::from_ref(device), false)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("detection returned nothing"))?,
        _ => detect::locate(q.device.as_deref())?,
    };
    let dir = match &q.config_directory {
        Some(d) => names::config_dir(d)?,
        None => remote::confs_dir(&detection)?,
    };
    let (report, _) = sync::sync(&detection, &dir, &[], !q.sync_to_database)?;
    Ok(Json(report).into())
}
