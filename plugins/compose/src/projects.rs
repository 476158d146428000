//! Compose projects already on a device, found from their containers' labels
//! (`com.docker.compose.project`, `.project.working_dir`, `.project.config_files`,
//! `.service`), so stacks deployed by hand can be adopted; and one project's compose file.

use std::collections::BTreeMap;

use infrastructor_parsers::docker_ps::{self, ContainerSummary};
use infrastructor_sdk::prelude::*;
use serde::Serialize;

use crate::paths;

/// Largest compose file read back, in bytes.
pub const MAX_READ_BYTES: usize = 1024 * 1024;

/// Reads a compose file: only `.yml`/`.yaml` regular files, at most [`MAX_READ_BYTES`]
/// (one more byte is read to tell a bigger file).
pub const READ_COMPOSE: &str = "case \"$1\" in *.yml|*.yaml) ;; *) echo 'not a compose file' >&2; exit 2;; esac; \
[ -f \"$1\" ] || { echo 'no such file' >&2; exit 3; }; head -c \"$2\" \"$1\"";

/// One service container of a project.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProjectService {
    /// The compose service.
    pub service: Option<String>,
    /// The container's name.
    pub container: String,
    /// `running`, `exited`…
    pub state: String,
    /// Docker's status text.
    pub status: String,
    /// The image.
    pub image: String,
}

/// A compose project as its containers describe it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Project {
    /// The project name.
    pub name: String,
    /// Where compose ran (`com.docker.compose.project.working_dir`).
    pub working_dir: Option<String>,
    /// Its compose files (`com.docker.compose.project.config_files`, comma-separated).
    pub config_files: Vec<String>,
    /// Its containers.
    pub services: Vec<ProjectService>,
    /// Containers running.
    pub running: usize,
}

/// Groups containers into projects by their compose labels; containers without one are not
/// part of any project.
pub fn group(containers: &[ContainerSummary]) -> Vec<Project> {
    let mut by_name: BTreeMap<String, Project> = BTreeMap::new();
    for c in containers {
        let Some(name) = c.labels.get("com.docker.compose.project") else {
            continue;
        };
        let project = by_name.entry(name.clone()).or_insert_with(|| Project {
            name: name.clone(),
            working_dir: None,
            config_files: Vec::new(),
            services: Vec::new(),
            running: 0,
        });
        if project.working_dir.is_none() {
            project.working_dir = c
                .labels
                .get("com.docker.compose.project.working_dir")
                .cloned();
        }
        if let Some(files) = c.labels.get("com.docker.compose.project.config_files") {
            for f in files.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                if !project.config_files.iter().any(|x| x == f) {
                    project.config_files.push(f.to_owned());
                }
            }
        }
        let state = c.state.as_str().to_owned();
        if state == "running" {
            project.running += 1;
        }
        project.services.push(ProjectService {
            service: c.labels.get("com.docker.compose.service").cloned(),
            container: c.name.clone(),
            state,
            status: c.status.clone(),
            image: c.image.clone(),
        });
    }
    by_name.into_values().collect()
}

fn list(device: &str) -> Result<Vec<Project>, Error> {
    let out = ssh::exec(
        device,
        crate::scan::DOCKER_PS,
        None,
        Duration::from_secs(30),
    )?
    .check("docker ps")?;
    let containers =
        docker_ps::parse_ps(&out.stdout_str()).map_err(|e| Error::upstream(e.to_string()))?;
    Ok(group(&containers))
}

/// The answer of `GET /{device}/projects`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProjectList {
    /// The device.
    pub device: String,
    /// Its compose projects.
    pub projects: Vec<Project>,
    /// How many there are.
    pub total: usize,
}

/// One compose file of a project: its content, or why it could not be read.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProjectFile {
    /// The file's path on the device.
    pub path: String,
    /// Its content (when read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Why it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The answer of `GET /{device}/projects/{project}`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProjectDetail {
    /// The device.
    pub device: String,
    /// The project.
    pub project: Project,
    /// Its compose files.
    pub files: Vec<ProjectFile>,
}

/// `GET /{device}/projects`.
pub fn list_handler(req: &Request) -> Result<Response, Error> {
    let device = req.path("device")?;
    crate::device::require(device)?;
    let projects = list(device)?;
    Ok(Json(ProjectList {
        device: device.to_owned(),
        total: projects.len(),
        projects,
    })
    .into())
}

/// Reads one compose file of the device (only `.yml`/`.yaml` regular files, bounded).
fn read_file(device: &str, path: &str) -> Result<String, Error> {
    paths::compose_file_path(path)
        .map_err(|e| Error::bad_request(format!("`{path}` {e}; not read")))?;
    let limit = (MAX_READ_BYTES + 1).to_string();
    let out = ssh::run_script(
        device,
        "read_compose",
        &[path, &limit],
        None,
        Duration::from_secs(30),
    )?;
    if !out.success() {
        return Err(Error::upstream(format!(
            "cannot read `{path}`: {}",
            out.stderr_str().trim()
        )));
    }
    if out.stdout.len() > MAX_READ_BYTES {
        return Err(Error::bad_request(format!(
            "`{path}` is larger than {MAX_READ_BYTES} bytes"
        )));
    }
    Ok(out.stdout_str().into_owned())
}

/// The content of project `name`'s first compose file on `device` (404 when the device
/// has no such project or the project names no file).
pub fn compose_file(device: &str, name: &str) -> Result<String, Error> {
    let name = paths::project_name(name)?;
    crate::device::require(device)?;
    let project = list(device)?
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| Error::not_found(format!("no compose project `{name}` on `{device}`")))?;
    let path = project
        .config_files
        .first()
        .ok_or_else(|| Error::not_found(format!("project `{name}` names no compose file")))?;
    read_file(device, path)
}

/// `GET /{device}/projects/{project}`: the project and the content of its compose files.
pub fn get_handler(req: &Request) -> Result<Response, Error> {
    let device = req.path("device")?;
    let name = paths::project_name(req.path("project")?)?;
    crate::device::require(device)?;
    let Some(project) = list(device)?.into_iter().find(|p| p.name == name) else {
        return Err(Error::not_found(format!(
            "no compose project `{name}` on `{device}`"
        )));
    };
    let files: Vec<ProjectFile> = project
        .config_files
        .iter()
        .map(|path| match read_file(device, path) {
            Ok(content) => ProjectFile {
                path: path.clone(),
                content: Some(content),
                error: None,
            },
            Err(e) => ProjectFile {
                path: path.clone(),
                content: None,
                error: Some(e.to_string()),
            },
        })
        .collect();
    Ok(Json(ProjectDetail {
        device: device.to_owned(),
        project,
        files,
    })
    .into())
}
