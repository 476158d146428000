//! The devices plugin's manifest: routes, scripts, parsers, collectors and capabilities.

use infrastructor_sdk::prelude::*;

use crate::crud as reg;
use crate::device::{DEVICE_TYPES, STATUSES};
use crate::{analyze, drive_stats, drives, import, logs, metrics, ports, views};

fn hostname() -> Param {
    Param::hostname("A registered device's hostname")
}

/// The plugin.
pub fn app() -> App {
    App::new("devices", env!("CARGO_PKG_VERSION"))
        .description("Device registry, connectivity status and host facts")
        .mount("/devices")
        .capability("registry-write")
        .capability("exec:true")
        .capability("exec:cat **")
        .capability("exec:df **")
        .capability("exec:sleep *")
        .capability("collector")
        .capability("storage")
        .capability("clock")
        .capability("exec:ss **")
        .capability("exec:netstat **")
        // Programs the constant scripts run. Patterns without wildcards allow no ad-hoc
        // command beyond the bare program; the scripts themselves are fixed in this manifest.
        .capability("exec:lsblk **")
        .capability("exec:smartctl **")
        .capability("exec:sudo -n smartctl **")
        .capability("exec:id")
        .capability("exec:journalctl **")
        .capability("exec:find")
        .capability("exec:head")
        .capability("exec:grep")
        .capability("exec:timeout")
        .capability("exec:uname **")
        .capability("exec:docker version **")
        .capability("exec:docker ps **")
        .capability("exec:zpool list **")
        .capability("exec:virsh list **")
        .capability("exec:lspci")
        .capability("read-dir:import_dir")
        .script(drives::SCRIPT, drives::SCRIPT_BODY, drives::SCRIPT_PROGRAMS)
        .script(
            drive_stats::SCRIPT,
            drive_stats::SCRIPT_BODY,
            drive_stats::SCRIPT_PROGRAMS,
        )
        .script(logs::SCRIPT, logs::SCRIPT_BODY, logs::SCRIPT_PROGRAMS)
        .script(
            analyze::SCRIPT,
            analyze::SCRIPT_BODY,
            analyze::SCRIPT_PROGRAMS,
        )
        .parser(drives::DATA_TYPE, drives::parse)
        .parser(drive_stats::DATA_TYPE, drive_stats::parse)
        .parser(analyze::DATA_TYPE, analyze::parse)
        .script(ports::SCRIPT, ports::SCRIPT_BODY, ports::SCRIPT_PROGRAMS)
        .script(
            metrics::SCRIPT,
            metrics::SCRIPT_BODY,
            metrics::SCRIPT_PROGRAMS,
        )
        .parser(metrics::DATA_TYPE, metrics::parse)
        .collector(
            Collector::new(
                "metrics",
                metrics::DATA_TYPE,
                Duration::from_secs(300),
                metrics::DATA_TYPE,
            )
            .step(metrics::step(metrics::STEP_TIMEOUT)),
        )
        .route(
            Route::post("", "create_device")
.returns::<views::DeviceView>()
.error(400, "`ip_address` is not an IP address or host name")
.error(409, "The hostname is registered already")
                .summary("Register a device")
                .description(
                    "Registers a device (hostname lower-cased). No SSH runs on this path: the \
                     connectivity probe runs on `/status` and in the poller. 409 when the \
                     hostname exists.",
                )
                .body_schema_fn(reg::create_schema)
                .status(201),
            reg::create,
        )
        .route(
            Route::get("", "list_devices")
.returns::<views::DeviceList>()
                .summary("List devices")
                .description("Devices ordered by hostname, filtered and paginated.")
                .paginated()
                .param(Param::query("device_type").allowed(DEVICE_TYPES))
                .param(Param::query("status").allowed(STATUSES))
                .param(Param::query("monitoring_enabled").boolean())
                .param(
                    Param::query("location")
                        .max_len(255)
                        .description("case-insensitive substring"),
                )
                .param(
                    Param::query("search")
                        .max_len(255)
                        .description("case-insensitive substring of hostname or description"),
                ),
            reg::list,
        )
        .route(
            Route::get("/{hostname}", "get_device")
.returns::<views::DeviceView>()
.error(404, "No such device")
                .summary("Get a device")
                .param(hostname()),
            reg::get,
        )
        .route(
            Route::put("/{hostname}", "update_device")
.returns::<views::DeviceView>()
.error(400, "`ip_address` is not an IP address or host name")
.error(404, "No such device")
.error(409, "Renaming onto a registered hostname")
                .summary("Update a device")
                .description(
                    "Only the sent fields change; `null` clears a nullable field. Renaming onto \
                     an existing hostname is 409.",
                )
                .param(hostname())
                .body_schema_fn(reg::update_schema),
            reg::update,
        )
        .route(
            Route::delete("/{hostname}", "delete_device")
.returns::<views::DeleteResult>()
.error(404, "No such device")
                .summary("Delete a device and its history")
                .description(
                    "Removes the device with its snapshots, collection audit and plugin \
                     records. Needs an `admin` key: the history cannot be brought back.",
                )
                .scope(Scope::Admin)
                .param(hostname()),
            reg::delete,
        )
        .route(
            Route::get("/{hostname}/summary", "device_summary")
.returns::<views::DeviceSummary>()
.error(404, "No such device")
                .summary("Device summary from the database")
                .param(hostname()),
            reg::summary,
        )
        .route(
            Route::get("/{hostname}/status", "device_status")
.returns::<views::Connectivity>()
.error(404, "No such device")
.remote()
                .summary("Connectivity status")
                .description(
                    "With `test_connectivity` (default) a live SSH probe measures the response \
                     time and writes the status back when it changed; otherwise the stored \
                     status.",
                )
                .param(hostname())
                .query::<reg::StatusQuery>(),
            reg::status,
        )
        .route(
            Route::get("/{hostname}/metrics", "device_metrics")
.returns::<metrics::MetricsAnswer>()
.error(404, "No such device, or no history of it")
.remote()
                .summary("System metrics over SSH")
                .description(
                    "CPU % (two /proc/stat samples), memory, load, uptime, process count, \
                     network counters and filesystems in bytes, in one SSH round trip. `live` \
                     forces a new collection; `history=N` returns the N newest persisted samples \
                     (the poller records one every 5 minutes when enabled).",
                )
                .param(hostname())
                .param(Param::flag("live", false))
                .param(Param::query("history").integer().min(1.0).max(10000.0))
                .param(Param::flag("include_processes", false))
                .param(Param::timeout(60)),
            metrics::handler,
        )
        .route(
            Route::get("/{hostname}/ports", "device_ports")
.returns::<ports::PortsView>()
.error(404, "No such device")
.remote()
                .summary("Listening ports")
                .description(
                    "Listening TCP and UDP sockets from `ss -tulpn` (netstat when ss is missing), \
                     with process names and PIDs when the SSH user may see them.",
                )
                .param(hostname())
                .param(Param::timeout(30)),
            ports::handler,
        )
        .route(
            Route::get("/{hostname}/drives", "device_drives")
.returns::<drives::DrivesAnswer>()
.error(400, "`drive` is not a disk name")
.error(404, "No such device or drive")
.remote()
                .summary("Drive health (SMART)")
                .description(
                    "Whole disks from `lsblk -J` and `smartctl -j -a` for each (text `smartctl \
                     -a` on smartctl < 7), in one SSH round trip. Health is `passed`, `failed` \
                     or `unavailable` (no SMART data: virtual disks, no permission, no \
                     smartctl), never `failed` for a disk without SMART. Cached for 60 s \
                     (`live=true` forces a run) and persisted as the `drive_health` series. \
                     On WSL the status is `skipped_wsl`.",
                )
                .param(hostname())
                .param(
                    Param::query("drive")
                        .pattern(drives::DRIVE_PATTERN)
                        .description("one disk: sda, /dev/nvme0n1, vdb, mmcblk0…"),
                )
                .param(Param::flag("live", false))
                .param(Param::timeout(120)),
            drives::handler,
        )
        .route(
            Route::get("/{hostname}/drives/stats", "device_drive_stats")
.returns::<drive_stats::DriveStatsAnswer>()
.error(404, "No such device or drive")
.remote()
                .summary("Drive I/O counters and filesystem usage")
                .description(
                    "`/proc/diskstats` counters (bytes read/written, I/O times) per disk and \
                     its partitions, and `df` usage in bytes of every filesystem mounted from \
                     it (through partitions, LVM and dm-crypt), in one SSH round trip.",
                )
                .param(hostname())
                .param(
                    Param::query("drive")
                        .pattern(drives::DRIVE_PATTERN)
                        .description("one disk: sda, /dev/nvme0n1…"),
                )
                .param(Param::flag("live", false))
                .param(Param::timeout(60)),
            drive_stats::handler,
        )
        .route(
            Route::get("/{hostname}/logs", "device_logs")
.returns::<logs::JournalLogs>()
.error(400, "`since` is not a time journalctl understands")
.error(404, "No such device")
.remote()
                .summary("System journal")
                .description(
                    "`journalctl -o json`, newest `lines` entries, optionally of one `service` \
                     unit, since a time (`30m`, `1h`, `2d`, `1w`, `YYYY-MM-DD[ HH:MM[:SS]]`, \
                     `today`, `yesterday`) and at or above a `priority`. Values reach \
                     journalctl as single `--option=value` arguments, never through a shell. \
                     A host without a journal answers `status: unavailable` with the reason.",
                )
                .param(hostname())
                .param(
                    Param::query("service")
                        .pattern(logs::SERVICE_PATTERN)
                        .description("a systemd unit: nginx, ssh.service, getty@tty1.service"),
                )
                .param(
                    Param::query("since")
                        .pattern(logs::SINCE_PATTERN)
                        .description("30m, 1h, 2d, 1w, YYYY-MM-DD[ HH:MM[:SS]], today, yesterday"),
                )
                .param(Param::query("priority").allowed(logs::PRIORITIES))
                .param(
                    Param::query("lines")
                        .integer()
                        .min(1.0)
                        .max(10000.0)
                        .default("100"),
                )
                .param(Param::timeout(60)),
            logs::handler,
        )
        .route(
            Route::post("/import", "import_devices")
.returns::<import::ImportReport>()
.error(400, "The ssh_config cannot be read or parsed, or its path is outside the import directory")
.error(404, "`ssh_config_path` names no file in the import directory")
                .summary("Import devices from an ssh_config")
                .description(
                    "Registers every concrete `Host` alias of an OpenSSH client configuration \
                     (text in `ssh_config`, or `ssh_config_path` inside \
                     `plugins.devices.config.import_dir`). The alias is the hostname, \
                     `HostName` the address; `Port`, `User`, `IdentityFile` are kept. \
                     Wildcard hosts are skipped, first match wins, `Include` resolves inside \
                     the import directory, `Match` blocks are skipped with a warning. \
                     `dry_run` answers would_create/would_update (with the diff)/would_skip; \
                     `update_existing=false` leaves existing devices alone. Nothing is written \
                     when the file cannot be read or parsed.",
                )
                .body_schema_fn(import::schema),
            import::handler,
        )
        .route(
            Route::post("/{hostname}/analyze", "analyze_device")
.returns::<analyze::AnalyzeAnswer>()
.error(404, "No such device")
.remote()
                .summary("Analyse a device's capabilities")
                .description(
                    "Finds OS, kernel, CPU, memory, Docker (version, containers), compose \
                     files, appdata directories, SWAG, ZFS pools, libvirt VMs and GPUs in one \
                     SSH round trip and merges the capability tags (`docker`, `zfs`, `swag`, \
                     `swag_running`, `vms`, `gpu`, `docker_compose_path`…) into the device's \
                     tags. Also runs in the background after a device is created.",
                )
                .param(hostname()),
            analyze::handler,
        )
        .route(
            Route::post("/jobs/probe", "probe_device")
                .summary("Background connectivity probe (internal job)")
                .body::<reg::ProbeJob>()
                .internal(),
            reg::probe_job,
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
        let route = app().route_by_id("device_status").expect("route").model();
        let p = route
            .params
            .iter()
            .find(|p| p.name == "test_connectivity")
            .expect("declared from StatusQuery");
        assert_eq!(p.kind, ParamKind::Boolean);
        assert_eq!(p.default.as_deref(), Some("true"));
        assert!(!p.description.is_empty());
    }
}
