//! `POST /{hostname}/{container}/exec`: `docker exec` with the command as argv (a JSON array
//! in the body, or the Python original's `command` query string split with shell-word rules),
//! never through a remote shell. Exit 125 → 404 (container missing or not running),
//! 126/127 → 400 with docker's own reason (not executable, bad workdir, not found; an
//! argument list the kernel refuses is 413), docker unable to reach its daemon → 503, any
//! other non-zero exit of the command → 200 with `success: false`.

use infrastructor_sdk::prelude::*;
use serde::{Deserialize, Serialize};

use crate::docker::failure;
use crate::parse::names::split_command;

/// The body: every field optional (the query form may be used instead). Its JSON Schema is
/// derived from this type.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ExecBody {
    /// argv: the program and its arguments
    #[schemars(length(min = 1, max = 256), inner(length(max = 4096)))]
    pub command: Option<Vec<String>>,
    /// `--user`: `name`, `uid`, `uid:gid` or `name:group`.
    #[schemars(regex(pattern = USER_PATTERN))]
    pub user: Option<String>,
    /// `--workdir`: an absolute path.
    #[schemars(regex(pattern = "^/.{0,1023}$"))]
    pub workdir: Option<String>,
    /// Environment variables (`--env NAME=VALUE`).
    #[schemars(extend(
        "propertyNames" = {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"},
        "additionalProperties" = {"type": "string", "maxLength": 4096}
    ))]
    pub env: Option<std::collections::BTreeMap<String, String>>,
}

/// The answer of an exec that ran the command (whatever its exit status).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExecResult {
    /// `exec`.
    pub action: String,
    /// The container as named in the path.
    pub container_name: String,
    /// The device.
    pub hostname: String,
    /// The argv run.
    pub command: Vec<String>,
    /// Whether the command exited 0.
    pub success: bool,
    /// Its exit status.
    pub exit_code: i32,
    /// Its standard output (capped by the host).
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// How long it ran, in seconds.
    pub execution_time: f64,
}

/// Pattern of `user` (`name`, `uid`, `uid:gid`, `name:group`).
pub const USER_PATTERN: &str =
    "^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,63}(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,63})?$";

/// docker exec's argv.
fn docker_argv(container: &str, body: &ExecBody, command: &[String]) -> Vec<String> {
    let mut argv = vec!["docker".to_string(), "exec".to_string()];
    if let Some(u) = &body.user {
        argv.push(format!("--user={u}"));
    }
    if let Some(w) = &body.workdir {
        argv.push(format!("--workdir={w}"));
    }
    for (k, v) in body.env.iter().flatten() {
        argv.push(format!("--env={k}={v}"));
    }
    argv.push("--".into());
    argv.push(container.to_string());
    argv.extend(command.iter().cloned());
    argv
}

/// `POST /{hostname}/{container}/exec`.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let hostname = req.path("hostname")?;
    let container = req.path("container")?;
    let timeout: u64 = req.query_as("timeout")?;
    let mut body: ExecBody = match req.body_str() {
        Some(b) if !b.trim().is_empty() => req.body()?,
        _ => ExecBody::default(),
    };
    if body.user.is_none() {
        body.user = req.query_str("user").map(str::to_string);
    }
    if body.workdir.is_none() {
        body.workdir = req.query_str("workdir").map(str::to_string);
    }
    let command = match (&body.command, req.query_str("command")) {
        (Some(c), None) => c.clone(),
        (None, Some(q)) => split_command(q).map_err(|e| Error::bad_request(e.to_string()))?,
        (Some(_), Some(_)) => {
            return Err(Error::bad_request(
                "give the command once: a JSON array in the body or the `command` query",
            ));
        }
        (None, None) => {
            return Err(Error::bad_request(
                "`command` is required: a JSON array in the body or a `command` query string",
            ));
        }
    };
    let argv = docker_argv(container, &body, &command);
    let argv_refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = ssh::exec(hostname, &argv_refs, None, Duration::from_secs(timeout))?;
    let stderr = out.stderr_str().into_owned();
    if let Some(e) = exec_failure(
        &command[0],
        container,
        out.exit_code,
        &out.stdout_str(),
        &stderr,
    ) {
        return Err(e);
    }
    Ok(Json(ExecResult {
        action: "exec".to_owned(),
        container_name: container.to_owned(),
        hostname: hostname.to_owned(),
        command,
        success: out.exit_code == 0,
        exit_code: out.exit_code,
        stdout: out.stdout_str().into_owned(),
        stderr,
        execution_time: out.duration.as_secs_f64(),
    })
    .into())
}

/// The error for an exec that did not run the command: docker's own failures (exit 125,
/// 126, 127, or 1 from a daemon that refused or could not be reached), each with what
/// docker said — on stdout for 126/127, where docker prints the runtime's reason. `None`
/// when the command ran (whatever its exit status).
fn exec_failure(
    program: &str,
    container: &str,
    exit_code: i32,
    stdout: &str,
    stderr: &str,
) -> Option<Error> {
    let said = || {
        let text = [stderr.trim(), stdout.trim()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let mut text = text.replace('\n', " ");
        if text.len() > 1024 {
            let mut end = 1024;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        if text.is_empty() {
            "docker gave no reason".to_owned()
        } else {
            text
        }
    };
    match exit_code {
        125 => Some(failure("exec", container, 125, stderr).into_not_found(container)),
        126 | 127
            if said()
                .to_ascii_lowercase()
                .contains("argument list too long") =>
        {
            Some(Error::too_large(format!(
                "the command line is too long for {container}: {}",
                said()
            )))
        }
        126 => Some(Error::bad_request(format!(
            "{program} could not be started in {container}: {}",
            said()
        ))),
        127 => Some(Error::bad_request(format!(
            "{program}: command not found in {container}: {}",
            said()
        ))),
        1 if is_daemon_unreachable(stderr) => Some(failure("exec", container, 1, stderr)),
        1 if is_daemon_refusal(stderr) => {
            Some(failure("exec", container, 1, stderr).into_not_found(container))
        }
        _ => None,
    }
}

/// docker could not reach its daemon (down, or no permission on its socket): the command
/// never started.
fn is_daemon_unreachable(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    s.contains("cannot connect to the docker daemon")
        || s.contains("while trying to connect to the docker daemon socket")
}

/// Old docker clients exit 1 (not 125) when the daemon refuses the exec itself.
fn is_daemon_refusal(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    s.contains("no such container") || s.contains("is not running") || s.contains("is paused")
}

trait IntoNotFound {
    fn into_not_found(self, container: &str) -> Error;
}

impl IntoNotFound for Error {
    /// docker exec's 125 means the exec could not start: the container is missing, stopped
    /// or paused; all are a 404 for this route.
    fn into_not_found(self, container: &str) -> Error {
        match self {
            Error::NotFound(m) => Error::NotFound(m),
            other => Error::not_found(format!(
                "container {container} is missing or not running: {}",
                other.message()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_schema_keeps_every_bound() {
        let s = infrastructor_sdk::schema::schema_of::<ExecBody>();
        let p = &s["properties"];
        assert_eq!(p["command"]["minItems"], 1, "{s}");
        assert_eq!(p["command"]["maxItems"], 256);
        assert_eq!(p["command"]["items"]["maxLength"], 4096);
        assert_eq!(p["user"]["pattern"], USER_PATTERN);
        assert_eq!(p["workdir"]["pattern"], "^/.{0,1023}$");
        assert_eq!(
            p["env"]["propertyNames"]["pattern"],
            "^[A-Za-z_][A-Za-z0-9_]{0,127}$"
        );
        assert_eq!(p["env"]["additionalProperties"]["maxLength"], 4096, "{s}");
    }

    #[test]
    fn docker_failures_keep_dockers_reason() {
        let missing = exec_failure(
            "nope",
            "web",
            127,
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nope\": executable file not found in $PATH: unknown\n",
            "",
        )
        .expect("failure");
        assert_eq!(missing.status(), 400);
        assert!(
            missing.message().contains("executable file not found"),
            "{missing}"
        );
        let workdir = exec_failure(
            "ls",
            "web",
            126,
            "OCI runtime exec failed: exec failed: unable to start container process: chdir to cwd (\"/nowhere\") set in config.json failed: no such file or directory: unknown\n",
            "",
        )
        .expect("failure");
        assert!(workdir.message().contains("chdir to cwd"), "{workdir}");
        assert_ne!(missing.message(), workdir.message());
        let daemon = exec_failure(
            "ls",
            "web",
            1,
            "",
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
        )
        .expect("failure");
        assert_eq!(daemon.status(), 503);
        let long =
            exec_failure("echo", "web", 126, "", "sh: Argument list too long\n").expect("failure");
        assert_eq!(long.status(), 413);
        assert!(exec_failure("false", "web", 1, "", "").is_none());
        assert!(exec_failure("sh", "web", 3, "", "boom").is_none());
    }

    #[test]
    fn the_command_stays_argv_after_the_container() {
        let body = ExecBody {
            command: None,
            user: Some("1000:1000".into()),
            workdir: Some("/tmp".into()),
            env: Some([("A".to_string(), "x y".to_string())].into()),
        };
        let argv = docker_argv(
            "web",
            &body,
            &["sh".into(), "-c".into(), "echo $A; rm -rf /".into()],
        );
        assert_eq!(
            argv,
            [
                "docker",
                "exec",
                "--user=1000:1000",
                "--workdir=/tmp",
                "--env=A=x y",
                "--",
                "web",
                "sh",
                "-c",
                "echo $A; rm -rf /"
            ]
        );
    }
}
