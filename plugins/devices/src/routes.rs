//! The devices plugin's manifest: routes, scripts, parsers, collectors and capabilities.

use infrastructor_sdk::prelude::*;

use crate::registry_routes::{self as reg, DEVICE_TYPES, HOSTNAME_PATTERN, STATUSES};
use crate::{metrics, ports};

fn hostname() -> Param {
    Param::path("hostname")
        .pattern(HOSTNAME_PATTERN)
        .description("A registered device's hostname")
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
            .step(metrics::step()),
        )
        .route(
            Route::post("", "create_device")
                .summary("Register a device")
                .description(
                    "Registers a device (hostname lower-cased). No SSH runs on this path: the \
                     connectivity probe runs on `/status` and in the poller. 409 when the \
                     hostname exists.",
                )
                .body_schema(reg::create_schema())
                .status(201),
            reg::create,
        )
        .route(
            Route::get("", "list_devices")
                .summary("List devices")
                .description("Devices ordered by hostname, filtered and paginated.")
                .param(Param::query("page").integer().min(1.0).default("1"))
                .param(
                    Param::query("page_size")
                        .integer()
                        .min(1.0)
                        .max(1000.0)
                        .default("50"),
                )
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
                .summary("Get a device")
                .param(hostname()),
            reg::get,
        )
        .route(
            Route::put("/{hostname}", "update_device")
                .summary("Update a device")
                .description(
                    "Only the sent fields change; `null` clears a nullable field. Renaming onto \
                     an existing hostname is 409.",
                )
                .param(hostname())
                .body_schema(reg::update_schema()),
            reg::update,
        )
        .route(
            Route::delete("/{hostname}", "delete_device")
                .summary("Delete a device and its history")
                .param(hostname()),
            reg::delete,
        )
        .route(
            Route::get("/{hostname}/summary", "device_summary")
                .summary("Device summary from the database")
                .param(hostname()),
            reg::summary,
        )
        .route(
            Route::get("/{hostname}/status", "device_status")
                .summary("Connectivity status")
                .description(
                    "With `test_connectivity` (default) a live SSH probe measures the response \
                     time and writes the status back when it changed; otherwise the stored \
                     status.",
                )
                .param(hostname())
                .param(Param::query("test_connectivity").boolean().default("true")),
            reg::status,
        )
        .route(
            Route::get("/{hostname}/metrics", "device_metrics")
                .summary("System metrics over SSH")
                .description(
                    "CPU % (two /proc/stat samples), memory, load, uptime, process count, \
                     network counters and filesystems in bytes, in one SSH round trip. `live` \
                     forces a new collection; `history=N` returns the N newest persisted samples \
                     (the poller records one every 5 minutes when enabled).",
                )
                .param(hostname())
                .param(Param::query("live").boolean().default("false"))
                .param(Param::query("history").integer().min(1.0).max(10000.0))
                .param(Param::query("include_processes").boolean().default("false"))
                .param(
                    Param::query("timeout")
                        .integer()
                        .min(1.0)
                        .max(600.0)
                        .default("60"),
                ),
            metrics::handler,
        )
        .route(
            Route::get("/{hostname}/ports", "device_ports")
                .summary("Listening ports")
                .description(
                    "Listening TCP and UDP sockets from `ss -tulpn` (netstat when ss is missing), \
                     with process names and PIDs when the SSH user may see them.",
                )
                .param(hostname())
                .param(
                    Param::query("timeout")
                        .integer()
                        .min(1.0)
                        .max(600.0)
                        .default("30"),
                ),
            ports::handler,
        )
        .route(
            Route::post("/jobs/probe", "probe_device")
                .summary("Background connectivity probe (internal job)")
                .body_schema(reg::probe_schema())
                .internal(),
            reg::probe_job,
        )
}
