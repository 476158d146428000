//! The remote scripts that read and change files in SWAG's confs directory, and the calls
//! that run them. Every name reaching them was checked ([`crate::names`]); they still only
//! touch regular files of the directory they are given (no symlinks), bounded in size.

use infrastructor_sdk::prelude::*;

use crate::detect::Detection;

/// Largest file read for the API, in bytes.
pub const MAX_READ_BYTES: u64 = 1024 * 1024;

/// Reads the first of `$3…` that exists in directory `$1`, at most `$2` bytes: prints its
/// name on a line, then its content. Exit 3 no directory, 4 none exists, 5 not a regular
/// file, 6 too big.
pub const READ: &str = r#"d=$1; max=$2; shift 2
cd -- "$d" 2>/dev/null || { echo 'no such directory' >&2; exit 3; }
for f in "$@"; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  { [ -f "$f" ] && [ ! -L "$f" ]; } || { echo "$f is not a regular file" >&2; exit 5; }
  n=$(stat -c %s -- "$f")
  [ "$n" -le "$max" ] || { echo "$f has $n bytes" >&2; exit 6; }
  printf '%s\n' "$f"
  exec cat -- "$f"
done
exit 4
"#;

/// Lists the samples of directory `$1`: `name|size|mtime|type` per sample, then `#versions`
/// and each sample's `## Version` line.
pub const SAMPLES: &str = r#"cd -- "$1" 2>/dev/null || { echo 'no such directory' >&2; exit 3; }
set -- *.conf.sample
[ -e "$1" ] || exit 0
stat -c '%n|%s|%Y|%F' -- "$@" 2>/dev/null
echo '#versions'
grep -m1 -H '^## Version' -- "$@" 2>/dev/null
exit 0
"#;

/// Changes one conf in directory `$1` and proves SWAG still accepts its config:
/// `$2` the file, `$3` the SWAG container, `$4` `create` | `replace` | `delete`, `$5` a
/// timestamp for the backup name; the new content on stdin. `nginx -t` runs in the container
/// before (exit 8 when the config is already broken, nothing written) and after the change;
/// a failed test puts the previous file back (exit 10, nginx's message on stderr). Then
/// `nginx -s reload` (exit 11 when it fails). Exit 3 no directory, 4 no such file, 5 not a
/// regular file, 6 cannot write, 7 cannot back up, 9 exists already. A replaced or deleted
/// file is kept as `.infrastructor-backups/<file>.<timestamp>`, printed as `backup:<path>`.
pub const APPLY: &str = r#"cd -- "$1" 2>/dev/null || { echo 'no such directory' >&2; exit 3; }
f=$2; c=$3; mode=$4
bdir=.infrastructor-backups; b="$bdir/$f.$5"
if [ -e "$f" ] || [ -L "$f" ]; then
  { [ -f "$f" ] && [ ! -L "$f" ]; } || { echo "$f is not a regular file" >&2; exit 5; }
  [ "$mode" = create ] && { echo "$f exists" >&2; exit 9; }
  had=1
else
  [ "$mode" = create ] || { echo "$f does not exist" >&2; exit 4; }
  had=0
fi
if ! out=$(docker exec "$c" nginx -t 2>&1); then printf '%s\n' "$out" >&2; exit 8; fi
tmp=".$f.infrastructor.$$"
if [ "$mode" != delete ]; then
  cat > "$tmp" || { rm -f -- "$tmp"; echo 'cannot write' >&2; exit 6; }
fi
if [ "$had" = 1 ]; then
  { mkdir -p -- "$bdir" && cp -p -- "$f" "$b"; } || { rm -f -- "$tmp"; echo 'cannot back up' >&2; exit 7; }
fi
if [ "$mode" = delete ]; then
  rm -f -- "$f"
else
  mv -f -- "$tmp" "$f" || { rm -f -- "$tmp"; echo 'cannot write' >&2; exit 6; }
fi
if ! out=$(docker exec "$c" nginx -t 2>&1); then
  if [ "$had" = 1 ]; then mv -f -- "$b" "$f"; else rm -f -- "$f"; fi
  printf '%s\n' "$out" >&2; exit 10
fi
docker exec "$c" nginx -s reload >&2 || exit 11
[ "$had" = 1 ] && printf 'backup:%s\n' "$bdir/$f.$5"
exit 0
"#;

/// A file read from the device.
#[derive(Debug, Clone)]
pub struct ReadFile {
    /// Which of the candidates it was.
    pub name: String,
    /// Its content (invalid UTF-8 replaced).
    pub content: String,
}

/// Reads the first of `candidates` that exists in `dir` on `device`; `None` when none does.
pub fn read_first(
    device: &str,
    dir: &str,
    candidates: &[String],
) -> Result<Option<ReadFile>, Error> {
    let max = MAX_READ_BYTES.to_string();
    let mut args = vec![dir, max.as_str()];
    args.extend(candidates.iter().map(String::as_str));
    let out = ssh::run_script(device, "read", &args, None, Duration::from_secs(30))?;
    match out.exit_code {
        0 => {
            let text = out.stdout_str();
            let (name, content) = text.split_once('\n').unwrap_or((&text, ""));
            Ok(Some(ReadFile {
                name: name.to_owned(),
                content: content.to_owned(),
            }))
        }
        4 => Ok(None),
        3 => Err(Error::not_found(format!(
            "`{dir}` does not exist on `{device}`"
        ))),
        5 | 6 => Err(Error::bad_request(format!(
            "cannot read it: {}",
            out.stderr_str().trim()
        ))),
        _ => Err(out
            .check("reading the file")
            .err()
            .unwrap_or_else(|| Error::upstream("reading the file failed"))),
    }
}

/// The confs directory of a detection, or not-found.
pub fn confs_dir(detection: &Detection) -> Result<String, Error> {
    detection.confs_dir().ok_or_else(|| {
        Error::not_found(format!(
            "no SWAG config directory on `{}`",
            detection.device
        ))
    })
}

/// What [`apply`] should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Write a new file (409 when it exists).
    Create,
    /// Replace an existing file (404 when absent).
    Replace,
    /// Delete an existing file (404 when absent).
    Delete,
}

/// Applies `change` to `file` with `content` and checks it with `nginx -t` in the SWAG
/// container, then reloads. Returns the backup's path (relative to the directory), if any.
pub fn apply(
    detection: &Detection,
    file: &str,
    change: Change,
    content: &str,
) -> Result<Option<String>, Error> {
    let Some(container) = detection.container.as_deref() else {
        return Err(Error::conflict(format!(
            "no running SWAG container on `{}`: a change could not be checked with nginx -t",
            detection.device
        )));
    };
    let dir = confs_dir(detection)?;
    let mode = match change {
        Change::Create => "create",
        Change::Replace => "replace",
        Change::Delete => "delete",
    };
    let stamp = crate::records::now_rfc3339()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>();
    let stdin = (change != Change::Delete).then_some(content.as_bytes());
    let out = ssh::run_script(
        &detection.device,
        "apply",
        &[&dir, file, container, mode, &stamp],
        stdin,
        Duration::from_secs(60),
    )?;
    let stderr = out.stderr_str().trim().to_owned();
    match out.exit_code {
        0 => Ok(out
            .stdout_str()
            .lines()
            .find_map(|l| l.strip_prefix("backup:"))
            .map(|b| format!("{dir}/{b}"))),
        3 => Err(Error::not_found(format!(
            "`{dir}` does not exist on `{}`",
            detection.device
        ))),
        4 => Err(Error::not_found(format!("`{file}` does not exist"))),
        5 => Err(Error::bad_request(stderr)),
        9 => Err(Error::conflict(format!(
            "`{file}` exists already (change it with PUT)"
        ))),
        8 => Err(Error::conflict(format!(
            "SWAG's config fails nginx -t before any change, so nothing was written: {}",
            nginx_message(&stderr)
        ))),
        10 => Err(Error::bad_request(format!(
            "nginx -t refused the change, so the previous state was restored: {}",
            nginx_message(&stderr)
        ))),
        11 => Err(Error::upstream(format!(
            "the change passed nginx -t but nginx -s reload failed: {}",
            nginx_message(&stderr)
        ))),
        code => Err(Error::upstream(format!(
            "changing `{file}` failed (exit {code}): {stderr}"
        ))),
    }
}

/// nginx's message without its `test failed` trailer, at most 1000 characters.
fn nginx_message(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("test failed") && !l.trim().is_empty())
        .collect();
    let text = if lines.is_empty() {
        stderr.to_owned()
    } else {
        lines.join("\n")
    };
    text.chars().take(1000).collect()
}
