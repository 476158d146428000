//! Registry handlers: create, list, get, update, delete, summary and the connectivity status.
//! They use the host's `registry` import only; no SSH runs on the create/update path (the
//! probe runs on `/status` and in the poller's periodic `probe` collector).

use infrastructor_sdk::prelude::*;
use infrastructor_sdk::registry::{Device, DeviceFields, DeviceFilter, DeviceStatus};
use serde::Deserialize;

use crate::device::{DEVICE_TYPES, STATUSES, device_json, require_device, valid_address};
use crate::views::{
    Connectivity, DeleteResult, DeletedDevice, DeviceList, DeviceSummary, DeviceView,
};

/// JSON Schema of a create body.
pub fn create_schema() -> Value {
    json!({
        "type": "object",
        "required": ["hostname"],
        "properties": device_properties(true),
    })
}

/// JSON Schema of an update body (every field optional).
pub fn update_schema() -> Value {
    json!({
        "type": "object",
        "properties": device_properties(false),
    })
}

/// A host name or IPv4 address as [`valid_address`] takes it: dot-separated labels of 1 to
/// 63 letters, digits, `-` and `_`, neither starting nor ending with `-` (with `maxLength`
/// 253; an IPv6 address is the schema's other choice, `format: ipv6`, whose characters the
/// host checks with a pattern as it does not check formats).
const ADDRESS_PATTERN: &str = r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$";
/// A login name: letters, digits, `.`, `_`, `-` (and a trailing `$` of machine accounts).
const USERNAME_PATTERN: &str = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,98}\$?$";
/// A file path: no control characters, no `;`.
const PATH_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f;]{1,1024}$";
/// One line of text: no control characters.
const LINE_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";
/// Free text: tabs and line breaks allowed, no other control characters.
const TEXT_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$";

fn device_properties(create: bool) -> Value {
    let nullable = |t: &str| json!([t, "null"]);
    let mut p = json!({
        "hostname": {"type": "string", "pattern": infrastructor_sdk::HOSTNAME_PATTERN, "maxLength": 253},
        "ip_address": {"anyOf": [
            {"type": "null"},
            {"type": "string", "maxLength": 253, "pattern": ADDRESS_PATTERN},
            {"type": "string", "format": "ipv6", "pattern": "^[0-9A-Fa-f:.]{2,45}$"},
        ]},
        "ssh_port": {"type": nullable("integer"), "minimum": 1, "maximum": 65535},
        "ssh_username": {"type": nullable("string"), "maxLength": 100, "pattern": USERNAME_PATTERN},
        "ssh_identity_file": {"type": nullable("string"), "maxLength": 1024, "pattern": PATH_PATTERN},
        "device_type": {"type": "string", "enum": DEVICE_TYPES},
        "description": {"type": nullable("string"), "maxLength": 10000, "pattern": TEXT_PATTERN},
        "location": {"type": nullable("string"), "maxLength": 255, "pattern": LINE_PATTERN},
        "tags": {"type": "object", "additionalProperties": true},
        "monitoring_enabled": {"type": "boolean"},
        "glances_enabled": {"type": "boolean"},
        "glances_port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "glances_url": {"type": nullable("string"), "maxLength": 512, "pattern": LINE_PATTERN},
    });
    if !create {
        p["status"] = json!({"type": "string", "enum": STATUSES});
    }
    p
}

/// A create or update body. `Option<Option<T>>`: absent = unchanged, `null` = cleared.
#[derive(Debug, Default, Deserialize)]
pub struct DeviceBody {
    hostname: Option<String>,
    #[serde(default, deserialize_with = "some")]
    ip_address: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    ssh_port: Option<Option<u16>>,
    #[serde(default, deserialize_with = "some")]
    ssh_username: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    ssh_identity_file: Option<Option<String>>,
    device_type: Option<String>,
    #[serde(default, deserialize_with = "some")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    location: Option<Option<String>>,
    tags: Option<Value>,
    monitoring_enabled: Option<bool>,
    glances_enabled: Option<bool>,
    glances_port: Option<u16>,
    #[serde(default, deserialize_with = "some")]
    glances_url: Option<Option<String>>,
    status: Option<DeviceStatus>,
}

fn some<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

impl DeviceBody {
    /// Converts to registry fields, merging glances settings into `extra`.
    fn into_fields(self, current_extra: Option<&Value>) -> Result<DeviceFields, Error> {
        if let Some(Some(ip)) = &self.ip_address
            && !valid_address(ip)
        {
            return Err(Error::bad_request(format!(
                "ip_address `{ip}` is not an IP address or host name"
            )));
        }
        let mut extra = current_extra.cloned().unwrap_or_else(|| json!({}));
        let mut extra_changed = current_extra.is_none();
        if let Some(v) = self.glances_enabled {
            extra["glances_enabled"] = json!(v);
            extra_changed = true;
        }
        if let Some(v) = self.glances_port {
            extra["glances_port"] = json!(v);
            extra_changed = true;
        }
        if let Some(v) = self.glances_url {
            extra["glances_url"] = json!(v);
            extra_changed = true;
        }
        Ok(DeviceFields {
            hostname: self.hostname.map(|h| h.to_ascii_lowercase()),
            ip_address: self.ip_address,
            ssh_port: self.ssh_port,
            ssh_username: self.ssh_username,
            ssh_identity_file: self.ssh_identity_file,
            device_type: self.device_type.map(|t| t.to_ascii_lowercase()),
            description: self.description,
            location: self.location,
            tags: self.tags,
            monitoring_enabled: self.monitoring_enabled,
            status: self.status,
            last_seen: None,
            extra: extra_changed.then_some(extra),
        })
    }
}

/// `POST /api/devices`: registers a device (201; 409 when the hostname exists).
pub fn create(req: &Request) -> Result<Response, Error> {
    let body: DeviceBody = req.body()?;
    let fields = body.into_fields(None)?;
    let device = registry::create(&fields)?;
    log::info("device registered", &[("hostname", &device.hostname)]);
    queue_probe(&device);
    Ok(Json(device_json(&device)).with_status(201))
}

/// `GET /api/devices`: filtered, paginated list ordered by hostname.
pub fn list(req: &Request) -> Result<Response, Error> {
    let page: u32 = req.query_as("page")?;
    let page_size: u32 = req.query_as("page_size")?;
    let filter = DeviceFilter {
        device_type: req.query_str("device_type").map(str::to_ascii_lowercase),
        status: req.query_str("status").and_then(DeviceStatus::from_name),
        monitoring_enabled: req.query_opt_as("monitoring_enabled")?,
        location: req.query_str("location").map(str::to_string),
        search: req.query_str("search").map(str::to_string),
        limit: page_size,
        offset: (page - 1).saturating_mul(page_size),
    };
    let result = registry::list(&filter)?;
    let total = result.total;
    let total_pages = total.div_ceil(u64::from(page_size));
    Ok(Json(json!(DeviceList {
        items: result.items.iter().map(DeviceView::of).collect(),
        total_count: total,
        page,
        page_size,
        total_pages,
        has_next: u64::from(page) < total_pages,
        has_previous: page > 1,
    }))
    .into())
}

/// `GET /api/devices/{hostname}`.
pub fn get(req: &Request) -> Result<Response, Error> {
    let device = require_device(req.path("hostname")?)?;
    Ok(Json(device_json(&device)).into())
}

/// `PUT /api/devices/{hostname}`: changes only the sent fields.
pub fn update(req: &Request) -> Result<Response, Error> {
    let hostname = req.path("hostname")?.to_ascii_lowercase();
    let current = require_device(&hostname)?;
    let body: DeviceBody = req.body()?;
    let touches_extra =
        body.glances_enabled.is_some() || body.glances_port.is_some() || body.glances_url.is_some();
    let fields = body.into_fields(touches_extra.then_some(&current.extra))?;
    let device = registry::update(&hostname, &fields)?;
    Ok(Json(device_json(&device)).into())
}

/// `DELETE /api/devices/{hostname}`: the device and its history (one cascade).
pub fn delete(req: &Request) -> Result<Response, Error> {
    let hostname = req.path("hostname")?.to_ascii_lowercase();
    let device = require_device(&hostname)?;
    if !registry::delete(&hostname)? {
        return Err(Error::not_found(format!("device not found: {hostname}")));
    }
    Ok(Json(json!(DeleteResult {
        success: true,
        operation_id: format!("delete_device:{}", device.id),
        operation_type: "delete_device".into(),
        result: DeletedDevice {
            device_id: device.id,
            hostname: device.hostname,
        },
        error_message: None,
        warnings: Vec::new(),
    }))
    .into())
}

/// `GET /api/devices/{hostname}/summary`: from the database only.
pub fn summary(req: &Request) -> Result<Response, Error> {
    let d = require_device(req.path("hostname")?)?;
    Ok(Json(json!(DeviceSummary {
        id: d.id,
        hostname: d.hostname,
        ip_address: d.ip_address,
        device_type: d.device_type,
        status: d.status,
        monitoring_enabled: d.monitoring_enabled,
        last_seen: d.last_seen,
    }))
    .into())
}

/// Queues the background connectivity probe (then, once online, the capability analysis) of
/// a monitored device (never on the request
/// path); a queueing failure is logged, not an error of the request.
pub(crate) fn queue_probe(device: &Device) {
    if !device.monitoring_enabled {
        return;
    }
    if let Err(e) = jobs::enqueue(
        "probe_device",
        &json!({"hostname": device.hostname, "analyze": true}),
    ) {
        log::warn(
            "cannot queue the connectivity probe",
            &[("hostname", &device.hostname), ("error", &e.to_string())],
        );
    }
}

/// JSON Schema of the probe job's body.
/// The query of `GET /{hostname}/status` (its parameters are declared from this type).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct StatusQuery {
    /// Probe the device now (a remote `true`, timed) instead of answering the stored status.
    #[serde(default = "yes")]
    pub test_connectivity: bool,
}

fn yes() -> bool {
    true
}

/// The body of the internal `probe_device` job (its schema is derived from this type).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProbeJob {
    /// The device to probe.
    pub hostname: String,
    /// Also analyse it when it answers.
    #[serde(default)]
    pub analyze: bool,
}

/// Probes `device` over SSH: (status, response time ms, error).
fn probe(device: &Device) -> Result<(DeviceStatus, Option<f64>, Option<String>), Error> {
    match ssh::exec(&device.hostname, &["true"], None, Duration::from_secs(10)) {
        Ok(out) => Ok((
            DeviceStatus::Online,
            Some(out.duration.as_secs_f64() * 1000.0),
            None,
        )),
        Err(Error::Unavailable(m)) | Err(Error::Timeout(m)) => {
            Ok((DeviceStatus::Offline, None, Some(m)))
        }
        Err(e) => Err(e),
    }
}

/// Writes a probe's status (and `last_seen` when online) unless the device is in maintenance.
fn record(device: &Device, status: DeviceStatus) -> Result<(), Error> {
    if device.status == DeviceStatus::Maintenance {
        return Ok(());
    }
    let online = status == DeviceStatus::Online;
    if device.status == status && !online {
        return Ok(());
    }
    let fields = DeviceFields {
        status: Some(status),
        last_seen: online.then(|| Some(crate::clock::now_rfc3339())),
        ..DeviceFields::default()
    };
    registry::update(&device.hostname, &fields)?;
    Ok(())
}

/// Internal job `probe_device`: the background probe after create/update.
pub fn probe_job(req: &Request) -> Result<Response, Error> {
    let body: ProbeJob = req.body()?;
    let device = require_device(&body.hostname)?;
    let (status, _, error) = probe(&device)?;
    record(&device, status)?;
    if status == DeviceStatus::Online
        && body.analyze
        && let Err(e) = crate::analyze::analyze(&device)
    {
        log::warn(
            "background analysis failed",
            &[("hostname", &device.hostname), ("error", &e.to_string())],
        );
    }
    log::info(
        "probe done",
        &[
            ("hostname", &device.hostname),
            ("status", status.as_str()),
            ("error", error.as_deref().unwrap_or("")),
        ],
    );
    Ok(Json(json!({"hostname": device.hostname, "status": status})).into())
}

/// `GET /api/devices/{hostname}/status?test_connectivity=true`: a live probe (a remote
/// `true`, measured), the new status written back when it changed.
pub fn status(req: &Request) -> Result<Response, Error> {
    let d = require_device(req.path("hostname")?)?;
    let StatusQuery {
        test_connectivity: test,
    } = req.query()?;
    let view = |connection_status, response_time_ms, error_message, test_timestamp| Connectivity {
        device_id: d.id.clone(),
        hostname: d.hostname.clone(),
        ip_address: d.ip_address.clone(),
        ssh_port: d.ssh_port,
        connection_status,
        response_time_ms,
        error_message,
        test_timestamp,
    };
    if !test {
        return Ok(Json(json!(view(d.status, None, None, None))).into());
    }
    let (status, response_ms, error) = probe(&d)?;
    record(&d, status)?;
    let now = crate::clock::now_rfc3339();
    Ok(Json(json!(view(status, response_ms, error, Some(now)))).into())
}
