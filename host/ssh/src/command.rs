//! Remote command text, built only from argv (quoted) or constant scripts with positional
//! arguments, and wrapped so the remote process group can be stopped on timeout.

use crate::SshError;

/// What to run remotely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteCommand {
    /// A program and its arguments; each element reaches the program as one argument,
    /// byte-exact.
    Argv(Vec<String>),
    /// A constant POSIX sh script and its positional arguments (`$1…`).
    Script {
        /// The script text (never built from user input).
        body: String,
        /// Its arguments.
        args: Vec<String>,
    },
}

/// First stderr line of every wrapped command: the remote process group id.
pub(crate) const PGID_MARKER: &str = "__infra_pgid=";

/// Prints the process group of the command to stderr (one marker line), so a timed-out
/// command can be stopped with all its children. Quiet where `/proc` is missing.
const PREAMBLE: &str = "{ read -r _ _ _ _ __infra_p _ < /proc/$$/stat; } 2>/dev/null && \
printf '__infra_pgid=%s\\n' \"$__infra_p\" >&2; unset __infra_p";

impl RemoteCommand {
    /// A command from argv.
    pub fn argv<S: AsRef<str>>(argv: &[S]) -> RemoteCommand {
        RemoteCommand::Argv(argv.iter().map(|s| s.as_ref().to_string()).collect())
    }

    /// A human-readable form for logs (program and argument count only: arguments may be
    /// sensitive).
    pub fn describe(&self) -> String {
        match self {
            RemoteCommand::Argv(argv) => format!(
                "{} (+{} args)",
                argv.first().map(String::as_str).unwrap_or(""),
                argv.len().saturating_sub(1)
            ),
            RemoteCommand::Script { args, .. } => format!("script (+{} args)", args.len()),
        }
    }

    /// The text sent in the SSH `exec` request: `sh -c 'PREAMBLE; exec "$@"' sh ARGV…` or
    /// `sh -c 'PREAMBLE
    /// SCRIPT' sh ARGS…`, every element quoted for a POSIX shell.
    pub fn to_remote(&self) -> Result<String, SshError> {
        let (script, args): (String, &[String]) = match self {
            RemoteCommand::Argv(argv) => {
                if argv.is_empty() || argv[0].is_empty() {
                    return Err(SshError::Invalid("empty argv".into()));
                }
                (format!("{PREAMBLE}; exec \"$@\""), argv.as_slice())
            }
            RemoteCommand::Script { body, args } => {
                (format!("{PREAMBLE}\n{body}"), args.as_slice())
            }
        };
        let mut words: Vec<&str> = vec!["sh", "-c", &script, "sh"];
        words.extend(args.iter().map(String::as_str));
        shlex::try_join(words).map_err(|_| {
            SshError::Invalid(
                "an argument contains a NUL byte, which no remote program can receive".into(),
            )
        })
    }
}

/// The command text for the SSH `exec` request, refused when longer than `limit` bytes:
/// sshd drops the whole connection on an oversized request ("Bad packet length"), which
/// would fail every other command sharing it, and remote kernels refuse long argument
/// lists (`E2BIG`), so the check happens before anything is sent.
pub(crate) fn remote_text(command: &RemoteCommand, limit: usize) -> Result<String, SshError> {
    let text = command.to_remote()?;
    if text.len() > limit {
        return Err(SshError::CommandTooLarge {
            size: text.len(),
            limit,
        });
    }
    Ok(text)
}

/// Splits the marker line off stderr: (pgid, rest of stderr).
pub(crate) fn take_pgid(stderr: &[u8]) -> (Option<u32>, &[u8]) {
    let Some(rest) = stderr.strip_prefix(PGID_MARKER.as_bytes()) else {
        return (None, stderr);
    };
    let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    let pgid = std::str::from_utf8(&rest[..end])
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let after = rest.get(end + 1..).unwrap_or(&[]);
    (pgid, after)
}

/// The script that stops a process group: TERM now, KILL two seconds later (detached, so
/// the channel closes at once).
pub(crate) fn kill_group(pgid: u32) -> RemoteCommand {
    RemoteCommand::Script {
        body: "kill -s TERM -- \"-$1\" 2>/dev/null; (sleep 2; kill -s KILL -- \"-$1\") >/dev/null 2>&1 </dev/null &".into(),
        args: vec![pgid.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_is_quoted_into_positional_parameters() {
        let text = RemoteCommand::argv(&["echo", "a b", "$(touch /tmp/x)", "it's"])
            .to_remote()
            .expect("quote");
        assert!(text.starts_with("sh -c "));
        assert!(text.contains("'$(touch /tmp/x)'"), "{text}");
        assert!(!text.contains(" $(touch"), "{text}");
    }

    #[test]
    fn empty_argv_and_nul_are_refused() {
        assert!(RemoteCommand::Argv(vec![]).to_remote().is_err());
        assert!(RemoteCommand::argv(&["echo", "a\0b"]).to_remote().is_err());
    }

    #[test]
    fn oversized_commands_are_refused_before_sending() {
        let big = "x".repeat(1000);
        let command = RemoteCommand::argv(&["echo", &big]);
        let text = remote_text(&command, 2000).expect("fits");
        assert!(text.len() > 1000);
        match remote_text(&command, 1000) {
            Err(SshError::CommandTooLarge { size, limit }) => {
                assert_eq!(size, text.len());
                assert_eq!(limit, 1000);
            }
            other => panic!("expected CommandTooLarge, got {other:?}"),
        }
    }

    #[test]
    fn pgid_marker_is_split_off() {
        let (pgid, rest) = take_pgid(b"__infra_pgid=4242\nreal error\n");
        assert_eq!(pgid, Some(4242));
        assert_eq!(rest, b"real error\n");
        let (pgid, rest) = take_pgid(b"no marker");
        assert_eq!(pgid, None);
        assert_eq!(rest, b"no marker");
    }
}
