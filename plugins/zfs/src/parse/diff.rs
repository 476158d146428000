//! `zfs diff [-F] [-H] [-t]`: the changes between a snapshot and a later snapshot or the live
//! dataset. zfs-fuse has no `zfs diff`.
//!
//! Each line is `<change>\t[<type>\t]<path>` (`-F` adds the type), renames end in `\t->\t<new
//! path>` (` -> ` without `-H`), a directory whose link count changed ends in `\t(+1)`, and
//! `-t` puts the change time first. zfs writes unprintable bytes and spaces in paths as
//! `\NNNN` octal escapes, decoded here.

use infrastructor_sdk::text::ParseError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

const CMD: &str = "zfs diff";

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiffChange {
    /// `+`: created.
    Added,
    /// `-`: removed.
    Removed,
    /// `M`: modified (contents, metadata or link count).
    Modified,
    /// `R`: renamed.
    Renamed,
}

/// One line of `zfs diff`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DiffEntry {
    /// What happened.
    pub change: DiffChange,
    /// The file type with `-F`: `file`, `directory`, `symlink`, `block_device`,
    /// `character_device`, `socket`, `fifo`, `door`, `event_port`.
    pub file_type: Option<String>,
    /// The path (the old one for a rename), escapes decoded.
    pub path: String,
    /// The new path of a rename.
    pub new_path: Option<String>,
    /// The change in link count zfs appends for a modified directory (`(+1)` → 1).
    pub link_delta: Option<i64>,
    /// The change time with `-t` (`1234567890.123456789`), as printed.
    pub time: Option<String>,
}

/// The `-F` type letter's name.
fn file_type(letter: &str) -> Option<&'static str> {
    Some(match letter {
        "F" => "file",
        "/" => "directory",
        "@" => "symlink",
        "B" => "block_device",
        "C" => "character_device",
        "=" => "socket",
        "|" => "fifo",
        ">" => "door",
        "P" => "event_port",
        _ => return None,
    })
}

/// Decodes zfs' `\NNNN` octal escapes (`\0040` is a space); other text is kept.
fn unescape(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 4 < bytes.len()
            && bytes[i + 1..i + 5]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value = bytes[i + 1..i + 5]
                .iter()
                .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
            if let Ok(byte) = u8::try_from(value) {
                out.push(byte);
                i += 5;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `zfs diff [-F] [-H] [-t]` output. Empty output (no change) is an empty success; a
/// line without a known change letter and a path is an error naming it.
pub fn parse_diff(text: &str) -> Result<Vec<DiffEntry>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let mut fields: Vec<&str> = if line.contains('\t') {
            line.split('\t')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .collect()
        } else {
            line.split_whitespace().collect()
        };
        let time = match fields.first() {
            Some(t) if t.contains('.') && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
                let t = (*t).to_string();
                fields.remove(0);
                Some(t)
            }
            _ => None,
        };
        let change = match fields.first().copied() {
            Some("+") => DiffChange::Added,
            Some("-") => DiffChange::Removed,
            Some("M") => DiffChange::Modified,
            Some("R") => DiffChange::Renamed,
            other => {
                return Err(ParseError::at(CMD, n, format!("unknown change {other:?}")));
            }
        };
        fields.remove(0);
        let file_type = match fields.as_slice() {
            [t, _, ..] => file_type(t).map(str::to_string),
            _ => None,
        };
        if file_type.is_some() {
            fields.remove(0);
        }
        let link_delta = match fields.last() {
            Some(l) if fields.len() > 1 && l.starts_with('(') && l.ends_with(')') => {
                l[1..l.len() - 1].parse::<i64>().ok()
            }
            _ => None,
        };
        if link_delta.is_some() {
            fields.pop();
        }
        let rest = fields.join(" ");
        if rest.is_empty() {
            return Err(ParseError::at(CMD, n, "no path"));
        }
        let (path, new_path) = match rest.split_once(" -> ") {
            Some((a, b)) if change == DiffChange::Renamed => (a, Some(unescape(b.trim()))),
            _ => (rest.as_str(), None),
        };
        if change == DiffChange::Renamed && new_path.is_none() {
            return Err(ParseError::at(CMD, n, "a rename without \" -> \""));
        }
        out.push(DiffEntry {
            change,
            file_type,
            path: unescape(path.trim()),
            new_path,
            link_delta,
            time,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::testing::fixture;

    #[test]
    fn man_page() {
        let d = parse_diff(&fixture("zfs/zfs-diff-F_openzfs-man.txt")).expect("ok");
        assert_eq!(d.len(), 6);
        assert_eq!(d[0].change, DiffChange::Modified);
        assert_eq!(d[0].file_type.as_deref(), Some("directory"));
        assert_eq!(d[0].path, "/tank/test/");
        assert_eq!(d[1].link_delta, Some(1));
        assert_eq!(d[1].path, "/tank/test/linked");
        assert_eq!(d[2].change, DiffChange::Renamed);
        assert_eq!(d[2].path, "/tank/test/oldname");
        assert_eq!(d[2].new_path.as_deref(), Some("/tank/test/newname"));
        assert_eq!(d[3].change, DiffChange::Removed);
        assert_eq!(d[4].change, DiffChange::Added);
        assert_eq!(d[5].file_type.as_deref(), Some("file"));
    }

    #[test]
    fn tabs_escapes_and_times() {
        let d = parse_diff(
            "1764661500.123456789\tR\tF\t/t/a\\0040b\t->\t/t/c\n+\t/t/new file\nM\t/\t/t/\t(-2)\n",
        )
        .expect("ok");
        assert_eq!(d[0].time.as_deref(), Some("1764661500.123456789"));
        assert_eq!(d[0].path, "/t/a b");
        assert_eq!(d[0].new_path.as_deref(), Some("/t/c"));
        assert_eq!(d[1].file_type, None);
        assert_eq!(d[1].path, "/t/new file");
        assert_eq!(d[2].link_delta, Some(-2));
        assert_eq!(parse_diff(""), Ok(vec![]));
        assert_eq!(parse_diff("X\t/a\n").expect_err("bad").line, Some(1));
        assert!(parse_diff("R\tF\t/a\n").is_err());
        assert!(parse_diff("M\n").is_err());
        assert!(parse_diff(&fixture("zfs/zfs-fuse_zfs-diff_error.txt")).is_err());
    }
}
