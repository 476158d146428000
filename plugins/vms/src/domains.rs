//! `GET /{hostname}`: the VMs of `virsh list --all`; `GET /{hostname}/{vm_name}`: one VM's
//! `virsh dominfo`. The URI is the plugin's `uri` setting.

use infrastructor_sdk::prelude::*;
use serde_json::json;

use crate::parse::{self, is_vm_name};
use crate::settings::Settings;

fn failure(what: &str, out: &ssh::ExecOutput) -> Error {
    let stderr = out.stderr_str();
    let lower = stderr.to_ascii_lowercase();
    if lower.contains("failed to get domain") || lower.contains("domain not found") {
        Error::not_found(format!("{what}: {}", stderr.trim()))
    } else if lower.contains("failed to connect") {
        Error::unavailable(format!("{what}: {}", stderr.trim()))
    } else {
        out.clone()
            .check(what)
            .err()
            .unwrap_or_else(|| Error::upstream(format!("{what} failed")))
    }
}

/// `GET /{hostname}`.
pub fn list(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let settings = Settings::load()?;
    let out = ssh::exec(
        host,
        &["virsh", "-c", &settings.uri, "list", "--all"],
        None,
        Duration::from_secs(30),
    )?;
    if !out.success() {
        return Err(failure("virsh list", &out));
    }
    let vms = parse::parse_list(&out.stdout_str()).map_err(|e| Error::upstream(e.to_string()))?;
    Ok(Json(json!(VmList {
        hostname: host.to_owned(),
        uri: settings.uri,
        total: vms.len(),
        running: vms.iter().filter(|v| v.state == "running").count(),
        vms,
    }))
    .into())
}

/// `GET /{hostname}/{vm_name}`.
pub fn info(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let vm = req.path("vm_name")?;
    if !is_vm_name(vm) {
        return Err(Error::bad_request(format!("`{vm}` is not a VM name")));
    }
    let settings = Settings::load()?;
    let out = ssh::exec(
        host,
        &["virsh", "-c", &settings.uri, "dominfo", "--domain", vm],
        None,
        Duration::from_secs(30),
    )?;
    if !out.success() {
        return Err(failure("virsh dominfo", &out));
    }
    let info =
        parse::parse_dominfo(&out.stdout_str()).map_err(|e| Error::upstream(e.to_string()))?;
    Ok(Json(json!(VmInfo {
        hostname: host.to_owned(),
        uri: settings.uri,
        vm: info,
    }))
    .into())
}

/// `GET /{hostname}`: the VMs of `virsh list --all`.
#[derive(Debug, serde::Serialize, JsonSchema)]
pub struct VmList {
    /// The device.
    pub hostname: String,
    /// The libvirt URI used.
    pub uri: String,
    /// VMs in all.
    pub total: usize,
    /// VMs running.
    pub running: usize,
    /// The VMs.
    pub vms: Vec<parse::Vm>,
}

/// `GET /{hostname}/{vm_name}`: `virsh dominfo`, parsed.
#[derive(Debug, serde::Serialize, JsonSchema)]
pub struct VmInfo {
    /// The device.
    pub hostname: String,
    /// The libvirt URI used.
    pub uri: String,
    /// The VM.
    pub vm: parse::DomInfo,
}
