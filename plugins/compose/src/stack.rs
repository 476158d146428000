//! `POST /modify-and-deploy`, a long-running route: the file is adapted to the device
//! ([`crate::modify`]) and deployed ([`crate::deploy`]) to the path the request names, or
//! to `<compose_root>/<project_name>/compose.yaml` (the plugin's `compose_root` setting,
//! default [`DEFAULT_COMPOSE_ROOT`]). It never writes anywhere else, and refuses to replace
//! an existing file unless `overwrite` is true.

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::deploy::{self, DeployRequest};
use crate::modify::{self, ModifyRequest};
use crate::paths;

/// Where stacks go when the request names no path.
pub const DEFAULT_COMPOSE_ROOT: &str = "/opt/stacks";

/// Modify, then deploy.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ModifyAndDeployRequest {
    /// How to adapt the file.
    #[serde(flatten)]
    pub modify: ModifyRequest,
    /// The compose project (the directory under the compose root) when no path is named.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]{0,62}$"))]
    pub project_name: Option<String>,
    /// The compose file to write (absolute, normalised, `.yml`/`.yaml`).
    #[schemars(
        length(min = 2, max = 255),
        regex(
            pattern = r"^(/\.?[A-Za-z0-9_-][A-Za-z0-9._-]*)+/[A-Za-z0-9_-][A-Za-z0-9._-]*\.ya?ml$"
        )
    )]
    pub deployment_path: Option<String>,
    /// Replace an existing file at that path (default false: 409).
    #[serde(default)]
    pub overwrite: bool,
    /// Run `up -d` (default true).
    #[serde(default = "crate::defaults::yes")]
    pub start_services: bool,
    /// Run `pull` first (default true).
    #[serde(default = "crate::defaults::yes")]
    pub pull_images: bool,
    /// Roll back a failed deploy (default true).
    #[serde(default = "crate::defaults::yes")]
    pub rollback_on_failure: bool,
}

#[derive(Deserialize)]
struct PluginConfig {
    compose_root: Option<String>,
}

/// The path to deploy to: the named one, or the project's under the compose root.
fn destination(req: &ModifyAndDeployRequest) -> Result<String, Error> {
    let path = match (&req.deployment_path, &req.project_name) {
        (Some(path), _) => path.clone(),
        (None, Some(project)) => {
            let root = config::get::<PluginConfig>()
                .ok()
                .and_then(|c| c.compose_root)
                .unwrap_or_else(|| DEFAULT_COMPOSE_ROOT.to_owned());
            format!(
                "{}/{}/compose.yaml",
                root.trim_end_matches('/'),
                paths::project_name(project)?
            )
        }
        (None, None) => {
            return Err(Error::bad_request(
                "name a deployment_path or a project_name",
            ));
        }
    };
    paths::compose_file_path(&path)
        .map_err(|e| Error::bad_request(format!("deployment path `{path}` {e}")))?;
    Ok(path)
}

/// What a modify-and-deploy did (the job's result).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ModifyAndDeployResult {
    /// The modification.
    pub modification: modify::ModifyResult,
    /// The deploy of the modified file.
    pub deployment: deploy::DeployResult,
    /// Whether the deploy succeeded.
    pub overall_success: bool,
}

/// `POST /modify-and-deploy`.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let body: ModifyAndDeployRequest = req.body()?;
    let path = destination(&body)?;
    let device = body.modify.target_device.clone();
    jobs::progress(0, None, "steps", "modifying");
    let (outcome, warnings) = modify::modify(&body.modify)?;
    let exists = ssh::run_script(&device, "exists", &[&path], None, Duration::from_secs(30))?;
    if exists.success() && !body.overwrite {
        return Err(Error::conflict(format!(
            "`{path}` already exists on `{device}`; set overwrite to replace it"
        )));
    }
    let deploy_req = DeployRequest {
        device: device.clone(),
        compose_content: outcome.modified.clone(),
        deployment_path: path,
        start_services: body.start_services,
        pull_images: body.pull_images,
        recreate_containers: false,
        backup_existing: true,
        rollback_on_failure: body.rollback_on_failure,
        services_to_start: Vec::new(),
        services_to_stop: Vec::new(),
    };
    deploy::check(&deploy_req)?;
    let result = deploy::deploy(&deploy_req)?;
    let status = deploy::answer(&result).status();
    Ok(Json(ModifyAndDeployResult {
        modification: modify::result_json(&body.modify, &outcome, &warnings),
        overall_success: result.success,
        deployment: result,
    })
    .with_status(status))
}
