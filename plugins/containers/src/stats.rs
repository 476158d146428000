//! Resource usage from `docker stats --no-stream --format '{{json .}}'`: docker's strings
//! plus numbers (CPU %, memory used/limit bytes, memory %, network and block I/O bytes,
//! PIDs). All containers of a host come from ONE docker run.

use infrastructor_sdk::prelude::*;
use serde::Deserialize;

use crate::docker::failure;
use crate::parse::stats::parse_stats;

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
    Ok(Json(json!({
        "hostname": hostname,
        "container_name": container,
        "stats": stats,
        "timestamp": collected.collected_at,
        "collection_metadata": collected.metadata(CONTAINER_STATS, live),
    }))
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
    let count = collected.data["stats"].as_array().map_or(0, Vec::len);
    Ok(collected
        .answer(HOST_STATS, live)
        .field("hostname", hostname)
        .field("container_count", count)
        .into())
}
