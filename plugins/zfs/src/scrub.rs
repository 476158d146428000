//! Scrubs: `POST /{hostname}/pools/{pool}/scrub` starts one (or stops it with `stop=true`)
//! and, as a job, follows its progress until it ends; `GET` answers the scan state.

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::names;
use crate::parse::zpool_status::{Scan, ScanState};
use crate::pools::status_of;
use crate::run::{self, CHANGE_TIMEOUT};
use crate::tools;

/// How often a running scrub is looked at, in seconds.
const POLL_SECS: &str = "3";

/// Waits `$2` seconds, then prints `zpool status -v $1` (the remote side sleeps, so a job
/// following a long scrub costs nothing in between).
pub const WAIT_STATUS: &str = "sleep \"$2\" && zpool status -v \"$1\"";

/// What to do.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScrubQuery {
    /// Stop the running scrub instead of starting one.
    #[serde(default)]
    pub stop: bool,
}

fn scan_json(scan: Option<&Scan>) -> serde_json::Value {
    json!(scan)
}

/// `POST /{hostname}/pools/{pool_name}/scrub` (a job).
pub fn start(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let pool = names::path(req, "pool_name", names::pool)?;
    let q: ScrubQuery = req.query()?;
    let tools = tools::of(host)?;
    if q.stop {
        run::exec(host, &["zpool", "scrub", "-s", pool], CHANGE_TIMEOUT)?;
        let (status, _) = status_of(host, tools, pool)?;
        return Ok(Json(
            json!({"pool": pool, "stopped": true, "scan": scan_json(status.scan.as_ref())}),
        )
        .into());
    }
    run::exec(host, &["zpool", "scrub", pool], CHANGE_TIMEOUT)?;
    jobs::progress(0, Some(100), "percent", "scrub started");
    let mut status = status_of(host, tools, pool)?.0;
    let mut polls = 0u32;
    while status
        .scan
        .as_ref()
        .is_some_and(|s| s.state == ScanState::InProgress)
    {
        let percent = status
            .scan
            .as_ref()
            .and_then(|s| s.progress_percent)
            .unwrap_or(0.0);
        jobs::progress(
            percent.clamp(0.0, 100.0) as u64,
            Some(100),
            "percent",
            "scrubbing",
        );
        let out = ssh::run_script(
            host,
            "wait_status",
            &[pool, POLL_SECS],
            None,
            CHANGE_TIMEOUT,
        )?;
        if !out.success() {
            return Err(run::failure(
                "zpool status",
                out.exit_code,
                &out.stderr_str(),
            ));
        }
        let pools = crate::parse::zpool_status::parse_zpool_status(&out.stdout_str())
            .map_err(run::unparsable)?;
        if let Some(p) = pools.into_iter().find(|p| p.name == pool) {
            status = p;
        }
        polls += 1;
    }
    jobs::progress(100, Some(100), "percent", "scrub ended");
    Ok(Json(json!({
        "pool": pool,
        "state": status.state,
        "scan": scan_json(status.scan.as_ref()),
        "errors": status.errors,
        "polls": polls,
    }))
    .into())
}

/// `GET /{hostname}/pools/{pool_name}/scrub`.
pub fn get(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let pool = names::path(req, "pool_name", names::pool)?;
    let tools = tools::of(host)?;
    let (status, _) = status_of(host, tools, pool)?;
    Ok(Json(json!({
        "pool": pool,
        "state": status.state,
        "scan": scan_json(status.scan.as_ref()),
        "errors": status.errors,
    }))
    .into())
}
