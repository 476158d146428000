//! `/proc/diskstats`: I/O counters per block device, sectors converted to bytes.

use serde::Serialize;

use super::ParseError;

const CMD: &str = "/proc/diskstats";

/// The kernel counts sectors of 512 bytes in `/proc/diskstats`, whatever the device's own
/// sector size.
pub const SECTOR_BYTES: u64 = 512;

/// The counters of one block device (or partition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DiskStat {
    /// Major device number.
    pub major: u32,
    /// Minor device number.
    pub minor: u32,
    /// Device name (`sda`, `nvme0n1p2`, `dm-0`).
    pub name: String,
    /// Reads completed.
    pub reads_completed: u64,
    /// Reads merged (`None` in the 4-counter partition format of 2.6.x kernels).
    pub reads_merged: Option<u64>,
    /// Sectors read.
    pub sectors_read: u64,
    /// Bytes read (sectors × 512).
    pub read_bytes: u64,
    /// Milliseconds spent reading.
    pub read_time_ms: Option<u64>,
    /// Writes completed.
    pub writes_completed: u64,
    /// Writes merged.
    pub writes_merged: Option<u64>,
    /// Sectors written.
    pub sectors_written: u64,
    /// Bytes written (sectors × 512).
    pub write_bytes: u64,
    /// Milliseconds spent writing.
    pub write_time_ms: Option<u64>,
    /// I/Os currently in flight.
    pub in_flight: Option<u64>,
    /// Milliseconds spent doing I/O.
    pub io_time_ms: Option<u64>,
    /// Weighted milliseconds spent doing I/O.
    pub weighted_io_time_ms: Option<u64>,
    /// Discards completed (kernel 4.18+).
    pub discards_completed: Option<u64>,
    /// Discards merged (4.18+).
    pub discards_merged: Option<u64>,
    /// Sectors discarded (4.18+).
    pub sectors_discarded: Option<u64>,
    /// Milliseconds spent discarding (4.18+).
    pub discard_time_ms: Option<u64>,
    /// Flush requests completed (5.5+).
    pub flushes_completed: Option<u64>,
    /// Milliseconds spent flushing (5.5+).
    pub flush_time_ms: Option<u64>,
}

/// Parses `/proc/diskstats`: 3 identifying fields then 11 (before 4.18), 15 (4.18+) or 17
/// (5.5+) counters, or the 4 counters of a partition on 2.6.x kernels.
pub fn parse_diskstats(text: &str) -> Result<Vec<DiskStat>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.is_empty() {
            continue;
        }
        let counters = w.len().saturating_sub(3);
        if ![4, 11, 15, 17].contains(&counters) {
            return Err(ParseError::at(
                CMD,
                line_no,
                format!("{} fields, expected 3 + 4, 11, 15 or 17 counters", w.len()),
            ));
        }
        let id = |j: usize| -> Result<u32, ParseError> {
            w[j].parse().map_err(|_| {
                ParseError::at(CMD, line_no, format!("`{}` is not a device number", w[j]))
            })
        };
        let (major, minor) = (id(0)?, id(1)?);
        let name = w[2].to_string();
        let n: Vec<u64> = w[3..]
            .iter()
            .map(|s| {
                s.parse().map_err(|_| {
                    ParseError::at(CMD, line_no, format!("`{name}`: `{s}` is not a counter"))
                })
            })
            .collect::<Result<_, _>>()?;
        let opt = |j: usize| n.get(j).copied();
        let stat = if counters == 4 {
            DiskStat {
                major,
                minor,
                name,
                reads_completed: n[0],
                reads_merged: None,
                sectors_read: n[1],
                read_bytes: n[1].saturating_mul(SECTOR_BYTES),
                read_time_ms: None,
                writes_completed: n[2],
                writes_merged: None,
                sectors_written: n[3],
                write_bytes: n[3].saturating_mul(SECTOR_BYTES),
                write_time_ms: None,
                in_flight: None,
                io_time_ms: None,
                weighted_io_time_ms: None,
                discards_completed: None,
                discards_merged: None,
                sectors_discarded: None,
                discard_time_ms: None,
                flushes_completed: None,
                flush_time_ms: None,
            }
        } else {
            DiskStat {
                major,
                minor,
                name,
                reads_completed: n[0],
                reads_merged: Some(n[1]),
                sectors_read: n[2],
                read_bytes: n[2].saturating_mul(SECTOR_BYTES),
                read_time_ms: Some(n[3]),
                writes_completed: n[4],
                writes_merged: Some(n[5]),
                sectors_written: n[6],
                write_bytes: n[6].saturating_mul(SECTOR_BYTES),
                write_time_ms: Some(n[7]),
                in_flight: Some(n[8]),
                io_time_ms: Some(n[9]),
                weighted_io_time_ms: Some(n[10]),
                discards_completed: opt(11),
                discards_merged: opt(12),
                sectors_discarded: opt(13),
                discard_time_ms: opt(14),
                flushes_completed: opt(15),
                flush_time_ms: opt(16),
            }
        };
        out.push(stat);
    }
    if out.is_empty() {
        return Err(ParseError::new(CMD, "empty output"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::fixture;

    #[test]
    fn jc_diskstats_kernel_5_5_format() {
        let d = parse_diskstats(&fixture("system/proc/jc_diskstats")).expect("diskstats");
        assert_eq!(d.len(), 15);
        let sda = d.iter().find(|s| s.name == "sda").expect("sda");
        assert_eq!((sda.major, sda.minor), (8, 0));
        assert_eq!(sda.reads_completed, 14_200);
        assert_eq!(sda.reads_merged, Some(3361));
        assert_eq!(sda.sectors_read, 892_828);
        assert_eq!(sda.read_bytes, 892_828 * 512);
        assert_eq!(sda.read_time_ms, Some(5058));
        assert_eq!(sda.writes_completed, 18_736);
        assert_eq!(sda.write_bytes, 715_384 * 512);
        assert_eq!(sda.in_flight, Some(0));
        assert_eq!(sda.io_time_ms, Some(24_940));
        assert_eq!(sda.weighted_io_time_ms, Some(17_663));
        assert_eq!(sda.discards_completed, Some(0));
        assert_eq!(sda.flushes_completed, Some(0));
        assert_eq!(d[14].name, "loop8");
    }

    #[test]
    fn node_exporter_diskstats_mixed_kernel_formats() {
        let d = parse_diskstats(&fixture("system/proc/node_exporter_diskstats")).expect("ne");
        let get = |n: &str| d.iter().find(|s| s.name == n).expect(n);
        assert_eq!(get("sda").discards_completed, None, "11 counters");
        assert_eq!(get("sda").write_bytes, 505_697_032 * 512);
        assert_eq!(get("sdb").discards_completed, Some(68_851), "15 counters");
        assert_eq!(get("sdb").sectors_discarded, Some(1_925_173_784));
        assert_eq!(get("sdc").flushes_completed, Some(1555), "17 counters");
        assert_eq!(get("sdc").flush_time_ms, Some(1944));
        assert_eq!(get("nvme0n1").reads_completed, 47_114);
        assert_eq!(get("mmcblk0p2").sectors_read, 760);
        assert!(d.iter().any(|s| s.name == "ram15"));
    }

    #[test]
    fn old_partition_format_and_odd_input() {
        let d = parse_diskstats("   8    1 sda1 46 92 38 304\n").expect("2.6 partition line");
        assert_eq!(d[0].reads_completed, 46);
        assert_eq!(d[0].read_bytes, 92 * 512);
        assert_eq!(d[0].writes_merged, None);
        assert!(parse_diskstats("").is_err());
        assert!(parse_diskstats("8 0 sda 1 2 3\n").is_err());
        let e = parse_diskstats("8 0 sda 1 2 3 4 5 6 7 8 9 10 x\n").expect_err("x");
        assert_eq!(
            e.to_string(),
            "/proc/diskstats: line 1: `sda`: `x` is not a counter"
        );
        assert!(parse_diskstats("a b sda 1 2 3 4\n").is_err());
    }
}
