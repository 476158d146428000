//! Container inventory: every device's containers from the database, one device's
//! containers live (`docker ps -a`, through the collector), and one container's `docker
//! inspect`.
//!
//! A device's list is always collected whole (`docker ps -a`) and filtered here, so every
//! filter and page of one device shares one cache entry and one remote run, and every
//! snapshot (the source of `GET /api/containers`) is the complete list.

use infrastructor_sdk::prelude::*;

use crate::docker::{PS, failure};
use crate::parse::inspect::parse_inspect;
use crate::parse::ps::parse_ps;

/// Data type of device container lists (snapshots feed `GET /api/containers`).
pub const CONTAINERS: &str = "containers";

/// Data type of `docker inspect` results.
pub const CONTAINER_INFO: &str = "container_info";

/// How long a device's list is served from the cache.
const LIST_MAX_AGE: Duration = Duration::from_secs(15);

/// The list step (also the poller collector's).
pub fn list_step() -> Step {
    Step::argv("ps", PS).timeout(Duration::from_secs(60))
}

/// Parser `containers`: `docker ps` JSON lines → `{containers: [...]}`.
pub fn parse_list(outputs: &[StepOutput], _args: &Value) -> Result<Value, Error> {
    let out = StepOutput::find(outputs, "ps")?;
    if out.exit_code != 0 {
        return Err(failure("ps", "", out.exit_code, &out.stderr_str()));
    }
    let containers = parse_ps(&out.stdout_str()).map_err(|e| Error::upstream(e.to_string()))?;
    Ok(json!({ "containers": containers }))
}

/// `running` for `docker ps` without `-a`: running, paused and restarting containers.
fn is_listed_without_all(state: &str) -> bool {
    matches!(state, "running" | "paused" | "restarting")
}

/// `GET /api/containers/{hostname}`: live list with docker's fields and parsed ones.
pub fn list_device(req: &Request) -> Result<Response, Error> {
    let hostname = req.path("hostname")?;
    let status = req.query("status");
    let all: bool = req.query_bool("all_containers")?;
    let live = req.query_bool("live")?;
    let limit: Option<usize> = req.query_opt_as("limit")?;
    let offset: usize = req.query_as("offset")?;
    let timeout: u64 = req.query_as("timeout")?;
    let collected = collector::collect(
        CollectRequest::new(CONTAINERS, hostname, CONTAINERS)
            .step(list_step().timeout(Duration::from_secs(timeout)))
            .max_age(LIST_MAX_AGE)
            .force_refresh(live),
    )?;
    let empty = Vec::new();
    let every = collected.data["containers"].as_array().unwrap_or(&empty);
    let matching: Vec<&Value> = every
        .iter()
        .filter(|c| {
            let state = c["state"].as_str().unwrap_or("");
            (all || is_listed_without_all(state)) && status.is_none_or(|s| s == state)
        })
        .collect();
    let total = matching.len();
    let page: Vec<&Value> = matching
        .into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    let returned = page.len();
    Ok(Json(json!({
        "hostname": hostname,
        "containers": page,
        "total_count": total,
        "filters": {"status": status, "all_containers": all},
        "pagination": {
            "limit": limit, "offset": offset, "returned": returned,
            "has_more": offset + returned < total,
        },
        "status": "success",
        "collection_time": collected.collected_at,
        "collection_metadata": collected.metadata(CONTAINERS, live),
    }))
    .into())
}

/// `GET /api/containers`: the newest snapshot of every device, flattened, filtered by
/// container state and device, ordered by device then name, paginated.
pub fn list_all(req: &Request) -> Result<Response, Error> {
    let status = req.query("status");
    let device = req.query("device_hostname").map(str::to_ascii_lowercase);
    let page: usize = req.query_as("page")?;
    let page_size: usize = req.query_as("page_size")?;
    let mut items: Vec<Value> = Vec::new();
    for snap in storage::latest_snapshots::<Value>(CONTAINERS)? {
        if device.as_deref().is_some_and(|d| d != snap.target) {
            continue;
        }
        let Some(list) = snap.data["containers"].as_array() else {
            continue;
        };
        for c in list {
            if status.is_some_and(|s| c["state"] != s) {
                continue;
            }
            let mut item = c.clone();
            item["device_hostname"] = json!(snap.target);
            item["last_updated"] = json!(snap.collected_at);
            items.push(item);
        }
    }
    items.sort_by(|a, b| {
        let key = |v: &Value| {
            (
                v["device_hostname"].as_str().unwrap_or("").to_string(),
                v["name"].as_str().unwrap_or("").to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    let total = items.len();
    let total_pages = total.div_ceil(page_size);
    let start = (page - 1).saturating_mul(page_size);
    let page_items: Vec<Value> = items.into_iter().skip(start).take(page_size).collect();
    Ok(Json(json!({
        "items": page_items,
        "total_count": total,
        "page": page,
        "page_size": page_size,
        "total_pages": total_pages,
        "has_next": page < total_pages,
        "has_previous": page > 1,
    }))
    .into())
}

/// Parser `container_info`: `docker inspect` → `{container, summary}`; 404 for `[]` or
/// docker's "No such object".
pub fn parse_info(outputs: &[StepOutput], args: &Value) -> Result<Value, Error> {
    let out = StepOutput::find(outputs, "inspect")?;
    let name = args["container"].as_str().unwrap_or("");
    if out.exit_code != 0 {
        return Err(failure("inspect", name, out.exit_code, &out.stderr_str()));
    }
    match parse_inspect(&out.stdout_str()).map_err(|e| Error::upstream(e.to_string()))? {
        Some(c) => Ok(json!({"container": c.raw, "summary": c.summary})),
        None => Err(Error::not_found(format!(
            "no container {name} on this host"
        ))),
    }
}

/// `GET /api/containers/{hostname}/{container}`: `docker inspect` (cached 5 s; `live`
/// forces).
pub fn inspect(req: &Request) -> Result<Response, Error> {
    let hostname = req.path("hostname")?;
    let container = req.path("container")?;
    let live = req.query_bool("live")?;
    let timeout: u64 = req.query_as("timeout")?;
    let collected = collector::collect(
        CollectRequest::new(CONTAINER_INFO, hostname, CONTAINER_INFO)
            .param("container", container)
            .step(
                Step::argv(
                    "inspect",
                    &["docker", "inspect", "--type", "container", "--", container],
                )
                .timeout(Duration::from_secs(timeout)),
            )
            .parser_args(json!({"container": container}))
            .max_age(Duration::from_secs(5))
            .force_refresh(live),
    )?;
    let mut body = collected.data.clone();
    body["hostname"] = json!(hostname);
    body["container_name"] = json!(container);
    body["collection_metadata"] = collected.metadata(CONTAINER_INFO, live);
    Ok(Json(body).into())
}

/// Checks that `container` exists on `hostname` (one `docker inspect`), for routes that
/// must answer 404 before they start something (a followed log).
pub fn require_container(hostname: &str, container: &str) -> Result<(), Error> {
    let out = ssh::exec(
        hostname,
        &[
            "docker",
            "inspect",
            "--type",
            "container",
            "--format",
            "{{.Id}}",
            "--",
            container,
        ],
        None,
        Duration::from_secs(30),
    )?;
    if out.exit_code != 0 {
        return Err(failure(
            "inspect",
            container,
            out.exit_code,
            &out.stderr_str(),
        ));
    }
    Ok(())
}
