//! Changing confs: create one from its sample (or SWAG's template) with an upstream and an
//! auth method, change those of an existing one, delete one. Every change is written
//! atomically, checked with `nginx -t` inside the SWAG container and reloaded; a change
//! nginx refuses is undone and answered 400 with nginx's message ([`remote::APPLY`]).

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::configs::candidates;
use crate::detect::{self, Detection};
use crate::names::{self, ConfType};
use crate::records::{CONFIGS, ConfView, record_id};
use crate::remote::{self, Change};
use crate::render::{self, Auth, Proto, Upstream};
use crate::sync;

/// A conf to create.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The device; absent = the detected SWAG device.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub device: Option<String>,
    /// `subdomain` (default) or `subfolder`.
    #[serde(default = "subdomain")]
    pub conf_type: ConfType,
    /// Where SWAG sends requests: a container name, host name or IPv4 address.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub upstream_app: String,
    /// The upstream's port.
    #[schemars(range(min = 1, max = 65535))]
    pub upstream_port: u16,
    /// `http` (default) or `https`.
    #[serde(default = "http")]
    pub upstream_proto: Proto,
    /// The auth method to turn on (default none).
    #[serde(default = "no_auth")]
    pub auth: Auth,
}

/// Changes to an existing conf; absent fields stay as they are.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("anyOf" = [
    {"required": ["upstream_app"], "properties": {"upstream_app": {"type": "string"}}},
    {"required": ["upstream_port"], "properties": {"upstream_port": {"type": "integer"}}},
    {"required": ["upstream_proto"], "properties": {"upstream_proto": {"type": "string"}}},
    {"required": ["auth"], "properties": {"auth": {"type": "string"}}},
]))]
pub struct UpdateRequest {
    /// The device; absent = the detected SWAG device.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub device: Option<String>,
    /// Which conf when the service has both; absent = subdomain, else subfolder.
    pub conf_type: Option<ConfType>,
    /// New `$upstream_app`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub upstream_app: Option<String>,
    /// New `$upstream_port`.
    #[schemars(range(min = 1, max = 65535))]
    pub upstream_port: Option<u16>,
    /// New `$upstream_proto`.
    pub upstream_proto: Option<Proto>,
    /// The auth method to switch to.
    pub auth: Option<Auth>,
}

/// Which conf to delete.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// The device; absent = the detected SWAG device.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub device: Option<String>,
    /// Which conf when the service has both; absent = subdomain, else subfolder.
    pub conf_type: Option<ConfType>,
}

fn subdomain() -> ConfType {
    ConfType::Subdomain
}

fn http() -> Proto {
    Proto::Http
}

fn no_auth() -> Auth {
    Auth::None
}

fn service(req: &Request) -> Result<String, Error> {
    let s = req.path("service_name")?;
    if !names::is_service(s) {
        return Err(Error::bad_request(format!("`{s}` is not a service name")));
    }
    Ok(s.to_owned())
}

/// Re-syncs `file` after a change, so the records follow the file; a failure here does not
/// undo the change (the next scan catches up).
fn resync(detection: &Detection, dir: &str, file: &str) -> Option<ConfView> {
    match sync::sync(detection, dir, &[file.to_owned()], false) {
        Ok((_, records)) => records.first().map(|r| r.view(false)),
        Err(e) => {
            log::warn(
                "cannot sync a conf after changing it",
                &[("file", file), ("error", &e.to_string())],
            );
            None
        }
    }
}

/// The answer of `POST /configs/{service_name}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfCreated {
    /// The device.
    pub device: String,
    /// The conf file written.
    pub file: String,
    /// Its full path.
    pub path: String,
    /// `created`.
    pub action: String,
    /// The sample or template it was made from.
    pub from: String,
    /// `passed`: `nginx -t` accepted it.
    pub nginx_test: String,
    /// Whether nginx was reloaded.
    pub reloaded: bool,
    /// The file's record after the change (`null` when the re-sync failed).
    pub record: Option<ConfView>,
}

/// The answer of `PUT /configs/{service_name}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfUpdated {
    /// The device.
    pub device: String,
    /// The conf file.
    pub file: String,
    /// Its full path.
    pub path: String,
    /// `updated`, or `unchanged` when the file already said so.
    pub action: String,
    /// The copy of the previous version, when the file changed.
    pub backup: Option<String>,
    /// `passed`, or `not run` when nothing changed.
    pub nginx_test: String,
    /// Whether nginx was reloaded.
    pub reloaded: bool,
    /// The file's record after the change (`null` when the re-sync failed).
    pub record: Option<ConfView>,
}

/// The answer of `DELETE /configs/{service_name}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfDeleted {
    /// The device.
    pub device: String,
    /// The conf file removed.
    pub file: String,
    /// Its full path.
    pub path: String,
    /// `deleted`.
    pub action: String,
    /// The copy kept of it.
    pub backup: Option<String>,
    /// `passed`: `nginx -t` accepted the configuration without it.
    pub nginx_test: String,
    /// Whether nginx was reloaded.
    pub reloaded: bool,
}

/// `POST /configs/{service_name}`.
pub fn create(req: &Request) -> Result<Response, Error> {
    let service = service(req)?;
    let body: CreateRequest = req.body()?;
    let detection = detect::locate(body.device.as_deref())?;
    let dir = remote::confs_dir(&detection)?;
    let file = body.conf_type.conf_file(&service);
    let (source, text) = match remote::read_first(
        &detection.device,
        &dir,
        &[body.conf_type.sample_file(&service)],
    )? {
        Some(sample) => (sample.name, sample.content),
        None => {
            match remote::read_first(&detection.device, &dir, &[body.conf_type.template_file()])? {
                Some(t) => (t.name, render::from_template(&t.content, &service)),
                None => {
                    return Err(Error::not_found(format!(
                        "`{dir}` has neither `{}` nor SWAG's template",
                        body.conf_type.sample_file(&service)
                    )));
                }
            }
        }
    };
    let upstream = Upstream {
        app: Some(body.upstream_app.clone()),
        port: Some(body.upstream_port),
        proto: Some(body.upstream_proto),
    };
    let text = render::set_upstream(&text, &upstream)
        .and_then(|t| render::set_auth(&t, body.auth))
        .map_err(|e| Error::bad_request(format!("`{source}`: {e}")))?;
    remote::apply(&detection, &file, Change::Create, &text)?;
    let record = resync(&detection, &dir, &file);
    Ok(Json(ConfCreated {
        device: detection.device,
        path: format!("{dir}/{file}"),
        file,
        action: "created".to_owned(),
        from: source,
        nginx_test: "passed".to_owned(),
        reloaded: true,
        record,
    })
    .with_status(201))
}

/// `PUT /configs/{service_name}`.
pub fn update(req: &Request) -> Result<Response, Error> {
    let service = service(req)?;
    let body: UpdateRequest = req.body()?;
    if body.upstream_app.is_none()
        && body.upstream_port.is_none()
        && body.upstream_proto.is_none()
        && body.auth.is_none()
    {
        return Err(Error::bad_request(
            "nothing to change: give upstream_app, upstream_port, upstream_proto or auth",
        ));
    }
    let detection = detect::locate(body.device.as_deref())?;
    let dir = remote::confs_dir(&detection)?;
    let Some(current) = remote::read_first(
        &detection.device,
        &dir,
        &candidates(&service, body.conf_type),
    )?
    else {
        return Err(Error::not_found(format!(
            "no conf for `{service}` on `{}`",
            detection.device
        )));
    };
    let upstream = Upstream {
        app: body.upstream_app.clone(),
        port: body.upstream_port,
        proto: body.upstream_proto,
    };
    let mut text = render::set_upstream(&current.content, &upstream)
        .map_err(|e| Error::bad_request(format!("`{}`: {e}", current.name)))?;
    if let Some(auth) = body.auth {
        text = render::set_auth(&text, auth)
            .map_err(|e| Error::bad_request(format!("`{}`: {e}", current.name)))?;
    }
    let unchanged = text == current.content;
    let backup = if unchanged {
        None
    } else {
        remote::apply(&detection, &current.name, Change::Replace, &text)?
    };
    let record = resync(&detection, &dir, &current.name);
    Ok(Json(ConfUpdated {
        device: detection.device,
        path: format!("{dir}/{}", current.name),
        file: current.name,
        action: if unchanged { "unchanged" } else { "updated" }.to_owned(),
        backup,
        nginx_test: if unchanged { "not run" } else { "passed" }.to_owned(),
        reloaded: !unchanged,
        record,
    })
    .into())
}

/// `DELETE /configs/{service_name}`.
pub fn delete(req: &Request) -> Result<Response, Error> {
    let service = service(req)?;
    let q: DeleteQuery = req.query()?;
    let detection = detect::locate(q.device.as_deref())?;
    let dir = remote::confs_dir(&detection)?;
    let Some(current) =
        remote::read_first(&detection.device, &dir, &candidates(&service, q.conf_type))?
    else {
        return Err(Error::not_found(format!(
            "no conf for `{service}` on `{}`",
            detection.device
        )));
    };
    let backup = remote::apply(&detection, &current.name, Change::Delete, "")?;
    storage::delete(CONFIGS, &record_id(&detection.device, &current.name))?;
    Ok(Json(ConfDeleted {
        device: detection.device,
        path: format!("{dir}/{}", current.name),
        file: current.name,
        action: "deleted".to_owned(),
        backup,
        nginx_test: "passed".to_owned(),
        reloaded: true,
    })
    .into())
}
