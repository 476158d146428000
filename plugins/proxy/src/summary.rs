//! `GET /summary`: counts over the records, computed by the database (grouped counts), and
//! each device's last sync.

use std::collections::BTreeMap;

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::records::{CONFIGS, SYNCS};
use crate::sync::LastSync;

/// Which records to count.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// Only this device's records; absent = every device.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub device: Option<String>,
}

fn grouped(device: Option<&str>, field: &str) -> Result<BTreeMap<String, u64>, Error> {
    let mut q = storage::Query::new(CONFIGS);
    if let Some(d) = device {
        q = q.eq("device", d);
    }
    Ok(q.count_by(field)?
        .into_iter()
        .map(|(v, n)| {
            let key = match v {
                Value::String(s) => s,
                Value::Null => "unknown".to_owned(),
                other => other.to_string(),
            };
            (key, n)
        })
        .collect())
}

/// The answer of `GET /summary`: counts of the synced conf records.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProxySummary {
    /// Records in all.
    pub total_configs: u64,
    /// Records of confs SWAG loads.
    pub active_configs: u64,
    /// Records of other `*.conf` files.
    pub inactive_configs: u64,
    /// Records of files in error.
    pub error_configs: u64,
    /// Confs with TLS on.
    pub ssl_enabled_count: u64,
    /// Confs older than their sample.
    pub outdated_count: u64,
    /// Records by device.
    pub by_device: BTreeMap<String, u64>,
    /// Records by conf type (`subdomain`, `subfolder`, `other`).
    pub by_service_type: BTreeMap<String, u64>,
    /// Records by authentication method.
    pub by_auth_method: BTreeMap<String, u64>,
    /// The newest sync time (RFC 3339); `null` before any.
    pub last_sync: Option<String>,
    /// Each device's last sync.
    pub syncs: Vec<LastSync>,
}

/// `GET /summary`.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let q: SummaryQuery = req.query()?;
    let device = q.device.as_deref();
    let by_status = grouped(device, "status")?;
    let by_type = grouped(device, "conf_type")?;
    let by_device = grouped(device, "device")?;
    let by_auth = grouped(device, "auth_method")?;
    let ssl = grouped(device, "ssl_enabled")?;
    let outdated = grouped(device, "outdated")?;
    let syncs: Vec<LastSync> = storage::list::<LastSync>(SYNCS, 1000, 0)?
        .into_iter()
        .map(|d| d.body)
        .filter(|s| device.is_none_or(|d| s.device.eq_ignore_ascii_case(d)))
        .collect();
    let count = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    Ok(Json(ProxySummary {
        total_configs: by_status.values().sum::<u64>(),
        active_configs: count(&by_status, "active"),
        inactive_configs: count(&by_status, "inactive"),
        error_configs: count(&by_status, "error"),
        ssl_enabled_count: count(&ssl, "true"),
        outdated_count: count(&outdated, "true"),
        by_device,
        by_service_type: by_type,
        by_auth_method: by_auth,
        last_sync: syncs.iter().map(|s| s.synced_at.clone()).max(),
        syncs,
    })
    .into())
}
