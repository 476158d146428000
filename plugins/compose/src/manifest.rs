//! The compose plugin's manifest: routes, scripts and capabilities.

use infrastructor_sdk::HOSTNAME_PATTERN;
use infrastructor_sdk::prelude::*;

use crate::deploy::DeployRequest;
use crate::modify::ModifyRequest;
use crate::scan::{NetworkScanRequest, PortScanRequest};
use crate::stack::ModifyAndDeployRequest;
use crate::{cli, deploy, modify, projects, scan, stack};

fn device() -> Param {
    Param::path("device")
        .pattern(HOSTNAME_PATTERN)
        .description("A registered device's hostname")
}

/// The plugin.
pub fn app() -> App {
    App::new("compose", env!("CARGO_PKG_VERSION"))
        .description(
            "Docker compose stacks on managed hosts: adapt a file to a device, deploy it as a \
             job with validation, backup and rollback, scan ports and networks, SWAG confs, \
             adopt existing projects",
        )
        .mount("/compose")
        .capability("registry-read")
        .capability("storage")
        .capability("clock")
        .capability("exec:docker compose **")
        .capability("exec:docker-compose **")
        .capability("exec:docker ps **")
        .capability("exec:docker network **")
        .capability("exec:ss -tulpn")
        .capability("exec:netstat -tulpn")
        .capability("exec:mkdir **")
        .capability("exec:cat")
        .capability("exec:cp **")
        .capability("exec:mv **")
        .capability("exec:rm **")
        .capability("exec:test **")
        .capability("exec:head **")
        .script("detect", cli::DETECT, &["docker", "docker-compose"])
        .script("listeners", scan::LISTENERS, &["ss", "netstat"])
        // $1 the directory, $2 the temp file; the content arrives on stdin.
        .script(
            "write_temp",
            "umask 022; mkdir -p -- \"$1\" && cat > \"$2\"",
            &["mkdir", "cat"],
        )
        // $1 the destination, $2 the temp file, $3 the backup path ('' = no backup).
        .script(
            "replace",
            "if [ -n \"$3\" ] && [ -f \"$1\" ]; then cp -p -- \"$1\" \"$3\" || exit 3; echo backed-up; fi; \
             mv -f -- \"$2\" \"$1\"",
            &["cp", "mv"],
        )
        .script(
            "restore",
            "cp -p -- \"$2\" \"$1\"",
            &["cp"],
        )
        .script("discard", "rm -f -- \"$1\"", &["rm"])
        .script("exists", "test -e \"$1\"", &["test"])
        .script("read_compose", projects::READ_COMPOSE, &["head"])
        .route(
            Route::post("/modify", "modify")
.returns::<modify::ModifyResult>()
.error(404, "The device is not registered")
.error(400, "The compose YAML is invalid (line and column named)")
                .summary("Adapt a compose file to a device")
                .description(
                    "Appdata paths under the device's appdata directory, host ports that are \
                     taken (by a listener, a container or another service of the file) moved \
                     to free ones of the range after a real port scan, the services added to \
                     the device's network (kept where they were too; `network_mode` services \
                     untouched), and a SWAG subdomain conf per published service. Comments, \
                     key order, anchors and `${VAR}`s survive; `changes_applied` lists only \
                     real changes. Invalid YAML is 400 with its line and column.",
                )
                .body::<ModifyRequest>()
                .mutates(false),
            modify::handler,
        )
        .route(
            Route::post("/download-modified/{device}", "download_modified")
.returns_text("application/yaml", "The adapted compose file (`Content-Disposition: attachment; filename=\"compose.yaml\"`)")
.error(400, "The compose YAML is invalid (line and column named)")
.error(404, "No such device")
.remote()
                .summary("The adapted compose file, as YAML text")
                .param(device())
                .body::<ModifyRequest>()
                .mutates(false),
            modify::download,
        )
        .route(
            Route::get("/download-modified/{device}", "download_modified_project")
.returns_text("application/yaml", "The adapted compose file (`Content-Disposition: attachment; filename=\"compose.yaml\"`)")
.error(400, "The compose YAML is invalid (line and column named)")
.error(404, "No such device or project")
.remote()
                .summary("A compose project already on the device, adapted, as YAML text")
                .description(
                    "Reads the compose file of `project` (found from its containers' labels) \
                     and answers it adapted like `POST /modify` would, without writing anything.",
                )
                .param(device())
                .query::<crate::modify::DownloadQuery>(),
            modify::download_project,
        )
        .route(
            Route::post("/deploy", "deploy")
.returns::<deploy::DeployResult>()
.error(404, "The device is not registered")
.error(400, "The compose YAML or the deployment path is invalid")
.error(409, "The file exists and overwrite is off")
.remote()
                .summary("Deploy a compose file (a job)")
                .description(
                    "Written to a temp file beside the destination (through stdin), validated \
                     by compose on the device, then renamed over it after a timestamped backup; \
                     then stop, pull, up and ps. Each step is a progress step of the job. A \
                     failed step after the replace restores the backup and the previous stack \
                     (`rollback_on_failure`). The result has every step's exit status, timing \
                     and output; a failed deploy fails the job (422 when compose refused the \
                     file, 502 otherwise) and keeps that report.",
                )
                .long_running()
                .body::<DeployRequest>(),
            deploy::handler,
        )
        .route(
            Route::post("/modify-and-deploy", "modify_and_deploy")
.returns::<stack::ModifyAndDeployResult>()
.error(404, "The device is not registered")
.error(400, "The compose YAML or the deployment path is invalid")
.error(409, "The file exists and overwrite is off")
.remote()
                .summary("Adapt a compose file to a device, then deploy it (a job)")
                .description(
                    "Writes only to `deployment_path` or `<compose_root>/<project_name>/compose.yaml`; \
                     an existing file is replaced only with `overwrite: true` (409 otherwise).",
                )
                .long_running()
                .body::<ModifyAndDeployRequest>(),
            stack::handler,
        )
        .route(
            Route::post("/scan-ports", "scan_ports")
.returns::<scan::PortScanResult>()
.error(404, "The device is not registered")
.error(400, "The port range is invalid")
.remote()
                .summary("Ports in use on a device and the free ones of a range")
                .body::<PortScanRequest>()
                .mutates(false),
            scan::ports_handler,
        )
        .route(
            Route::post("/scan-networks", "scan_networks")
.returns::<scan::NetworkScanResult>()
.error(404, "The device is not registered")
.remote()
                .summary("Docker networks of a device, their containers, and the one to use")
                .body::<NetworkScanRequest>()
                .mutates(false),
            scan::networks_handler,
        )
        .route(
            Route::get("/proxy-configs/{device}/{service_name}", "proxy_config")
.returns::<modify::ProxyConfigView>()
.error(400, "The service name or upstream is invalid")
.error(404, "No such device")
.remote()
                .summary("A SWAG subdomain conf for one service")
                .param(device())
                .param(
                    Param::path("service_name")
                        .pattern("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
                        .description("The compose service"),
                )
                .param(
                    Param::query("upstream_port")
                        .integer()
                        .min(1.0)
                        .max(65535.0)
                        .required()
                        .description("The published host port SWAG proxies to"),
                )
                .param(
                    Param::query("upstream_proto")
                        .allowed(&["http", "https"])
                        .default("http"),
                ),
            modify::proxy_config,
        )
        .route(
            Route::get("/{device}/projects", "projects")
.returns::<projects::ProjectList>()
.remote()
                .summary("Compose projects on a device, from their containers' labels")
                .param(device()),
            projects::list_handler,
        )
        .route(
            Route::get("/{device}/projects/{project}", "project")
.returns::<projects::ProjectDetail>()
.error(400, "The project's compose file cannot be read")
.error(404, "No such project")
.remote()
                .summary("One compose project and its compose files")
                .param(device())
                .param(
                    Param::path("project")
                        .pattern("^[a-z0-9][a-z0-9_-]{0,62}$")
                        .description("The project name"),
                ),
            projects::get_handler,
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn manifest_is_valid() {
        if let Err(problems) = super::app().validate() {
            panic!("{problems:#?}");
        }
    }

    #[test]
    fn every_mounted_route_declares_its_success_response() {
        assert_eq!(super::app().untyped_routes(), Vec::<String>::new());
    }
}
