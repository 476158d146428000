//! Running a ZFS command on a device, with the tool's failure mapped to the API: a pool,
//! dataset or snapshot that does not exist is 404, one that exists already is 409, a busy
//! one 409, anything else 502 with the tool's message.

use infrastructor_sdk::prelude::*;

/// The default timeout of a read.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The default timeout of a change (snapshot, clone, destroy).
pub const CHANGE_TIMEOUT: Duration = Duration::from_secs(120);

/// Maps a failed ZFS command's stderr to an API error.
pub fn failure(what: &str, exit_code: i32, stderr: &str) -> Error {
    let text = stderr.trim();
    let lower = text.to_ascii_lowercase();
    let summary: String = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(4)
        .collect::<Vec<_>>()
        .join(" / ")
        .chars()
        .take(600)
        .collect();
    if lower.contains("does not exist")
        || lower.contains("no such pool")
        || lower.contains("no such dataset")
        || lower.contains("could not find any snapshots")
    {
        Error::not_found(format!("{what}: {summary}"))
    } else if lower.contains("already exists")
        || lower.contains("dataset is busy")
        || lower.contains("pool is busy")
        || lower.contains("currently scrubbing")
        || lower.contains("has dependent clones")
    {
        Error::conflict(format!("{what}: {summary}"))
    } else {
        Error::upstream(format!("{what} failed (exit {exit_code}): {summary}"))
    }
}

/// Runs `argv` on `host`; a non-zero exit is mapped by [`failure`].
pub fn exec(host: &str, argv: &[&str], timeout: Duration) -> Result<ssh::ExecOutput, Error> {
    let out = ssh::exec(host, argv, None, timeout)?;
    if out.success() {
        Ok(out)
    } else {
        Err(failure(
            &argv.iter().take(2).copied().collect::<Vec<_>>().join(" "),
            out.exit_code,
            &out.stderr_str(),
        ))
    }
}

/// Runs the declared script `script` with `args` on `host`; a non-zero exit is mapped by
/// [`failure`].
pub fn script(
    host: &str,
    script: &str,
    args: &[&str],
    timeout: Duration,
) -> Result<ssh::ExecOutput, Error> {
    let out = ssh::run_script(host, script, args, None, timeout)?;
    if out.success() {
        Ok(out)
    } else {
        Err(failure(script, out.exit_code, &out.stderr_str()))
    }
}

/// A parse failure of a tool's output, as a 502 naming it.
pub fn unparsable(e: impl std::fmt::Display) -> Error {
    Error::upstream(format!("unexpected output: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_statuses() {
        assert_eq!(
            failure(
                "zfs list",
                1,
                "cannot open 'tank/x': dataset does not exist\n"
            )
            .kind(),
            "not_found"
        );
        assert_eq!(
            failure("zpool status", 1, "cannot open 'nope': no such pool\n").kind(),
            "not_found"
        );
        assert_eq!(
            failure(
                "zfs snapshot",
                1,
                "cannot create snapshot 'a@b': dataset already exists"
            )
            .kind(),
            "conflict"
        );
        assert_eq!(
            failure(
                "zfs destroy",
                1,
                "cannot destroy 'a@b': snapshot has dependent clones"
            )
            .kind(),
            "conflict"
        );
        assert_eq!(failure("zfs send", 1, "internal error").kind(), "upstream");
    }
}
