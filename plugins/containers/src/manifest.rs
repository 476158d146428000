//! The containers plugin's manifest: routes, parsers, the poller collector and capabilities.

use infrastructor_sdk::prelude::*;

use crate::docker::{STATES, TIME_PATTERN};
use crate::parse::names::CONTAINER_REF_PATTERN;
use crate::{exec, inventory, lifecycle, logs, stats};

fn hostname() -> Param {
    Param::hostname("A registered device's hostname, or a host reached with the SSH defaults")
}

fn container() -> Param {
    Param::path("container")
        .pattern(CONTAINER_REF_PATTERN)
        .description("Container name or id")
}

/// The plugin.
pub fn app() -> App {
    App::new("containers", env!("CARGO_PKG_VERSION"))
        .description(
            "Docker containers on managed hosts: inventory, inspect, logs, lifecycle, stats, exec",
        )
        .mount("/containers")
        .capability("collector")
        .capability("storage")
        .capability("exec:docker ps **")
        .capability("exec:docker inspect **")
        .capability("exec:docker logs **")
        .capability("exec:docker start **")
        .capability("exec:docker stop **")
        .capability("exec:docker kill **")
        .capability("exec:docker restart **")
        .capability("exec:docker rm **")
        .capability("exec:docker stats **")
        .capability("exec:docker exec **")
        .typed_parser(inventory::CONTAINERS, inventory::parse_list)
        .parser(inventory::CONTAINER_INFO, inventory::parse_info)
        .parser(logs::CONTAINER_LOGS, logs::parse)
        .parser(stats::CONTAINER_STATS, stats::parse)
        .collector(
            Collector::new(
                "containers",
                inventory::CONTAINERS,
                Duration::from_secs(60),
                inventory::CONTAINERS,
            )
            .step(inventory::list_step()),
        )
        .route(
            Route::get("", "list_all_containers")
.returns::<inventory::ContainerPage>()
                .summary("Containers of every device (from the database)")
                .description(
                    "The newest container list of every device, as written by live lists and \
                     the poller's `containers` collector, filtered by container state and \
                     device, ordered by device then name. `last_updated` says how old each \
                     entry is.",
                )
                .param(
                    Param::query("status")
                        .allowed(STATES)
                        .description("container state"),
                )
                .param(Param::query("device_hostname").pattern(infrastructor_sdk::HOSTNAME_PATTERN))
                .paginated(),
            inventory::list_all,
        )
        .route(
            Route::get("/{hostname}", "list_containers")
                .cacheable()
.returns::<inventory::ListBody<'static>>()
.remote()
                .summary("Containers on a host")
                .description(
                    "`docker ps -a` through the collector (cached 15 s; `live` forces a run; \
                     concurrent requests share one run), filtered by `status` (the container \
                     state) and `all_containers`, paged by `limit`/`offset`. Each container has \
                     docker's fields plus `ports` as a list, `labels` as an object, the compose \
                     project/service and `created` as RFC 3339.",
                )
                .param(hostname())
                .param(Param::query("status").allowed(STATES))
                .param(Param::flag("all_containers", true))
                .param(Param::query("limit").integer().min(1.0).max(1000.0))
                .param(
                    Param::query("offset")
                        .integer()
                        .min(0.0)
                        .max(1_000_000.0)
                        .default("0"),
                )
                .param(Param::flag("live", false))
                .param(Param::timeout(60)),
            inventory::list_device,
        )
        .route(
            Route::get("/{hostname}/stats", "host_container_stats")
                .cacheable()
.returns::<stats::HostStats>()
.remote()
                .summary("Resource usage of every container on a host")
                .description(
                    "One `docker stats --no-stream` run for all containers (`all=true` adds \
                     stopped ones): docker's strings plus CPU %, memory bytes and %, network \
                     and block I/O bytes and PIDs as numbers.",
                )
                .param(hostname())
                .query::<stats::HostStatsQuery>(),
            stats::host,
        )
        .route(
            Route::get("/{hostname}/{container}", "inspect_container")
                .cacheable()
.returns::<inventory::ContainerInfo>()
.error(404, "No such container")
.remote()
                .summary("Inspect a container")
                .description("`docker inspect`; 404 when the container does not exist.")
                .param(hostname())
                .param(container())
                .param(Param::flag("live", false))
                .param(Param::timeout(60)),
            inventory::inspect,
        )
        .route(
            Route::get("/{hostname}/{container}/logs", "container_logs")
.returns::<logs::ContainerLogs>()
.event_stream()
.error(400, "docker refused an option value")
.error(404, "No such container")
.remote()
                .summary("Container logs")
                .description(
                    "`docker logs` with `since`/`until` (RFC 3339, Unix time or a duration \
                     such as 10m), `tail` and `timestamps`. stdout and stderr come back apart \
                     and merged in time order, each line tagged. `follow=true` streams \
                     Server-Sent Events (stdout lines as `data:`, stderr as `event: stderr`, \
                     then `end`) until the client disconnects, which stops the remote \
                     `docker logs -f`.",
                )
                .param(hostname())
                .param(container())
                .param(Param::query("since").pattern(TIME_PATTERN))
                .param(Param::query("until").pattern(TIME_PATTERN))
                .param(
                    Param::query("tail")
                        .integer()
                        .min(1.0)
                        .max(10000.0)
                        .default("100"),
                )
                .param(Param::flag("timestamps", true))
                .param(Param::flag("follow", false))
                .param(Param::flag("live", false))
                .param(Param::timeout(60)),
            logs::handler,
        )
        .route(
            Route::post("/{hostname}/{container}/start", "start_container")
.returns::<lifecycle::ActionResult>()
.error(400, "docker refused an option value")
.error(404, "No such container")
.remote()
                .summary("Start a container")
                .description(
                    "200 with the new state; an already running container is not an error.",
                )
                .param(hostname())
                .param(container())
                .param(Param::timeout(60)),
            lifecycle::start,
        )
        .route(
            Route::post("/{hostname}/{container}/stop", "stop_container")
.returns::<lifecycle::ActionResult>()
.error(400, "docker refused an option value")
.error(404, "No such container")
.remote()
                .summary("Stop (or kill) a container")
                .description(
                    "`docker stop -t timeout`, or `docker kill` with `force`. 200 with the new \
                     state; an already stopped container is not an error.",
                )
                .param(hostname())
                .param(container())
                .param(
                    Param::query("timeout")
                        .integer()
                        .min(0.0)
                        .max(3600.0)
                        .default("10"),
                )
                .param(Param::flag("force", false))
                .param(Param::seconds("ssh_timeout", 60, 3600)),
            lifecycle::stop,
        )
        .route(
            Route::post("/{hostname}/{container}/restart", "restart_container")
.returns::<lifecycle::ActionResult>()
.error(400, "docker refused an option value")
.error(404, "No such container")
.remote()
                .summary("Restart a container")
                .param(hostname())
                .param(container())
                .param(
                    Param::query("timeout")
                        .integer()
                        .min(0.0)
                        .max(3600.0)
                        .default("10"),
                )
                .param(Param::seconds("ssh_timeout", 60, 3600)),
            lifecycle::restart,
        )
        .route(
            Route::delete("/{hostname}/{container}", "remove_container")
.returns::<lifecycle::ActionResult>()
.error(400, "docker refused an option value")
.error(404, "No such container")
.remote()
                .summary("Remove a container")
                .description("`docker rm`, with `force` (a running one) and `remove_volumes`.")
                .param(hostname())
                .param(container())
                .param(Param::flag("force", false))
                .param(Param::flag("remove_volumes", false))
                .param(Param::timeout(60)),
            lifecycle::remove,
        )
        .route(
            Route::get("/{hostname}/{container}/stats", "container_stats")
                .cacheable()
.returns::<stats::ContainerStatsView>()
.error(404, "No such container, or it is not running")
.remote()
                .summary("Resource usage of a container")
                .param(hostname())
                .param(container())
                .param(Param::flag("live", false))
                .param(Param::timeout(30)),
            stats::container,
        )
        .route(
            Route::post("/{hostname}/{container}/exec", "exec_in_container")
.returns::<exec::ExecResult>()
.error(400, "No command, a command that does not split, or exit 126/127 (not executable, not found)")
.error(404, "No such container, or it is not running (exit 125)")
.remote()
                .summary("Run a command in a container")
                .description(
                    "`docker exec` with the command as argv: a JSON array `command` in the \
                     body, or the `command` query split with shell-word rules; never through \
                     a shell. Exit 125 → 404 (container missing or not running), 126/127 → \
                     400, other non-zero → 200 with `success: false` and `exit_code`.",
                )
                .param(hostname())
                .param(container())
                .param(Param::query("command").max_len(8192))
                .param(Param::query("user").pattern(exec::USER_PATTERN))
                .param(Param::query("workdir").pattern("^/.{0,1023}$"))
                .param(Param::seconds("timeout", 60, 3600))
                .body::<exec::ExecBody>(),
            exec::handler,
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::ParamKind;

    #[test]
    fn every_mounted_route_declares_its_success_response() {
        assert_eq!(app().untyped_routes(), Vec::<String>::new());
    }

    #[test]
    fn the_manifest_is_valid_and_typed_queries_declare_their_params() {
        assert_eq!(app().validate(), Ok(()));
        let route = app()
            .route_by_id("host_container_stats")
            .expect("route")
            .model();
        let by = |n: &str| {
            route
                .params
                .iter()
                .find(|p| p.name == n)
                .unwrap_or_else(|| panic!("{n}"))
                .clone()
        };
        for flag in ["all", "live"] {
            let p = by(flag);
            assert_eq!(p.kind, ParamKind::Boolean, "{flag}");
            assert_eq!(p.default.as_deref(), Some("false"), "{flag}");
        }
        let t = by("timeout");
        assert_eq!(t.kind, ParamKind::Integer);
        assert_eq!((t.minimum, t.maximum), (Some(1.0), Some(600.0)));
        assert_eq!(t.default.as_deref(), Some("60"));
    }
}
