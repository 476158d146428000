//! Datasets: the list (of a pool, or all) and one dataset's properties with their sources.

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names;
use crate::parse::{zfs_get, zfs_list};
use crate::run::{self, READ_TIMEOUT};
use crate::tools::{self, Tools};

/// The columns asked of `zfs list` for datasets.
pub const DATASET_COLUMNS: &[&str] = &[
    "name",
    "used",
    "available",
    "referenced",
    "mountpoint",
    "type",
    "compression",
    "dedup",
    "atime",
    "compressratio",
];

/// Which datasets.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetsQuery {
    /// Only this pool's (or this dataset's and its children's); absent = every pool.
    #[schemars(
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_:][A-Za-z0-9_.:-]*)*$"),
        length(max = 255)
    )]
    pub pool_name: Option<String>,
}

/// `zfs list -H [-p] -t filesystem,volume -o COLUMNS [-r ROOT]`, parsed.
pub fn list_datasets(
    host: &str,
    tools: Tools,
    root: Option<&str>,
) -> Result<Vec<zfs_list::Dataset>, Error> {
    let columns = DATASET_COLUMNS.join(",");
    let mut argv = vec!["zfs", "list", "-H"];
    if tools.parsable() {
        argv.push("-p");
    }
    argv.extend(["-t", "filesystem,volume", "-o", &columns]);
    if let Some(r) = root {
        argv.extend(["-r", r]);
    }
    let out = run::exec(host, &argv, READ_TIMEOUT)?;
    zfs_list::parse_zfs_list(&out.stdout_str(), DATASET_COLUMNS).map_err(run::unparsable)
}

/// `GET /{hostname}/datasets`.
pub fn list(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let q: DatasetsQuery = req.query()?;
    if let Some(p) = &q.pool_name {
        names::dataset(p)?;
    }
    let tools = tools::of(host)?;
    let datasets = list_datasets(host, tools, q.pool_name.as_deref())?;
    Ok(Json(DatasetList {
        hostname: host.to_owned(),
        pool_name: q.pool_name,
        total_datasets: datasets.len(),
        datasets,
    })
    .into())
}

/// The answer of `GET /{hostname}/datasets`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DatasetList {
    /// The device.
    pub hostname: String,
    /// The pool (or dataset) asked for; `null` for every pool.
    pub pool_name: Option<String>,
    /// How many datasets there are.
    pub total_datasets: usize,
    /// The filesystems and volumes, as `zfs list` shows them.
    pub datasets: Vec<zfs_list::Dataset>,
}

/// The answer of `GET /{hostname}/datasets/{dataset_name}/properties`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DatasetProperties {
    /// The device.
    pub hostname: String,
    /// The dataset.
    pub dataset_name: String,
    /// Its properties by name, with their values and sources.
    pub properties: zfs_get::Properties,
}

/// `GET /{hostname}/datasets/{dataset_name}/properties`.
pub fn properties(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let dataset = names::path(req, "dataset_name", names::dataset)?;
    let tools = tools::of(host)?;
    let mut argv = vec!["zfs", "get", "-H"];
    if tools.parsable() {
        argv.push("-p");
    }
    argv.extend(["-o", "property,value,source", "all", dataset]);
    let out = run::exec(host, &argv, READ_TIMEOUT)?;
    let properties: zfs_get::Properties =
        zfs_get::parse_properties(&out.stdout_str(), "zfs get").map_err(run::unparsable)?;
    Ok(Json(DatasetProperties {
        hostname: host.to_owned(),
        dataset_name: dataset.to_owned(),
        properties,
    })
    .into())
}
