//! Remote commands over SSH (the `ssh` import).
//!
//! User input only ever travels as separate argv elements, which the host quotes for the
//! remote shell, or as positional parameters (`$1…`) of a constant script declared with
//! [`App::script`](crate::App::script). There is no way to send a shell string.

use std::borrow::Cow;
use std::time::Duration;

use crate::Error;
use crate::bindings::infrastructor::plugin::ssh as wit;

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
}
