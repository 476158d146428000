//! `POST /{hostname}/{container}/exec`: `docker exec` with the command as argv (a JSON array
//! in the body, or the Python original's `command` query string split with shell-word rules),
//! never through a remote shell. Exit 125 → 404 (container missing or not running),
//! 126/127 → 400 (not executable / not found), other non-zero → 200 with `success: false`.

use infrastructor_sdk::prelude::*;
use serde::Deserialize;

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
    match out.exit_code {
        125 => return Err(failure("exec", container, 125, &stderr).into_not_found(container)),
        126 => {
            return Err(Error::bad_request(format!(
                "{}: not executable in {container}: {}",
                command[0],
                stderr.trim()
            )));
        }
        127 => {
            return Err(Error::bad_request(format!(
                "{}: command not found in {container}",
                command[0]
            )));
        }
        1 if is_daemon_refusal(&stderr) => {
            return Err(failure("exec", container, 1, &stderr).into_not_found(container));
        }
        _ => {}
    }
    Ok(Json(json!({
        "action": "exec",
        "container_name": container,
        "hostname": hostname,
        "command": command,
        "success": out.exit_code == 0,
        "exit_code": out.exit_code,
        "stdout": out.stdout_str(),
        "stderr": stderr,
        "execution_time": out.duration.as_secs_f64(),
    }))
    .into())
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
