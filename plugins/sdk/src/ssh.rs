//! Remote commands over SSH (the `ssh` import).
//!
//! User input only ever travels as separate argv elements, which the host quotes for the
//! remote shell, or as positional parameters (`$1…`) of a constant script declared with
//! [`App::script`](crate::App::script). There is no way to send a shell string.

use std::borrow::Cow;
use std::time::Duration;

use crate::host::ssh as wit;
use crate::{Command, Error};

/// What a remote command did. A command that ran and exited non-zero is still an `Ok`
/// [`ExecOutput`]: use [`ExecOutput::success`] or [`ExecOutput::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The remote exit status; -1 when the command was killed by a signal.
    pub exit_code: i32,
    /// Standard output, capped by the host.
    pub stdout: Vec<u8>,
    /// Standard error, capped by the host.
    pub stderr: Vec<u8>,
    /// Wall-clock time of the command.
    pub duration: Duration,
}

impl ExecOutput {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    /// Standard error as text (invalid UTF-8 replaced).
    pub fn stderr_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }

    /// `Ok(self)` when the command succeeded, otherwise an [`Error::Upstream`] naming
    /// `what` (e.g. `"docker ps"`), the exit code and a summary of standard error.
    pub fn check(self, what: &str) -> Result<Self, Error> {
        if self.success() {
            Ok(self)
        } else {
            Err(Error::upstream(format!(
                "`{what}` failed with exit code {}: {}",
                self.exit_code,
                summarise(&self.stderr_str())
            )))
        }
    }
}

/// The last non-empty lines of `stderr`, at most 500 characters.
pub(crate) fn summarise(stderr: &str) -> String {
    const MAX: usize = 500;
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        return "no error output".to_owned();
    }
    let chars: Vec<char> = trimmed.chars().collect();
    if chars.len() <= MAX {
        trimmed.to_owned()
    } else {
        let tail: String = chars[chars.len() - MAX..].iter().collect();
        format!("…{tail}")
    }
}

pub(crate) fn millis(timeout: Duration) -> u32 {
    u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX)
}

pub(crate) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl From<wit::ExecOutput> for ExecOutput {
    fn from(o: wit::ExecOutput) -> Self {
        Self {
            exit_code: o.exit_code,
            stdout: o.stdout,
            stderr: o.stderr,
            duration: Duration::from_millis(o.duration_ms),
        }
    }
}

/// Runs `argv` on `target` (a registered device's hostname, or a raw host reached with the
/// configured defaults), writing `stdin` to the command when given. `argv[0]` and the argument
/// pattern must be granted (`exec:docker ps *`).
///
/// Errors: unavailable (cannot connect or authenticate), timeout (stopped after `timeout`),
/// forbidden (not granted), bad_request (empty argv).
pub fn exec(
    target: &str,
    argv: &[&str],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<ExecOutput, Error> {
    wit::exec(target, &strings(argv), stdin, millis(timeout))
        .map(Into::into)
        .map_err(Into::into)
}

/// Runs the declared script `script` on `target` as `sh -c SCRIPT sh ARGS…`, so `args`
/// arrive only as `$1…`. Every program the script declares must be granted.
pub fn run_script(
    target: &str,
    script: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<ExecOutput, Error> {
    wit::run_script(target, script, &strings(args), stdin, millis(timeout))
        .map(Into::into)
        .map_err(Into::into)
}

/// Runs `command` on every one of `targets` at once (the host keeps at most 16 in flight):
/// one result per target, in order, each what [`exec`] or [`run_script`] would have
/// answered for that target alone. At most 256 targets. The command is checked against the
/// grants once, before anything runs (forbidden then fails the whole call).
pub fn exec_all(
    targets: &[String],
    command: Command,
    timeout: Duration,
) -> Result<Vec<Result<ExecOutput, Error>>, Error> {
    let results = wit::exec_all(
        targets,
        &crate::manifest_wit::command(command),
        millis(timeout),
    )?;
    Ok(results
        .into_iter()
        .map(|r| r.map(Into::into).map_err(Into::into))
        .collect())
}

/// One end of a [`pipe`]: a command on a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeEnd {
    /// Device hostname or raw host.
    pub target: String,
    /// An argv or a declared script.
    pub command: Command,
}

impl PipeEnd {
    /// `argv` on `target`.
    pub fn argv(target: &str, argv: &[&str]) -> Self {
        Self {
            target: target.to_owned(),
            command: Command::Argv(strings(argv)),
        }
    }

    /// The declared script `script` with `args` as `$1…` on `target`.
    pub fn script(target: &str, script: &str, args: &[&str]) -> Self {
        Self {
            target: target.to_owned(),
            command: Command::Script {
                name: script.to_owned(),
                args: strings(args),
            },
        }
    }

    fn into_wit(self) -> wit::PipeEnd {
        wit::PipeEnd {
            target: self.target,
            command: crate::manifest_wit::command(self.command),
        }
    }
}

/// How one end of a pipe ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeEndResult {
    /// Exit status; -1 when killed, stopped or unknown.
    pub exit_code: i32,
    /// The last 4 KiB of its standard error.
    pub stderr_tail: Vec<u8>,
}

/// What a [`pipe`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeOutput {
    /// Bytes that went from the source into the sink.
    pub bytes: u64,
    /// The source command's end.
    pub source: PipeEndResult,
    /// The sink command's end.
    pub sink: PipeEndResult,
    /// Wall-clock time.
    pub duration: Duration,
}

impl PipeOutput {
    /// `Ok(self)` when both commands exited 0, otherwise an [`Error::Upstream`] naming the
    /// side that failed (the source first), its exit code and its stderr.
    pub fn check(self, what: &str) -> Result<Self, Error> {
        for (side, end) in [("source", &self.source), ("sink", &self.sink)] {
            if end.exit_code != 0 {
                return Err(Error::upstream(format!(
                    "{what}: the {side} failed with exit code {}: {}",
                    end.exit_code,
                    summarise(&String::from_utf8_lossy(&end.stderr_tail))
                )));
            }
        }
        Ok(self)
    }
}

fn end_result(e: wit::PipeEndResult) -> PipeEndResult {
    PipeEndResult {
        exit_code: e.exit_code,
        stderr_tail: e.stderr_tail,
    }
}

/// Streams the stdout of `source` into the stdin of `sink` through the host, with bounded
/// memory (a slow sink slows the source). Both commands must be granted. Inside a job the
/// byte count becomes the job's progress (`expected_bytes` is its total). When either side
/// fails the other is killed; both are on `timeout` (`None`: no limit of its own) or when
/// the job is cancelled.
///
/// Errors: unavailable (a side cannot connect or lost its connection), timeout, forbidden,
/// bad_request (empty argv, unknown script).
pub fn pipe(
    source: PipeEnd,
    sink: PipeEnd,
    expected_bytes: Option<u64>,
    timeout: Option<Duration>,
) -> Result<PipeOutput, Error> {
    let options = wit::PipeOptions {
        timeout_ms: timeout.map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
        expected_bytes,
    };
    wit::pipe(&source.into_wit(), &sink.into_wit(), options)
        .map(|o| PipeOutput {
            bytes: o.bytes,
            source: end_result(o.source),
            sink: end_result(o.sink),
            duration: Duration::from_millis(o.duration_ms),
        })
        .map_err(Into::into)
}

/// Runs `command` on `target` with the request's streamed body as its stdin, for a route
/// declared [`crate::Route::stream_body`]; once per call. Stdout and stderr are captured as
/// for [`exec`]. `timeout` `None` means no limit of its own.
///
/// Errors: as [`exec`]; bad_request when the route has no streamed body, it was already
/// used, or the client stopped sending.
pub fn exec_with_body(
    target: &str,
    command: Command,
    timeout: Option<Duration>,
) -> Result<ExecOutput, Error> {
    wit::exec_with_body(
        target,
        &crate::manifest_wit::command(command),
        timeout.map_or(0, millis),
    )
    .map(Into::into)
    .map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(code: i32, stderr: &str) -> ExecOutput {
        ExecOutput {
            exit_code: code,
            stdout: b"ok\xff".to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            duration: Duration::from_millis(3),
        }
    }

    #[test]
    fn helpers() {
        let o = out(0, "");
        assert!(o.success());
        assert_eq!(o.stdout_str(), "ok\u{fffd}");
        assert!(o.check("true").is_ok());
        let e = out(2, "  boom\n").check("docker ps").expect_err("failed");
        assert_eq!(
            e,
            Error::upstream("`docker ps` failed with exit code 2: boom")
        );
        let long = "x".repeat(600);
        assert_eq!(summarise(&long).chars().count(), 501);
        assert_eq!(summarise(" \n"), "no error output");
        assert_eq!(millis(Duration::from_secs(u64::MAX)), u32::MAX);
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
    }

    #[test]
    fn pipe_check_names_the_failing_side() {
        let end = |code: i32, err: &str| PipeEndResult {
            exit_code: code,
            stderr_tail: err.as_bytes().to_vec(),
        };
        let out = |source, sink| PipeOutput {
            bytes: 3,
            source,
            sink,
            duration: Duration::from_millis(1),
        };
        assert!(out(end(0, ""), end(0, "")).check("send").is_ok());
        assert_eq!(
            out(end(1, "no such dataset"), end(-1, "killed")).check("send"),
            Err(Error::upstream(
                "send: the source failed with exit code 1: no such dataset"
            ))
        );
        assert_eq!(
            out(end(0, ""), end(2, "disk full")).check("send"),
            Err(Error::upstream(
                "send: the sink failed with exit code 2: disk full"
            ))
        );
    }
}
