//! Container inventory: every device's containers from the database, one device's
//! containers live (`docker ps -a`, through the collector), and one container's `docker
//! inspect`.
//!
//! A device's list is always collected whole (`docker ps -a`) and filtered here, so every
//! filter and page of one device shares one cache entry and one remote run, and every
//! snapshot (the source of `GET /api/containers`) is the complete list.

use std::borrow::Cow;

use infrastructor_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::docker::{PS, failure, inspect_format};
use crate::parse::inspect::InspectSummary;
use crate::parse::inspect::parse_inspect;
use crate::parse::ps::{ContainerSummary, parse_ps};

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

/// A device's collected list, as parser `containers` writes it: `{"containers": [...],
/// "count": N}`, in this field order ([`split_list`] relies on it).
#[derive(Debug, Serialize)]
pub struct ContainerList {
    /// The containers, in `docker ps` order.
    pub containers: Vec<ContainerSummary>,
    /// How many there are.
    pub count: usize,
}

/// Parser `containers`: `docker ps` JSON lines → [`ContainerList`], written straight to
/// JSON text (a typed parser: no intermediate value tree, the costliest part of a live list
/// in the guest).
pub fn parse_list(outputs: &[StepOutput], _args: &Value) -> Result<ContainerList, Error> {
    let out = StepOutput::find(outputs, "ps")?;
    if out.exit_code != 0 {
        return Err(failure("ps", "", out.exit_code, &out.stderr_str()));
    }
    let containers = parse_ps(&out.stdout_str()).map_err(|e| Error::upstream(e.to_string()))?;
    Ok(ContainerList {
        count: containers.len(),
        containers,
    })
}

/// The count and the raw `containers` array of a collected list, when the text has the
/// layout [`parse_list`] writes (`{"containers":[…],"count":N}`); `None` otherwise. The
/// last `,"count":` is the top-level one: it follows the array's closing bracket.
fn split_list(data: &str) -> Option<(usize, &str)> {
    let rest = data.strip_prefix("{\"containers\":")?;
    let (array, count) = rest.rsplit_once(",\"count\":")?;
    let count = count.strip_suffix('}')?;
    (array.starts_with('[') && array.ends_with(']')).then_some(())?;
    Some((count.parse().ok()?, array))
}

/// `running` for `docker ps` without `-a`: running, paused and restarting containers.
fn is_listed_without_all(state: &str) -> bool {
    matches!(state, "running" | "paused" | "restarting")
}

/// The collected list, borrowed from the collector's text: each container stays raw JSON
/// (only its `state` is read), so a list of hundreds of containers is passed through
/// without being rebuilt.
#[derive(Deserialize)]
struct RawList<'a> {
    #[serde(borrow)]
    containers: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct StateOnly<'a> {
    #[serde(borrow)]
    state: Cow<'a, str>,
}

/// The answer of [`list_device`] (`GET /api/containers/{hostname}`).
#[derive(Serialize, JsonSchema)]
pub struct ListBody<'a> {
    /// The page's containers (`docker ps -a` with parsed fields), as collected.
    #[schemars(with = "Vec<ContainerSummary>")]
    pub containers: Vec<&'a RawValue>,
    /// The device.
    pub hostname: &'a str,
    /// Containers matching the filters.
    pub total_count: usize,
    /// The filters applied.
    pub filters: ListFilters<'a>,
    /// Where the page is.
    pub pagination: Pagination,
    /// `success`.
    pub status: &'static str,
    /// RFC 3339 time the list was collected.
    pub collection_time: &'a str,
    /// How the list was collected.
    pub collection_metadata: CollectionMetadata,
}

/// The filters of a device's container list.
#[derive(Serialize, JsonSchema)]
pub struct ListFilters<'a> {
    /// The container state asked for; `null` for any.
    pub status: Option<&'a str>,
    /// Whether stopped containers are listed.
    pub all_containers: bool,
}

/// Where a page of a device's container list is.
#[derive(Serialize, JsonSchema)]
pub struct Pagination {
    /// The page size asked for; `null` for no limit.
    pub limit: Option<usize>,
    /// Containers skipped.
    pub offset: usize,
    /// Containers on this page.
    pub returned: usize,
    /// More containers follow.
    pub has_more: bool,
}

/// A container of `GET /api/containers`: the container as collected, its device and when.
#[derive(Serialize, JsonSchema)]
pub struct ContainerEntry {
    /// The container (`docker ps -a` with parsed fields).
    #[serde(flatten)]
    #[schemars(with = "ContainerSummary")]
    pub container: serde_json::Map<String, Value>,
    /// The device it runs on.
    pub device_hostname: String,
    /// RFC 3339 time the device's list was collected.
    pub last_updated: String,
}

/// One page of the containers of every device (`GET /api/containers`).
#[derive(Serialize, JsonSchema)]
pub struct ContainerPage {
    /// The page's containers, ordered by device then name.
    pub items: Vec<ContainerEntry>,
    /// Containers matching the filters.
    pub total_count: usize,
    /// This page, from 1.
    pub page: usize,
    /// Containers per page.
    pub page_size: usize,
    /// Pages in all.
    pub total_pages: usize,
    /// A later page exists.
    pub has_next: bool,
    /// An earlier page exists.
    pub has_previous: bool,
}

/// The `docker inspect` of a container (`GET /api/containers/{hostname}/{container}`).
#[derive(Serialize, JsonSchema)]
pub struct ContainerInfo {
    /// `docker inspect`'s object, as docker prints it.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub container: Value,
    /// The fields most asked for, parsed.
    #[schemars(with = "InspectSummary")]
    pub summary: Value,
    /// The device.
    pub hostname: String,
    /// The container as named in the path.
    pub container_name: String,
    /// How the result was collected.
    pub collection_metadata: CollectionMetadata,
}

/// `GET /api/containers/{hostname}`: live list with docker's fields and parsed ones.
pub fn list_device(req: &Request) -> Result<Response, Error> {
    let hostname = req.path("hostname")?;
    let status = req.query_str("status");
    let all: bool = req.query_bool("all_containers")?;
    let live = req.query_bool("live")?;
    let limit: Option<usize> = req.query_opt_as("limit")?;
    let offset: usize = req.query_as("offset")?;
    let timeout: u64 = req.query_as("timeout")?;
    let collected = collector::collect_raw(
        CollectRequest::new(CONTAINERS, hostname, CONTAINERS)
            .step(list_step().timeout(Duration::from_secs(timeout)))
            .max_age(LIST_MAX_AGE)
            .force_refresh(live),
    )?;
    let filtered = status.is_some() || !all;
    let metadata = collected.metadata(CONTAINERS, live);
    if !filtered
        && offset == 0
        && limit.is_none()
        && let Some((count, array)) = split_list(&collected.data)
    {
        // The whole list, unchanged: splice the collector's (already validated) array into
        // the answer instead of parsing and re-serialising it.
        let head = serde_json::to_string(&ListBody {
            hostname,
            containers: Vec::new(),
            total_count: count,
            filters: ListFilters {
                status,
                all_containers: all,
            },
            pagination: Pagination {
                limit,
                offset: 0,
                returned: count,
                has_more: false,
            },
            status: "success",
            collection_time: &collected.collected_at,
            collection_metadata: metadata,
        })
        .map_err(|e| Error::internal(e.to_string()))?;
        let rest = head
            .strip_prefix("{\"containers\":[],")
            .unwrap_or(&head[1..]);
        let body = format!("{{\"containers\":{array},{rest}");
        return Ok(Response::bytes("application/json", body.into_bytes()));
    }
    let list: RawList<'_> = serde_json::from_str(&collected.data)
        .map_err(|e| Error::internal(format!("cached container list: {e}")))?;
    let mut matching = Vec::with_capacity(list.containers.len());
    for raw in list.containers {
        if filtered {
            let s: StateOnly<'_> = serde_json::from_str(raw.get())
                .map_err(|e| Error::internal(format!("cached container: {e}")))?;
            let state = s.state.as_ref();
            if !((all || is_listed_without_all(state)) && status.is_none_or(|s| s == state)) {
                continue;
            }
        }
        matching.push(raw);
    }
    let total = matching.len();
    let page: Vec<&RawValue> = matching
        .into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    let returned = page.len();
    Ok(Json(ListBody {
        hostname,
        containers: page,
        total_count: total,
        filters: ListFilters {
            status,
            all_containers: all,
        },
        pagination: Pagination {
            limit,
            offset,
            returned,
            has_more: offset + returned < total,
        },
        status: "success",
        collection_time: &collected.collected_at,
        collection_metadata: metadata,
    })
    .into())
}

/// `GET /api/containers`: the newest snapshot of every device, flattened, filtered by
/// container state and device, ordered by device then name, paginated.
pub fn list_all(req: &Request) -> Result<Response, Error> {
    let status = req.query_str("status");
    let device = req
        .query_str("device_hostname")
        .map(str::to_ascii_lowercase);
    let page: usize = req.query_as("page")?;
    let page_size: usize = req.query_as("page_size")?;
    let mut items: Vec<ContainerEntry> = Vec::new();
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
            let Some(container) = c.as_object() else {
                continue;
            };
            let mut container = container.clone();
            container.remove("device_hostname");
            container.remove("last_updated");
            items.push(ContainerEntry {
                container,
                device_hostname: snap.target.clone(),
                last_updated: snap.collected_at.clone(),
            });
        }
    }
    items.sort_by(|a, b| {
        let name = |e: &ContainerEntry| {
            e.container
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        (&a.device_hostname, name(a)).cmp(&(&b.device_hostname, name(b)))
    });
    let total = items.len();
    let total_pages = total.div_ceil(page_size);
    let start = (page - 1).saturating_mul(page_size);
    let page_items: Vec<ContainerEntry> = items.into_iter().skip(start).take(page_size).collect();
    Ok(Json(ContainerPage {
        items: page_items,
        total_count: total,
        page,
        page_size,
        total_pages,
        has_next: page < total_pages,
        has_previous: page > 1,
    })
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
    let metadata = collected.metadata(CONTAINER_INFO, live);
    let mut data = collected.data;
    Ok(Json(ContainerInfo {
        container: data["container"].take(),
        summary: data["summary"].take(),
        hostname: hostname.to_owned(),
        container_name: container.to_owned(),
        collection_metadata: metadata,
    })
    .into())
}

/// Checks that `container` exists on `hostname` (one `docker inspect`), for routes that
/// must answer 404 before they start something (a followed log).
pub fn require_container(hostname: &str, container: &str) -> Result<(), Error> {
    inspect_format(hostname, container, "{{.Id}}").map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::fixture;

    #[test]
    fn the_list_layout_is_what_split_list_reads() {
        let ps = fixture("docker/docker-ps_format-json_docs.jsonl");
        // The text the host receives: the plugin's own parser, through its `App`.
        let text = crate::manifest::app()
            .parse_to_text(
                CONTAINERS,
                &[StepOutput::new("ps", 0, ps.clone())],
                &Value::Null,
            )
            .expect("parse");
        let (count, array) = split_list(&text).expect("layout");
        let expected = parse_ps(&ps).expect("fixture").len();
        assert_eq!(count, expected);
        let parsed: Vec<Value> = serde_json::from_str(array).expect("array");
        assert_eq!(parsed.len(), expected);
        assert!(text.starts_with("{\"containers\":["), "field order: {text}");
        assert_eq!(split_list("{\"containers\":[]}"), None);
        assert_eq!(split_list("{\"containers\":{},\"count\":1}"), None);
        assert_eq!(
            split_list("{\"containers\":[{\"labels\":{\"a\":1,\"count\":2}}],\"count\":1}"),
            Some((1, "[{\"labels\":{\"a\":1,\"count\":2}}]"))
        );
    }
}
