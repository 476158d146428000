//! `df`: the POSIX byte listing `df -P -B1` (what the plugin runs), and also `df`, `df -P`,
//! `df -PT`/`df -T` and `df -h` as other tools print them.

use serde::Serialize;

use super::spans;
use super::{ParseError, parse_human_size};

const CMD: &str = "df";

/// One mounted filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DfEntry {
    /// The `Filesystem` column (device, or `tmpfs`, `udev`…).
    pub filesystem: String,
    /// The `Type` column (`df -T` only).
    pub fs_type: Option<String>,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Used bytes.
    pub used_bytes: u64,
    /// Available bytes.
    pub available_bytes: u64,
    /// `Use%`/`Capacity`; `None` where df prints `-` (pseudo filesystems of size 0).
    pub use_percent: Option<u8>,
    /// Mount point (may contain spaces).
    pub mount_point: String,
}

/// A whole `df` listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DfOutput {
    /// Bytes per block of the size columns (`1` for `-B1`, `1024` for `-P`/`1K-blocks`);
    /// `None` for human-readable sizes (`-h`).
    pub block_size: Option<u64>,
    /// Whether the byte counts are exact (`false` for `-h`, whose sizes are rounded and
    /// read as powers of 1024).
    pub exact: bool,
    /// The filesystems, in df's order.
    pub filesystems: Vec<DfEntry>,
}

/// Bytes per block of a size header: `1-blocks`, `1B-blocks`, `512-blocks`, `1024-blocks`,
/// `1K-blocks`, `1M-blocks`, `1kB-blocks`.
fn block_unit(header: &str) -> Option<u64> {
    let size = header.strip_suffix("-blocks")?;
    let split = size
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(size.len(), |(i, _)| i);
    let (digits, suffix) = size.split_at(split);
    let scale: u64 = match suffix {
        "" | "B" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "kB" | "KB" => 1000,
        "MB" => 1_000_000,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

struct Layout {
    typed: bool,
    unit: Option<u64>,
}

impl Layout {
    fn size(&self, s: &str) -> Option<u64> {
        if s == "-" {
            return Some(0);
        }
        match self.unit {
            Some(unit) if s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse::<u64>().ok()?.checked_mul(unit)
            }
            Some(_) => None,
            None => parse_human_size(s),
        }
    }
}

fn percent(s: &str) -> Option<Option<u8>> {
    if s == "-" {
        return Some(None);
    }
    let n: u8 = s.strip_suffix('%')?.parse().ok()?;
    (n <= 100).then_some(Some(n))
}

/// Tries to read `line` as a data row whose filesystem name starts with `prefix` (the
/// previous line when df wrapped a long name onto its own line).
fn row(layout: &Layout, line: &str, prefix: Option<&str>) -> Option<DfEntry> {
    let t = spans(line);
    let first = usize::from(prefix.is_none()) + usize::from(layout.typed);
    (first..t.len()).find_map(|p| {
        let size = layout.size(t[p].1)?;
        let used = layout.size(t.get(p + 1)?.1)?;
        let available = layout.size(t.get(p + 2)?.1)?;
        let use_percent = percent(t.get(p + 3)?.1)?;
        let mount_point = line[t.get(p + 4)?.0..].trim_end().to_string();
        let name_end = if layout.typed { t[p - 1].0 } else { t[p].0 };
        let own = line[..name_end].trim();
        let filesystem = match prefix {
            Some(prefix) if own.is_empty() => prefix.to_string(),
            Some(prefix) => format!("{prefix} {own}"),
            None => own.to_string(),
        };
        if filesystem.is_empty() {
            return None;
        }
        Some(DfEntry {
            filesystem,
            fs_type: layout.typed.then(|| t[p - 1].1.to_string()),
            size_bytes: size,
            used_bytes: used,
            available_bytes: available,
            use_percent,
            mount_point,
        })
    })
}

/// Parses a `df` listing. The header decides the layout: an optional `Type` column and the
/// size unit (`1-blocks`, `1B-blocks`, `1024-blocks`, `1K-blocks`… or `Size` for `-h`). A
/// filesystem name too long for its column may stand alone on its line, with its numbers on
/// the next one. `df -i` (inodes) is refused.
pub fn parse_df(text: &str) -> Result<DfOutput, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| ParseError::new(CMD, "empty output"))?;
    let h: Vec<&str> = header.split_whitespace().collect();
    if h.first() != Some(&"Filesystem") {
        return Err(ParseError::at(CMD, 1, "no `Filesystem` header"));
    }
    let typed = h.get(1) == Some(&"Type");
    let size_header = h.get(1 + usize::from(typed)).copied().unwrap_or_default();
    let unit = match size_header {
        "Size" => None,
        "Inodes" => {
            return Err(ParseError::at(
                CMD,
                1,
                "inode listing (df -i) is not supported",
            ));
        }
        other => Some(
            block_unit(other)
                .ok_or_else(|| ParseError::at(CMD, 1, format!("unknown size column `{other}`")))?,
        ),
    };
    let layout = Layout { typed, unit };
    let mut filesystems = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in lines {
        let line_no = i + 1;
        match pending.take() {
            Some((_, name)) => {
                // df indents the numbers of a wrapped name.
                let entry = Some(line)
                    .filter(|l| l.starts_with(char::is_whitespace))
                    .and_then(|l| row(&layout, l, Some(&name)))
                    .ok_or_else(|| {
                        ParseError::at(
                            CMD,
                            line_no,
                            format!(
                                "expected the sizes of `{name}` (wrapped from the line before)"
                            ),
                        )
                    })?;
                filesystems.push(entry);
            }
            None => match row(&layout, line, None) {
                Some(entry) => filesystems.push(entry),
                None if line.starts_with(char::is_whitespace) => {
                    return Err(ParseError::at(
                        CMD,
                        line_no,
                        format!(
                            "expected {} columns: {}",
                            if typed { 7 } else { 6 },
                            line.trim()
                        ),
                    ));
                }
                None => pending = Some((line_no, line.trim().to_string())),
            },
        }
    }
    if let Some((line_no, name)) = pending {
        return Err(ParseError::at(
            CMD,
            line_no,
            format!("expected {} columns: {name}", if typed { 7 } else { 6 }),
        ));
    }
    Ok(DfOutput {
        block_size: unit,
        exact: unit.is_some(),
        filesystems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::fixture;

    #[test]
    fn posix_bytes() {
        // What the plugin runs: `df -P -B1` (coreutils 9 prints `1-blocks` here, and
        // `1B-blocks` without -P).
        let text =
            "Filesystem                  1-blocks        Used   Available Capacity Mounted on
/dev/sda2                20999417856  5885980672 14024097792      30% /
tmpfs                    25276514304           0 25276514304       0% /dev/shm
/dev/sdb1              1000000000000   400000000  999600000000       1% /media/user/My Disk
";
        let df = parse_df(text).expect("df -P -B1");
        assert_eq!(df.block_size, Some(1));
        assert!(df.exact);
        assert_eq!(df.filesystems.len(), 3);
        assert_eq!(df.filesystems[0].size_bytes, 20_999_417_856);
        assert_eq!(df.filesystems[0].use_percent, Some(30));
        assert_eq!(df.filesystems[2].mount_point, "/media/user/My Disk");
        let b = parse_df("Filesystem 1B-blocks Used Available Use% Mounted on\nx 10 5 5 50% /x\n")
            .expect("1B-blocks");
        assert_eq!(b.filesystems[0].used_bytes, 5);
    }

    #[test]
    fn df_kilobytes_fixture() {
        let df = parse_df(&fixture("system/df_ubuntu-18.04.out")).expect("df");
        assert_eq!(df.block_size, Some(1024));
        assert_eq!(df.filesystems.len(), 18);
        let root = df
            .filesystems
            .iter()
            .find(|f| f.mount_point == "/")
            .expect("root");
        assert_eq!(root.filesystem, "/dev/sda2");
        assert_eq!(root.size_bytes, 20_508_240 * 1024);
        assert_eq!(root.used_bytes, 5_748_028 * 1024);
        assert_eq!(root.available_bytes, 13_695_408 * 1024);
        assert_eq!(root.use_percent, Some(30));
        assert_eq!(root.fs_type, None);
    }

    #[test]
    fn df_pt_fixture() {
        let df = parse_df(&fixture("system/df-PT_local_ubuntu-laptop.txt")).expect("df -PT");
        assert_eq!(df.filesystems.len(), 10);
        let root = &df.filesystems[2];
        assert_eq!(root.filesystem, "/dev/mapper/platonas-root");
        assert_eq!(root.fs_type.as_deref(), Some("ext4"));
        assert_eq!(root.size_bytes, 471_950_640 * 1024);
        assert_eq!(root.use_percent, Some(33));
        assert_eq!(df.filesystems[6].use_percent, Some(100));
        assert_eq!(df.filesystems[6].mount_point, "/snap/kubectl/250");
    }

    #[test]
    fn df_h_fixture() {
        let df = parse_df(&fixture("system/df-h_ubuntu-18.04.out")).expect("df -h");
        assert_eq!(df.block_size, None);
        assert!(!df.exact);
        assert_eq!(df.filesystems.len(), 18);
        let root = &df.filesystems[2];
        assert_eq!(root.mount_point, "/");
        assert_eq!(root.size_bytes, 20 * (1 << 30));
        assert_eq!(root.used_bytes, (5.5 * f64::from(1 << 30)) as u64);
        assert_eq!(df.filesystems[1].used_bytes, 1_258_291, "1.2M");
        assert_eq!(df.filesystems[3].used_bytes, 0);
    }

    #[test]
    fn long_filesystem_fixture() {
        // The fixture's long name did not wrap (POSIX mode keeps it on its line); the pseudo
        // filesystems print `-` as their capacity.
        let df = parse_df(&fixture("system/df-long-filesystem.out")).expect("long");
        assert_eq!(df.filesystems.len(), 3);
        assert_eq!(
            df.filesystems[0].filesystem,
            "/dev/mapper/VolGroup00-LogVol00"
        );
        assert_eq!(df.filesystems[0].fs_type.as_deref(), Some("ext3"));
        assert_eq!(df.filesystems[0].size_bytes, 6_030_784 * 1024);
        assert_eq!(df.filesystems[1].use_percent, None);
        assert_eq!(df.filesystems[1].mount_point, "/proc");
        assert_eq!(df.filesystems[2].fs_type.as_deref(), Some("sysfs"));
    }

    #[test]
    fn wrapped_names() {
        let text = "Filesystem           1K-blocks      Used Available Use% Mounted on
/dev/mapper/VolGroup00-LogVol00
                       6030784   1147932   4571556  21% /
tmpfs                   201732      1204    200528   1% /run
/dev/mapper/a-very-long-volume-name-indeed
                          1024         0      1024   0% /mnt/with space
";
        let df = parse_df(text).expect("wrapped");
        assert_eq!(df.filesystems.len(), 3);
        assert_eq!(
            df.filesystems[0].filesystem,
            "/dev/mapper/VolGroup00-LogVol00"
        );
        assert_eq!(df.filesystems[0].used_bytes, 1_147_932 * 1024);
        assert_eq!(df.filesystems[2].mount_point, "/mnt/with space");
        let typed = "Filesystem     Type 1K-blocks Used Available Use% Mounted on
/dev/mapper/VolGroup00-LogVol00
               ext4   100  50  50  50% /
";
        let df = parse_df(typed).expect("wrapped typed");
        assert_eq!(df.filesystems[0].fs_type.as_deref(), Some("ext4"));
        assert_eq!(
            df.filesystems[0].filesystem,
            "/dev/mapper/VolGroup00-LogVol00"
        );
    }

    #[test]
    fn odd_input() {
        assert_eq!(
            parse_df("").expect_err("empty").to_string(),
            "df: empty output"
        );
        assert!(parse_df("garbage\n").is_err());
        assert!(parse_df("Filesystem Inodes IUsed IFree IUse% Mounted on\n").is_err());
        assert!(parse_df("Filesystem 4X-blocks Used Available Use% Mounted on\n").is_err());
        let e = parse_df("Filesystem 1B-blocks Used Available Use% Mounted on\n/dev/x 1 2\n")
            .expect_err("short");
        assert_eq!(e.to_string(), "df: line 2: expected 6 columns: /dev/x 1 2");
        let e = parse_df("Filesystem 1B-blocks Used Available Use% Mounted on\n/dev/x\n/dev/y 1 2 3 4% /\nz 1 2 3 4% /z\n")
            .expect_err("two names");
        assert_eq!(e.line, Some(3));
        assert!(
            parse_df("Filesystem 1B-blocks Used Available Use% Mounted on\n/dev/x 1 2 3 400% /\n")
                .is_err()
        );
        assert!(
            parse_df("Filesystem 1B-blocks Used Available Use% Mounted on\n/dev/x 1 2 3 4%\n")
                .is_err(),
            "no mount point"
        );
        // Header only: no filesystems, understood.
        assert!(
            parse_df("Filesystem 1B-blocks Used Available Use% Mounted on\n")
                .expect("header")
                .filesystems
                .is_empty()
        );
    }
}
