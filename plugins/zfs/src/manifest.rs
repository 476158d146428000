//! The zfs plugin's manifest: routes, scripts and capabilities.

use infrastructor_sdk::prelude::*;

use crate::datasets::DatasetsQuery;
use crate::names::{DATASET_PATTERN, POOL_PATTERN, SNAPSHOT_PATTERN};
use crate::scrub::ScrubQuery;
use crate::snapshots::{CloneRequest, CreateRequest, DestroyQuery, DiffQuery, SnapshotsQuery};
use crate::transfer::{ReceiveQuery, SendRequest};
use crate::{datasets, health, pools, report, scrub, snapshots, tools, transfer};

fn host() -> Param {
    Param::hostname("A registered device, or a raw host reached with the configured defaults")
}

fn pool() -> Param {
    Param::path("pool_name")
        .pattern(POOL_PATTERN)
        .max_len(255)
        .description("The pool")
}

fn snapshot() -> Param {
    Param::path("snapshot")
        .pattern(SNAPSHOT_PATTERN)
        .max_len(255)
        .description("The full snapshot name, `dataset@name`, percent-encoded (`tank%2Fapp@daily`)")
}

/// The plugin.
pub fn app() -> App {
    App::new("zfs", env!("CARGO_PKG_VERSION"))
        .description(
            "ZFS on managed hosts: pools, datasets, properties, snapshots and clones, \
             streamed send/receive between devices, diff, health, scrub, ARC, events, \
             report, snapshot usage and optimisation advice",
        )
        .mount("/zfs")
        .capability("storage")
        .capability("clock")
        .capability("exec:zpool **")
        .capability("exec:zfs **")
        .capability("exec:cat /proc/spl/kstat/zfs/arcstats")
        .capability("exec:head **")
        .capability("exec:sleep *")
        .capability("exec:journalctl **")
        .capability("exec:dmesg")
        .capability("exec:grep **")
        .capability("exec:tail **")
        .script("detect", tools::DETECT, &["zfs", "head", "cat"])
        .script("events", health::EVENTS, &["zpool", "journalctl", "dmesg", "grep", "tail"])
        .script("arcstats", health::ARCSTATS, &["cat"])
        .script("report", report::REPORT, &["zpool", "zfs", "cat"])
        .script("wait_status", scrub::WAIT_STATUS, &["sleep", "zpool"])
        .route(
            Route::get("/{hostname}/pools", "list_pools")
.returns::<pools::PoolList>()
.remote()
                .summary("Pools with exact sizes, capacity, fragmentation, dedup ratio, health")
                .param(host()),
            pools::list,
        )
        .route(
            Route::get("/{hostname}/pools/{pool_name}/status", "pool_status")
.returns::<pools::PoolStatusView>()
.error(404, "No such pool")
.remote()
                .summary("A pool's status as a tree (state, scan, vdevs with error counts, errors) and its properties")
                .param(host())
                .param(pool()),
            pools::status,
        )
        .route(
            Route::post("/{hostname}/pools/{pool_name}/scrub", "start_scrub")
.returns::<scrub::ScrubResult>()
.error(404, "No such pool")
.error(409, "A scrub is running already")
.remote()
                .summary("Start a scrub and follow it to its end (a job); `stop=true` stops it")
                .description(
                    "The job's progress is the scrub's percentage; cancelling the job stops \
                     following, not the scrub (stop it with `stop=true`).",
                )
                .param(host())
                .param(pool())
                .query::<ScrubQuery>()
                .long_running(),
            scrub::start,
        )
        .route(
            Route::get("/{hostname}/pools/{pool_name}/scrub", "scrub_status")
.returns::<scrub::ScrubStatus>()
.error(404, "No such pool")
.remote()
                .summary("A pool's scrub or resilver: state, progress, errors, last completion")
                .param(host())
                .param(pool()),
            scrub::get,
        )
        .route(
            Route::get("/{hostname}/datasets", "list_datasets")
.returns::<datasets::DatasetList>()
.error(404, "No such pool or dataset")
.remote()
                .summary("Filesystems and volumes with exact sizes and their main properties")
                .param(host())
                .query::<DatasetsQuery>(),
            datasets::list,
        )
        .route(
            Route::get("/{hostname}/datasets/{dataset_name}/properties", "dataset_properties")
.returns::<datasets::DatasetProperties>()
.error(404, "No such dataset")
.remote()
                .summary("Every property of a dataset with its source")
                .param(host())
                .param(
                    Param::path("dataset_name")
                        .pattern(DATASET_PATTERN)
                        .max_len(255)
                        .description("The dataset, percent-encoded (`tank%2Fapp`)"),
                ),
            datasets::properties,
        )
        .route(
            Route::get("/{hostname}/snapshots", "list_snapshots")
.returns::<snapshots::SnapshotList>()
.error(404, "No such pool or dataset")
.remote()
                .summary("Snapshots with exact sizes and creation times")
                .param(host())
                .query::<SnapshotsQuery>(),
            snapshots::list,
        )
        .route(
            Route::post("/{hostname}/snapshots", "create_snapshot")
.returns::<snapshots::SnapshotCreated>()
.error(400, "Not a dataset or snapshot name")
.error(404, "No such dataset")
.error(409, "The snapshot exists already")
.remote()
                .summary("Take a snapshot (optionally of every child dataset)")
                .param(host())
                .body::<CreateRequest>()
                .status(201),
            snapshots::create,
        )
        .route(
            Route::get("/{hostname}/snapshots/usage", "snapshot_usage")
.returns::<snapshots::SnapshotUsage>()
.error(404, "No such pool or dataset")
.remote()
                .summary("Snapshots by dataset, the largest, the oldest, cleanup advice")
                .param(host()),
            snapshots::usage_handler,
        )
        .route(
            Route::delete("/{hostname}/snapshots/{snapshot}", "destroy_snapshot")
.returns::<snapshots::SnapshotDestroyed>()
.error(400, "Not a snapshot name")
.error(404, "No such snapshot")
.error(409, "The snapshot has dependent clones or holds")
.remote()
                .summary("Destroy a snapshot")
                .param(host())
                .param(snapshot())
                .query::<DestroyQuery>(),
            snapshots::destroy,
        )
        .route(
            Route::post("/{hostname}/snapshots/{snapshot}/clone", "clone_snapshot")
.returns::<snapshots::SnapshotCloned>()
.error(400, "Not a snapshot or dataset name")
.error(404, "No such snapshot")
.error(409, "The clone's name is taken")
.remote()
                .summary("Clone a snapshot into a new dataset")
                .param(host())
                .param(snapshot())
                .body::<CloneRequest>()
                .status(201),
            snapshots::clone,
        )
        .route(
            Route::post("/{hostname}/snapshots/{snapshot}/send", "send_snapshot")
.returns::<transfer::SendReport>()
.error(400, "Not a snapshot or dataset name, or an incremental base after the snapshot")
.error(404, "No such snapshot or target device")
.error(409, "The target dataset exists")
.remote()
                .summary("Send a snapshot into a dataset of another device (a job)")
                .description(
                    "`zfs send [-i base] snap` on this device streams into `zfs receive [-F] \
                     dataset` on the destination through the server, never held in memory; \
                     the job's progress is bytes sent against `zfs send -nvP`'s estimate. \
                     Cancelling the job kills both ends.",
                )
                .param(host())
                .param(snapshot())
                .body::<SendRequest>()
                .long_running(),
            transfer::send,
        )
        .route(
            Route::post("/{hostname}/receive", "receive_snapshot")
.returns::<transfer::Received>()
.error(400, "Not a dataset name, or not a send stream")
.error(404, "No such pool")
.error(409, "The target dataset exists")
.remote()
                .summary("Receive a `zfs send` stream from the request body into a dataset")
                .description("The body is streamed into `zfs receive` as it arrives.")
                .param(host())
                .query::<ReceiveQuery>()
                .stream_body(),
            transfer::receive,
        )
        .route(
            Route::get("/{hostname}/snapshots/{snapshot}/diff", "diff_snapshot")
.returns::<snapshots::SnapshotDiff>()
.error(400, "Not a snapshot name")
.error(404, "No such snapshot")
.remote()
                .summary("Files changed between a snapshot and a later one (`zfs diff`)")
                .param(host())
                .param(snapshot())
                .query::<DiffQuery>(),
            snapshots::diff,
        )
        .route(
            Route::get("/{hostname}/health", "zfs_health")
.returns::<health::Health>()
.error(404, "No ZFS on the host")
.remote()
                .summary("Every pool's state and errors, and the overall health")
                .param(host()),
            health::health,
        )
        .route(
            Route::get("/{hostname}/arc-stats", "arc_stats")
.returns::<health::ArcStatsView>()
.error(404, "No ARC statistics on the host")
.remote()
                .summary("ARC statistics: size, target, hit ratio")
                .param(host()),
            health::arc,
        )
        .route(
            Route::get("/{hostname}/events", "zfs_events")
.returns::<health::EventList>()
.remote()
                .summary("ZFS events: `zpool events -v`, else the kernel journal, else dmesg")
                .param(host()),
            health::events,
        )
        .route(
            Route::get("/{hostname}/report", "zfs_report")
.returns::<report::ReportView>()
.remote()
                .summary("Pools, status, datasets, snapshots and ARC from one batched run")
                .param(host()),
            report::report,
        )
        .route(
            Route::get("/{hostname}/optimize", "zfs_optimize")
.returns::<report::OptimizeView>()
.remote()
                .summary("Advice: ARC hit ratio, capacity, fragmentation, compression, atime, dedup, old snapshots")
                .param(host()),
            report::optimize,
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
