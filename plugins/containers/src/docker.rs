//! The docker command lines this plugin runs (argv only; a container reference is validated
//! by the host against [`crate::parse::names::CONTAINER_REF_PATTERN`] before a handler sees
//! it, and is passed after `--`), and the mapping of docker's failures to API errors.

use infrastructor_sdk::prelude::*;

/// Pattern of the `since`/`until` values docker accepts: RFC 3339 times, Unix timestamps and
/// durations (`42m`, `1h30m`), no spaces.
pub const TIME_PATTERN: &str = "^[0-9A-Za-z:.+-]{1,40}$";

/// Container states docker reports (`State`).
pub const STATES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// `docker ps -a` with every container's JSON line, untruncated.
pub const PS: &[&str] = &["docker", "ps", "-a", "--no-trunc", "--format", "{{json .}}"];

/// `docker inspect --type container --format FORMAT -- CONTAINER` on `hostname`: the
/// formatted text, or the mapped failure (404 for an unknown container).
pub fn inspect_format(hostname: &str, container: &str, format: &str) -> Result<String, Error> {
    let out = ssh::exec(
        hostname,
        &[
            "docker",
            "inspect",
            "--type",
            "container",
            "--format",
            format,
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
    Ok(out.stdout_str().trim().to_string())
}

/// The remote `docker` failure for `container`: 404 when docker says the container does not
/// exist (or, for `exec`, is not running), 400 for a value docker refused, 502 otherwise.
pub fn failure(what: &str, container: &str, exit_code: i32, stderr: &str) -> Error {
    let detail = stderr.trim();
    let lower = detail.to_ascii_lowercase();
    if lower.contains("no such container") || lower.contains("no such object") {
        return Error::not_found(format!("no container {container} on this host"));
    }
    if lower.contains("is not running") || lower.contains("is paused") {
        return Error::not_found(format!("container {container} is not running: {detail}"));
    }
    if lower.contains("invalid value")
        || lower.contains("invalid argument")
        || lower.contains("failed to parse")
    {
        return Error::bad_request(format!("docker {what}: {detail}"));
    }
    if lower.contains("cannot connect to the docker daemon") || lower.contains("permission denied")
    {
        return Error::unavailable(format!("docker {what}: {detail}"));
    }
    if lower.contains("command not found") || exit_code == 127 {
        return Error::unavailable("docker is not installed on the host".to_string());
    }
    Error::upstream(format!("docker {what} exited {exit_code}: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_errors_map_to_statuses() {
        let nf = failure("inspect", "web", 1, "Error: No such container: web\n");
        assert_eq!(nf.status(), 404);
        let obj = failure("inspect", "web", 1, "Error: No such object: web");
        assert_eq!(obj.status(), 404);
        let stopped = failure(
            "exec",
            "web",
            1,
            "Error response from daemon: container 3f… is not running",
        );
        assert_eq!(stopped.status(), 404);
        let bad = failure(
            "logs",
            "web",
            1,
            "invalid value for \"since\": failed to parse",
        );
        assert_eq!(bad.status(), 400);
        let daemon = failure(
            "ps",
            "",
            1,
            "Cannot connect to the Docker daemon at unix:///x",
        );
        assert_eq!(daemon.status(), 503);
        assert_eq!(failure("ps", "", 2, "boom").status(), 502);
    }
}
