//! Resource usage from `docker stats --no-stream --format '{{json .}}'`: docker's strings
//! plus numbers (CPU %, memory used/limit bytes, memory %, network and block I/O bytes,
//! PIDs). All containers of a host come from ONE docker run.

use infrastructor_sdk::prelude::*;
use serde::{Deserialize, Serialize};

use crate::docker::failure;
use crate::parse::stats::{ContainerStats, parse_stats};

/// One container's resource usage (`GET /{hostname}/{container}/stats`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContainerStatsView {
    /// The device.
    pub hostname: String,
    /// The container as named in the path.
    pub container_name: String,
    /// Its usage: docker's strings and the numbers parsed from them.
    #[schemars(with = "ContainerStats")]
    pub stats: Value,
    /// RFC 3339 time the stats were collected.
    pub timestamp: String,
    /// How the stats were collected.
    pub collection_metadata: CollectionMetadata,
}

/// Every container's resource usage on a host (`GET /{hostname}/stats`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct HostStats {
    /// Each container's usage: docker's strings and the numbers parsed from them.
    #[schemars(with = "Vec<ContainerStats>")]
    pub stats: Value,
    /// RFC 3339 time the stats were collected.
    pub timestamp: String,
    /// How the stats were collected.
    pub collection_metadata: CollectionMetadata,
    /// The device.
    pub hostname: String,
    /// How many containers there are.
    pub container_count: usize,
}

/// Data type of one container's stats.
pub const CONTAINER_STATS: &str = "container_stats";

/// Data type of a host's all-container stats.
pub const HOST_STATS: &str = "containers_stats";

/// Parser for both data types: `{stats: [...]}`.
pub fn parse(outputs: &[StepOutput], args: &Value) -> Result<Value, Error> {
    let out = StepOutput::find(outputs, "stats")?;
    let name = args["container"].as_str().unwrap_or("");
    if out.exit_code != 0 {
        return Err(failure("stats", name, out.exit_code, &out.stderr_str()));
    }
    let stats = parse_stats(&out.stdout_str()).map_err(|e| Error::upstream(e.to_string()))?;
    Ok(json!({ "stats": stats }))
}

/// `GET /{hostname}/{container}/stats`.
pub fn container(req: &Request) -> Result<Response, Error> {
    let hostname = req.path("hostname")?;
    let container = req.path("container")?;
    let live = req.query_bool("live")?;
    let timeout: u64 = req.query_as("timeout")?;
    let collected = collector::collect(
        CollectRequest::new(CONTAINER_STATS, hostname, CONTAINER_STATS)
            .param("container", container)
            .step(
                Step::argv(
                    "stats",
                    &[
                        "docker",
                        "stats",
                        "--no-stream",
                        "--no-trunc",
                        "--format",
                        "{{json .}}",
                        "--",
                        container,
                    ],
                )
                .timeout(Duration::from_secs(timeout)),
            )
            .parser_args(json!({"container": container}))
            .max_age(Duration::from_secs(5))
            .force_refresh(live),
    )?;
    let stats = collected.data["stats"]
        .as_array()
        .and_then(|s| s.first())
        .cloned()
        .ok_or_else(|| Error::not_found(format!("no stats for container {container}")))?;
    Ok(Json(ContainerStatsView {
        hostname: hostname.to_owned(),
        container_name: container.to_owned(),
        stats,
        collection_metadata: collected.metadata(CONTAINER_STATS, live),
        timestamp: collected.collected_at,
    })
    .into())
}

/// The query of `GET /{hostname}/stats` (its parameters are declared from this type).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct HostStatsQuery {
    /// Include stopped containers.
    #[serde(default)]
    pub all: bool,
    /// Run `docker stats` now instead of serving a result younger than 5 s.
    #[serde(default)]
    pub live: bool,
    /// Seconds `docker stats` may take.
    #[serde(default = "sixty")]
    #[schemars(range(min = 1, max = 600))]
    pub timeout: u64,
}

fn sixty() -> u64 {
    60
}

/// `GET /{hostname}/stats`: every running container (`all=true`: stopped ones too).
pub fn host(req: &Request) -> Result<Response, Error> {
    let hostname = req.path("hostname")?;
    let HostStatsQuery { all, live, timeout } = req.query()?;
    let mut argv = vec![
        "docker",
        "stats",
        "--no-stream",
        "--no-trunc",
        "--format",
        "{{json .}}",
    ];
    if all {
        argv.push("--all");
    }
    let collected = collector::collect(
        CollectRequest::new(HOST_STATS, hostname, CONTAINER_STATS)
            .param("all", all)
            .step(Step::argv("stats", &argv).timeout(Duration::from_secs(timeout)))
            .max_age(Duration::from_secs(5))
            .force_refresh(live),
    )?;
    let metadata = collected.metadata(HOST_STATS, live);
    let mut data = collected.data;
    let stats = data["stats"].take();
    Ok(Json(HostStats {
        container_count: stats.as_array().map_or(0, Vec::len),
        stats,
        timestamp: collected.collected_at,
        collection_metadata: metadata,
        hostname: hostname.to_owned(),
    })
    .into())
}
