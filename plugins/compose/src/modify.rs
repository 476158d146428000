//! `POST /modify`, `POST /download-modified/{device}` and `GET /proxy-configs/{device}/{service}`:
//! the compose file adapted to a device (appdata paths, free ports from a real scan, the
//! recommended network added, SWAG confs), computed by [`crate::transform`].

use std::collections::BTreeMap;

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::transform::{
    self, ModifyOptions, ModifyOutcome, PortAssignment, ProxyConfig, VolumeUpdate,
};
use crate::{device, scan, swag};

/// How to adapt a compose file to a device.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ModifyRequest {
    /// The compose file's content.
    #[schemars(length(min = 1, max = 1048576))]
    pub compose_content: String,
    /// A registered device's hostname.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub target_device: String,
    /// Limit every change to this service.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$"))]
    pub service_name: Option<String>,
    /// Rewrite `…/appdata/…` host paths under the device's appdata directory (default true).
    #[serde(default = "crate::defaults::yes")]
    pub update_appdata_paths: bool,
    /// The appdata directory to use instead of the device's.
    #[schemars(regex(pattern = r"^/[A-Za-z0-9._/-]{0,254}$"))]
    pub custom_appdata_path: Option<String>,
    /// Give host ports that are taken (by a listener, a container, or another service of the
    /// file) free ones from the range (default true).
    #[serde(default = "crate::defaults::yes")]
    pub auto_assign_ports: bool,
    /// First port of the range.
    #[serde(default = "crate::defaults::port_range_start")]
    #[schemars(range(min = 1, max = 65535))]
    pub port_range_start: u16,
    /// Last port of the range (inclusive).
    #[serde(default = "crate::defaults::port_range_end")]
    #[schemars(range(min = 1, max = 65535))]
    pub port_range_end: u16,
    /// A fixed host port per service (its first mapping).
    #[serde(default)]
    pub custom_port_mappings: BTreeMap<String, u16>,
    /// Add the services to a network (default true): `default_network`, else the device's
    /// recommended network (the one SWAG is on); nothing when there is none.
    #[serde(default = "crate::defaults::yes")]
    pub update_networks: bool,
    /// The network to add.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$"))]
    pub default_network: Option<String>,
    /// Generate a SWAG subdomain conf per service with a published port (default true).
    #[serde(default = "crate::defaults::yes")]
    pub generate_proxy_configs: bool,
}

impl ModifyRequest {
    fn check(&self) -> Result<(), Error> {
        if self.port_range_start > self.port_range_end {
            return Err(Error::bad_request(
                "port_range_start must not be greater than port_range_end",
            ));
        }
        for name in self.custom_port_mappings.keys() {
            if !swag::is_service_name(name) {
                return Err(Error::bad_request(format!(
                    "custom_port_mappings: `{name}` is not a compose service name"
                )));
            }
        }
        Ok(())
    }
}

/// A YAML error as a 400 naming the line and column.
pub fn yaml_error(e: transform::YamlError) -> Error {
    Error::bad_request(format!(
        "compose_content is not valid YAML: line {}, column {}: {}",
        e.line, e.column, e.message
    ))
}

/// Adapts `req.compose_content` to its device: YAML checked first (400 before anything
/// remote), then the port and network scans it needs, then the transforms.
pub fn modify(req: &ModifyRequest) -> Result<(ModifyOutcome, Vec<String>), Error> {
    req.check()?;
    transform::validate(&req.compose_content).map_err(yaml_error)?;
    let dev = device::require(&req.target_device)?;
    let mut warnings = Vec::new();
    let used_ports = if req.auto_assign_ports {
        let usage = scan::ports(&req.target_device)?;
        warnings.extend(usage.warnings);
        usage.used
    } else {
        Default::default()
    };
    let network = match (&req.default_network, req.update_networks) {
        (_, false) => None,
        (Some(n), true) => Some(n.clone()),
        (None, true) => {
            let (_, recommended) = scan::networks(&req.target_device)?;
            if recommended.is_none() {
                warnings
                    .push("no user-defined network on the device to add the services to".into());
            }
            recommended
        }
    };
    let opts = ModifyOptions {
        service_name: req.service_name.clone(),
        update_appdata_paths: req.update_appdata_paths,
        appdata_base: device::appdata_base(&dev, req.custom_appdata_path.as_deref()),
        auto_assign_ports: req.auto_assign_ports,
        port_range: (req.port_range_start, req.port_range_end),
        custom_port_mappings: req.custom_port_mappings.clone(),
        used_ports,
        update_networks: network.is_some(),
        network,
        generate_proxy_configs: req.generate_proxy_configs,
        upstream_app: device::upstream_app(&dev),
    };
    let outcome = transform::modify(&req.compose_content, &opts).map_err(yaml_error)?;
    Ok((outcome, warnings))
}

fn short_hash(text: &str) -> String {
    // FNV-1a 64: a change marker, not a security measure.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The answer of a modification (`POST /modify`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ModifyResult {
    /// The target device.
    pub device: String,
    /// The one service changed, when limited.
    pub service_name: Option<String>,
    /// Always true (failures are errors).
    pub success: bool,
    /// The adapted compose file.
    pub modified_compose: String,
    /// A change marker of the original file (FNV-1a, hex).
    pub original_compose_hash: String,
    /// A change marker of the adapted file.
    pub modified_compose_hash: String,
    /// Whether the file changed.
    pub changed: bool,
    /// What changed, in words.
    pub changes_applied: Vec<String>,
    /// Host ports given per service.
    pub port_assignments: BTreeMap<String, Vec<PortAssignment>>,
    /// Host paths rewritten per service.
    pub volume_updates: BTreeMap<String, Vec<VolumeUpdate>>,
    /// Networks added per service.
    pub network_configs: BTreeMap<String, Vec<String>>,
    /// The SWAG subdomain confs generated.
    pub proxy_configs: Vec<ProxyConfig>,
    /// What the scans and the transforms noticed.
    pub warnings: Vec<String>,
}

/// The JSON answer of a modification.
pub fn result_json(
    req: &ModifyRequest,
    outcome: &ModifyOutcome,
    warnings: &[String],
) -> ModifyResult {
    let mut all_warnings = warnings.to_vec();
    all_warnings.extend(outcome.warnings.iter().cloned());
    ModifyResult {
        device: req.target_device.clone(),
        service_name: req.service_name.clone(),
        success: true,
        modified_compose: outcome.modified.clone(),
        original_compose_hash: short_hash(&req.compose_content),
        modified_compose_hash: short_hash(&outcome.modified),
        changed: outcome.modified != req.compose_content,
        changes_applied: outcome.changes.clone(),
        port_assignments: outcome.port_assignments.clone(),
        volume_updates: outcome.volume_updates.clone(),
        network_configs: outcome.network_configs.clone(),
        proxy_configs: outcome.proxy_configs.clone(),
        warnings: all_warnings,
    }
}

/// A SWAG subdomain conf for one service (`GET /proxy-configs/{device}/{service_name}`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProxyConfigView {
    /// The service.
    pub service_name: String,
    /// The device.
    pub device: String,
    /// The upstream address (the device's).
    pub upstream_app: String,
    /// The upstream port.
    pub upstream_port: u16,
    /// `http` or `https`.
    pub upstream_proto: String,
    /// `SERVICE.subdomain.conf`.
    pub filename: String,
    /// The conf's text.
    pub config_content: String,
}

/// `POST /modify`.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let body: ModifyRequest = req.body()?;
    let (outcome, warnings) = modify(&body)?;
    Ok(Json(result_json(&body, &outcome, &warnings)).into())
}

/// `POST /download-modified/{device}`: the modified file as `application/yaml` text, with
/// `Content-Disposition` naming it.
pub fn download(req: &Request) -> Result<Response, Error> {
    let mut body: ModifyRequest = req.body()?;
    let device = req.path("device")?;
    if body.target_device != device {
        return Err(Error::bad_request(format!(
            "target_device `{}` differs from the path's device `{device}`",
            body.target_device
        )));
    }
    body.target_device = device.to_owned();
    let (outcome, _) = modify(&body)?;
    Ok(
        Response::bytes("application/yaml", outcome.modified.into_bytes()).header(
            "content-disposition",
            "attachment; filename=\"compose.yaml\"",
        ),
    )
}

/// `GET /download-modified/{device}`: which project, and how to adapt it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct DownloadQuery {
    /// The compose project on the device.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]{0,62}$"))]
    pub project: String,
    /// Limit every change to this service.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$"))]
    pub service_name: Option<String>,
    /// Rewrite appdata paths (default true).
    #[serde(default = "crate::defaults::yes")]
    pub update_appdata_paths: bool,
    /// Move taken host ports (default true).
    #[serde(default = "crate::defaults::yes")]
    pub auto_assign_ports: bool,
    /// First port of the range.
    #[serde(default = "crate::defaults::port_range_start")]
    #[schemars(range(min = 1, max = 65535))]
    pub port_range_start: u16,
    /// Last port of the range.
    #[serde(default = "crate::defaults::port_range_end")]
    #[schemars(range(min = 1, max = 65535))]
    pub port_range_end: u16,
    /// Add the device's network (default false here: the file is already on the device).
    #[serde(default)]
    pub update_networks: bool,
}

/// `GET /download-modified/{device}?project=…`.
pub fn download_project(req: &Request) -> Result<Response, Error> {
    let device = req.path("device")?;
    let q: DownloadQuery = req.query()?;
    let content = crate::projects::compose_file(device, &q.project)?;
    let body = ModifyRequest {
        compose_content: content,
        target_device: device.to_owned(),
        service_name: q.service_name,
        update_appdata_paths: q.update_appdata_paths,
        custom_appdata_path: None,
        auto_assign_ports: q.auto_assign_ports,
        port_range_start: q.port_range_start,
        port_range_end: q.port_range_end,
        custom_port_mappings: BTreeMap::new(),
        update_networks: q.update_networks,
        default_network: None,
        generate_proxy_configs: false,
    };
    let (outcome, _) = modify(&body)?;
    Ok(
        Response::bytes("application/yaml", outcome.modified.into_bytes()).header(
            "content-disposition",
            "attachment; filename=\"compose.yaml\"",
        ),
    )
}

/// `GET /proxy-configs/{device}/{service_name}`: the SWAG subdomain conf for one service,
/// upstream the device's address.
pub fn proxy_config(req: &Request) -> Result<Response, Error> {
    let dev = device::require(req.path("device")?)?;
    let service = req.path("service_name")?;
    let port: u16 = req.query_as("upstream_port")?;
    let proto = req.query_str("upstream_proto").unwrap_or("http");
    let upstream = device::upstream_app(&dev);
    let content =
        swag::subdomain_conf(service, &upstream, port, proto).map_err(Error::bad_request)?;
    Ok(Json(ProxyConfigView {
        service_name: service.to_owned(),
        device: dev.hostname,
        upstream_app: upstream,
        upstream_port: port,
        upstream_proto: proto.to_owned(),
        filename: format!("{service}.subdomain.conf"),
        config_content: content,
    })
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_mark_changes() {
        assert_eq!(short_hash("a"), short_hash("a"));
        assert_ne!(short_hash("a"), short_hash("b"));
        assert_eq!(short_hash("").len(), 16);
    }

    #[test]
    fn ranges_and_mapping_names_are_checked() {
        let req: ModifyRequest = serde_json::from_value(json!({
            "compose_content": "services: {}", "target_device": "nas",
            "port_range_start": 9000, "port_range_end": 8000,
        }))
        .expect("request");
        assert!(req.check().is_err());
        let req: ModifyRequest = serde_json::from_value(json!({
            "compose_content": "services: {}", "target_device": "nas",
            "custom_port_mappings": {"a;b": 80},
        }))
        .expect("request");
        assert!(req.check().is_err());
    }
}
