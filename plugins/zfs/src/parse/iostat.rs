//! `zpool iostat [-v]` (one report, no interval): capacity, operations and bandwidth per pool,
//! and per vdev with `-v`.

use infrastructor_sdk::text::ParseError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::indent_width;
use super::size::parse_size;

const CMD: &str = "zpool iostat";

/// One row of `zpool iostat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IostatRow {
    /// The pool the row belongs to.
    pub pool: String,
    /// The pool, vdev or group (`logs`, `cache`) name as printed.
    pub name: String,
    /// 0 for a pool, 1 for its top-level vdevs and groups, 2 below…
    pub depth: usize,
    /// Allocated bytes; `None` for `-` (the members of a mirror or raidz).
    pub alloc: Option<u64>,
    /// Free bytes.
    pub free: Option<u64>,
    /// Read operations per second (the average since boot for the first report).
    pub read_ops: Option<u64>,
    /// Write operations per second.
    pub write_ops: Option<u64>,
    /// Bytes read per second.
    pub read_bytes: Option<u64>,
    /// Bytes written per second.
    pub write_bytes: Option<u64>,
    /// Further columns (`-c` scripts, `size`), as printed.
    pub extra: Vec<String>,
}

/// Whether a line is part of the header or a separator.
fn is_decoration(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("capacity")
        || t.starts_with("pool ")
        || t == "pool"
        || t.chars().all(|c| c == '-' || c.is_whitespace())
}

/// Parses one `zpool iostat [-v]` report. Depths come from the indentation (2 columns per
/// level; zfs-fuse shifts over-long names right, which only affects their depth by one at
/// most). Empty output and `no pools available` are an empty success; a row without six
/// figures after its name is an error naming its line.
pub fn parse_iostat(text: &str) -> Result<Vec<IostatRow>, ParseError> {
    let mut rows = Vec::new();
    let mut pool = String::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() || line.trim() == "no pools available" || is_decoration(line) {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 7 {
            return Err(ParseError::at(
                CMD,
                n,
                format!("{} fields, expected a name and 6 figures", words.len()),
            ));
        }
        let figures: Vec<Option<u64>> = words[1..7].iter().map(|w| parse_size(w)).collect();
        if words[1..7]
            .iter()
            .zip(&figures)
            .any(|(w, f)| f.is_none() && *w != "-")
        {
            return Err(ParseError::at(CMD, n, "bad figures"));
        }
        let depth = indent_width(line).div_ceil(2);
        if depth == 0 {
            pool = words[0].to_string();
        } else if pool.is_empty() {
            return Err(ParseError::at(CMD, n, "a vdev row before any pool row"));
        }
        rows.push(IostatRow {
            pool: pool.clone(),
            name: words[0].to_string(),
            depth,
            alloc: figures[0],
            free: figures[1],
            read_ops: figures[2],
            write_ops: figures[3],
            read_bytes: figures[4],
            write_bytes: figures[5],
            extra: words[7..].iter().map(|w| (*w).to_string()).collect(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::testing::fixture;

    #[test]
    fn openzfs() {
        let rows = parse_iostat(&fixture("zfs/zpool-iostat.out")).expect("ok");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].name, "zint500");
        assert_eq!(rows[1].alloc, Some(230 * 1024 * 1024 * 1024));
        assert_eq!(rows[1].write_ops, Some(9));
        assert_eq!(rows[2].read_bytes, parse_size("14.7K"));
        let rows = parse_iostat(&fixture("zfs/zpool-iostat-v.out")).expect("ok");
        assert_eq!(rows.len(), 6);
        assert_eq!(rows.iter().filter(|r| r.depth == 0).count(), 3);
        assert_eq!(rows[3].pool, "zint500");
        assert_eq!(rows[3].name, "ST3500418AS-5VMSTSSX:5");
        assert_eq!(rows[3].depth, 1);
    }

    #[test]
    fn zfs_fuse() {
        let rows = parse_iostat(&fixture("zfs/zfs-fuse_zpool-iostat.txt")).expect("ok");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].name, "zfsfix_big");
        assert_eq!(rows[0].read_bytes, parse_size("6.86M"));
        let rows = parse_iostat(&fixture("zfs/zfs-fuse_zpool-iostat-v.txt")).expect("ok");
        assert_eq!(rows.len(), 9);
        let x = rows
            .iter()
            .find(|r| r.name == "/tmp/zfsfix/x.img")
            .expect("x");
        assert_eq!(
            (x.pool.as_str(), x.depth, x.alloc),
            ("zfsfix_demo", 2, None)
        );
        assert_eq!(x.read_ops, Some(13));
        let log = rows
            .iter()
            .find(|r| r.name == "/tmp/zfsfix/l.img")
            .expect("log");
        assert_eq!(log.write_bytes, parse_size("7.91K"));
    }

    #[test]
    fn extra_columns_and_errors() {
        let text = fixture("zfs/zpool-status-c_and_iostat-vc_openzfs-man.txt");
        let iostat = &text[text.find("              capacity").expect("iostat part")..];
        let rows = parse_iostat(iostat).expect("ok");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].extra, ["70G"]);
        assert_eq!(parse_iostat(""), Ok(vec![]));
        assert_eq!(
            parse_iostat("tank 1G 2G\n").expect_err("short").line,
            Some(1)
        );
        assert!(parse_iostat("tank 1G 2G x 0 0 0\n").is_err());
        assert!(parse_iostat("  sda 1G 2G 0 0 0 0\n").is_err());
    }
}
