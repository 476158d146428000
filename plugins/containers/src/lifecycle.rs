//! `POST /{hostname}/{container}/start|stop|restart` and `DELETE /{hostname}/{container}`.
//! Each runs docker once (never retried: the SSH layer does not repeat a command that may
//! have started), then reads the container's state with one `docker inspect`, so starting a
//! running container or stopping a stopped one answers 200 with the state it is in.

use infrastructor_sdk::prelude::*;

use serde::Serialize;

use crate::docker::{failure, inspect_format};

/// The options an action ran with, as its answer repeats them.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Extras {
    /// `stop` killed instead, or `rm` forced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// The grace period of `stop`/`restart`, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// `rm` removed the anonymous volumes too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove_volumes: Option<bool>,
}

/// The answer of a lifecycle action.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ActionResult {
    /// `start`, `stop`, `kill`, `restart` or `remove`.
    pub action: String,
    /// The container as named in the path.
    pub container_name: String,
    /// The host.
    pub hostname: String,
    /// Always true (failures are errors).
    pub success: bool,
    /// docker's output.
    pub output: String,
    /// Seconds docker took.
    pub execution_time: f64,
    /// docker's `.State` after the action (null after `remove`).
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub state: Value,
    /// The options it ran with.
    #[serde(flatten)]
    pub extras: Extras,
}

/// Runs a docker action `argv` on `hostname` and answers its outcome for `container`.
fn act(
    req: &Request,
    action: &str,
    argv: &[String],
    ssh_timeout: u64,
    extras: Extras,
) -> Result<Response, Error> {
    let hostname = req.path("hostname")?;
    let container = req.path("container")?;
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = ssh::exec(hostname, &argv, None, Duration::from_secs(ssh_timeout))?;
    if out.exit_code != 0 {
        return Err(failure(action, container, out.exit_code, &out.stderr_str()));
    }
    let state = if action == "remove" {
        Value::Null
    } else {
        current_state(hostname, container)?
    };
    Ok(Json(json!(ActionResult {
        action: action.to_owned(),
        container_name: container.to_owned(),
        hostname: hostname.to_owned(),
        success: true,
        output: out.stdout_str().trim().to_owned(),
        execution_time: out.duration.as_secs_f64(),
        state,
        extras,
    }))
    .into())
}

/// The container's `.State` (status, running, paused, exit code, started/finished times).
fn current_state(hostname: &str, container: &str) -> Result<Value, Error> {
    let text = inspect_format(hostname, container, "{{json .State}}")?;
    serde_json::from_str(&text)
        .map_err(|e| Error::upstream(format!("docker inspect: unexpected state output: {e}")))
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// `POST /{hostname}/{container}/start`.
pub fn start(req: &Request) -> Result<Response, Error> {
    let container = req.path("container")?;
    let timeout: u64 = req.query_as("timeout")?;
    act(
        req,
        "start",
        &argv(&["docker", "start", "--", container]),
        timeout,
        Extras::default(),
    )
}

/// `POST /{hostname}/{container}/stop`: `docker stop -t N`, or `docker kill` with `force`.
pub fn stop(req: &Request) -> Result<Response, Error> {
    let container = req.path("container")?;
    let grace: u32 = req.query_as("timeout")?;
    let force = req.query_bool("force")?;
    let ssh_timeout: u64 = req.query_as("ssh_timeout")?;
    if force {
        return act(
            req,
            "kill",
            &argv(&["docker", "kill", "--", container]),
            ssh_timeout,
            Extras {
                force: Some(true),
                ..Extras::default()
            },
        );
    }
    let grace_arg = grace.to_string();
    act(
        req,
        "stop",
        &argv(&["docker", "stop", "-t", &grace_arg, "--", container]),
        ssh_timeout.max(u64::from(grace) + 10),
        Extras {
            force: Some(false),
            timeout: Some(grace),
            ..Extras::default()
        },
    )
}

/// `POST /{hostname}/{container}/restart`.
pub fn restart(req: &Request) -> Result<Response, Error> {
    let container = req.path("container")?;
    let grace: u32 = req.query_as("timeout")?;
    let ssh_timeout: u64 = req.query_as("ssh_timeout")?;
    let grace_arg = grace.to_string();
    act(
        req,
        "restart",
        &argv(&["docker", "restart", "-t", &grace_arg, "--", container]),
        ssh_timeout.max(u64::from(grace) + 10),
        Extras {
            timeout: Some(grace),
            ..Extras::default()
        },
    )
}

/// `DELETE /{hostname}/{container}`: `docker rm [--force] [--volumes]`.
pub fn remove(req: &Request) -> Result<Response, Error> {
    let container = req.path("container")?;
    let force = req.query_bool("force")?;
    let volumes = req.query_bool("remove_volumes")?;
    let timeout: u64 = req.query_as("timeout")?;
    let mut words = vec!["docker", "rm"];
    if force {
        words.push("--force");
    }
    if volumes {
        words.push("--volumes");
    }
    words.extend(["--", container]);
    act(
        req,
        "remove",
        &argv(&words),
        timeout,
        Extras {
            force: Some(force),
            remove_volumes: Some(volumes),
            ..Extras::default()
        },
    )
}
