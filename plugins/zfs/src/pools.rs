//! Pools: the list (exact numbers), one pool's structured status and properties.

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;

use crate::names;
use crate::parse::{zfs_get, zpool_list, zpool_status};
use crate::run::{self, READ_TIMEOUT};
use crate::tools::{self, Tools};

/// The columns asked of `zpool list` (zfs-fuse has no `fragmentation`).
pub fn list_columns(tools: Tools) -> &'static [&'static str] {
    if tools.parsable() {
        &[
            "name",
            "size",
            "allocated",
            "free",
            "capacity",
            "fragmentation",
            "dedupratio",
            "health",
            "altroot",
        ]
    } else {
        &[
            "name",
            "size",
            "allocated",
            "free",
            "capacity",
            "dedupratio",
            "health",
            "altroot",
        ]
    }
}

/// `zpool list -H [-p] -o COLUMNS [POOL]`.
pub fn list_argv(tools: Tools, columns: &str, pool: Option<&str>) -> Vec<String> {
    let mut argv: Vec<String> = vec!["zpool".into(), "list".into(), "-H".into()];
    if tools.parsable() {
        argv.push("-p".into());
    }
    argv.extend(["-o".into(), columns.to_owned()]);
    argv.extend(pool.map(str::to_owned));
    argv
}

/// The pools of `host`, parsed.
pub fn list_pools(host: &str, tools: Tools) -> Result<Vec<zpool_list::PoolSummary>, Error> {
    let columns = list_columns(tools);
    let argv = list_argv(tools, &columns.join(","), None);
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = run::exec(host, &refs, READ_TIMEOUT)?;
    zpool_list::parse_zpool_list(&out.stdout_str(), columns).map_err(run::unparsable)
}

/// `GET /{hostname}/pools`.
pub fn list(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let tools = tools::of(host)?;
    let pools = list_pools(host, tools)?;
    Ok(Json(PoolList {
        hostname: host.to_owned(),
        tools: tools.label(),
        total_pools: pools.len(),
        pools,
    })
    .into())
}

/// The answer of `GET /{hostname}/pools`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PoolList {
    /// The device.
    pub hostname: String,
    /// Which ZFS tools the device has (`openzfs-2.2`, or `legacy` for tools older than OpenZFS).
    pub tools: String,
    /// How many pools there are.
    pub total_pools: usize,
    /// The pools, as `zpool list` shows them.
    pub pools: Vec<zpool_list::PoolSummary>,
}

/// The answer of `GET /{hostname}/pools/{pool_name}/status`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PoolStatusView {
    /// The device.
    pub hostname: String,
    /// The pool.
    pub pool_name: String,
    /// The pool's structured `zpool status`.
    pub status: zpool_status::PoolStatus,
    /// The pool's properties by name, with their values and sources.
    pub properties: zfs_get::Properties,
    /// The raw `zpool status` text, when the text form was read (no JSON output).
    pub status_output: Option<String>,
}

/// The structured `zpool status` of `pool` (JSON on OpenZFS 2.3+, text otherwise), and its
/// raw text when text was read.
pub fn status_of(
    host: &str,
    tools: Tools,
    pool: &str,
) -> Result<(zpool_status::PoolStatus, Option<String>), Error> {
    if tools.json() {
        let out = run::exec(
            host,
            &["zpool", "status", "-j", "--json-int", "-v", pool],
            READ_TIMEOUT,
        )?;
        let pools =
            zpool_status::parse_zpool_status_json(&out.stdout_str()).map_err(run::unparsable)?;
        let status = pools
            .into_iter()
            .find(|p| p.name == pool)
            .ok_or_else(|| Error::not_found(format!("no pool `{pool}`")))?;
        return Ok((status, None));
    }
    let out = run::exec(host, &["zpool", "status", "-v", pool], READ_TIMEOUT)?;
    let text = out.stdout_str().into_owned();
    let pools = zpool_status::parse_zpool_status(&text).map_err(run::unparsable)?;
    let status = pools
        .into_iter()
        .find(|p| p.name == pool)
        .ok_or_else(|| Error::not_found(format!("no pool `{pool}`")))?;
    Ok((status, Some(text)))
}

/// The properties of `pool` with their sources.
pub fn properties_of(host: &str, tools: Tools, pool: &str) -> Result<zfs_get::Properties, Error> {
    if tools.parsable() {
        let out = run::exec(
            host,
            &[
                "zpool",
                "get",
                "-Hp",
                "-o",
                "property,value,source",
                "all",
                pool,
            ],
            READ_TIMEOUT,
        )?;
        zfs_get::parse_properties(&out.stdout_str(), "zpool get").map_err(run::unparsable)
    } else {
        // zfs-fuse's `zpool get` has no -H/-o: its table `NAME PROPERTY VALUE SOURCE`.
        let out = run::exec(host, &["zpool", "get", "all", pool], READ_TIMEOUT)?;
        zfs_get::parse_properties(&out.stdout_str(), "zpool get").map_err(run::unparsable)
    }
}

/// `GET /{hostname}/pools/{pool_name}/status`.
pub fn status(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let pool = names::path(req, "pool_name", names::pool)?;
    let tools = tools::of(host)?;
    let (status, raw) = status_of(host, tools, pool)?;
    let properties = properties_of(host, tools, pool)?;
    Ok(Json(PoolStatusView {
        hostname: host.to_owned(),
        pool_name: pool.to_owned(),
        status,
        properties,
        status_output: raw,
    })
    .into())
}
