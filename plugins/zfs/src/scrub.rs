//! Scrubs: `POST /{hostname}/pools/{pool}/scrub` starts one (or stops it with `stop=true`)
//! and, as a job, follows its progress until it ends; `GET` answers the scan state.

use infrastructor_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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

/// The answer of a stopped scrub.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ScrubStopped {
    /// The pool.
    pub pool: String,
    /// Always true.
    pub stopped: bool,
    /// The pool's scan after the stop; `null` when zpool prints none.
    pub scan: Option<Scan>,
}

/// A pool's scrub: where it is, and (after a scrub the job followed) how often it was
/// looked at.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ScrubStatus {
    /// The pool.
    pub pool: String,
    /// The pool's state (`ONLINE`, `DEGRADED`…).
    pub state: String,
    /// The scrub or resilver; `null` when zpool prints no scan line.
    pub scan: Option<Scan>,
    /// The pool's `errors:` text other than the file list; `null` for no known data errors.
    pub errors: Option<String>,
    /// How many times the job looked at the running scrub (absent from `GET`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub polls: Option<u32>,
}

/// The answer of `POST /{hostname}/pools/{pool_name}/scrub`: the stop, or the finished
/// scrub.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ScrubResult {
    /// `stop=true`: the scrub was stopped.
    Stopped(ScrubStopped),
    /// The scrub ran to its end.
    Finished(ScrubStatus),
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
        return Ok(Json(ScrubResult::Stopped(ScrubStopped {
            pool: pool.to_owned(),
            stopped: true,
            scan: status.scan,
        }))
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
    Ok(Json(ScrubResult::Finished(ScrubStatus {
        pool: pool.to_owned(),
        state: status.state,
        scan: status.scan,
        errors: status.errors,
        polls: Some(polls),
    }))
    .into())
}

/// `GET /{hostname}/pools/{pool_name}/scrub`.
pub fn get(req: &Request) -> Result<Response, Error> {
    let host = req.path("hostname")?;
    let pool = names::path(req, "pool_name", names::pool)?;
    let tools = tools::of(host)?;
    let (status, _) = status_of(host, tools, pool)?;
    Ok(Json(ScrubStatus {
        pool: pool.to_owned(),
        state: status.state,
        scan: status.scan,
        errors: status.errors,
        polls: None,
    })
    .into())
}
