//! `/proc/meminfo`, in bytes.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ParseError;

const CMD: &str = "/proc/meminfo";

/// Memory figures in bytes (`kB` values × 1024).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemInfo {
    /// `MemTotal`.
    pub total: u64,
    /// `MemFree`.
    pub free: u64,
    /// `MemAvailable`, or on kernels before 3.14 the estimate free + buffers + cached.
    pub available: u64,
    /// Whether `available` is that estimate.
    pub available_estimated: bool,
    /// `Buffers`.
    pub buffers: u64,
    /// `Cached`.
    pub cached: u64,
    /// `Active`.
    pub active: u64,
    /// `Inactive`.
    pub inactive: u64,
    /// `Shmem` (0 when absent).
    pub shared: u64,
    /// total − available.
    pub used: u64,
    /// used / total in percent (two decimals).
    pub percent: f64,
    /// `SwapTotal`.
    pub swap_total: u64,
    /// `SwapFree`.
    pub swap_free: u64,
    /// swap_total − swap_free.
    pub swap_used: u64,
    /// swap_used / swap_total in percent (two decimals; 0 without swap).
    pub swap_percent: f64,
    /// Every line, in bytes for `kB` values and as printed for unit-less counts
    /// (`HugePages_Total`…).
    pub fields: BTreeMap<String, u64>,
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 10_000.0 / whole as f64).round() / 100.0
    }
}

/// Parses `/proc/meminfo`. `MemTotal` and `MemFree` are required.
pub fn parse_meminfo(text: &str) -> Result<MemInfo, ParseError> {
    let mut fields = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let (key, rest) = line
            .split_once(':')
            .ok_or_else(|| ParseError::at(CMD, line_no, "expected `Key: value`"))?;
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_()".contains(c))
        {
            return Err(ParseError::at(CMD, line_no, format!("bad key `{key}`")));
        }
        let mut words = rest.split_whitespace();
        let value: u64 = words
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| ParseError::at(CMD, line_no, format!("`{key}` has no number")))?;
        let bytes = match words.next() {
            None => value,
            Some("kB") => value
                .checked_mul(1024)
                .ok_or_else(|| ParseError::at(CMD, line_no, format!("`{key}` is out of range")))?,
            Some(unit) => {
                return Err(ParseError::at(
                    CMD,
                    line_no,
                    format!("`{key}` has unknown unit `{unit}`"),
                ));
            }
        };
        if words.next().is_some() {
            return Err(ParseError::at(
                CMD,
                line_no,
                format!("`{key}` has trailing text"),
            ));
        }
        fields.insert(key.to_string(), bytes);
    }
    let get = |k: &str| fields.get(k).copied();
    let total = get("MemTotal").ok_or_else(|| ParseError::new(CMD, "no MemTotal"))?;
    let free = get("MemFree").ok_or_else(|| ParseError::new(CMD, "no MemFree"))?;
    let buffers = get("Buffers").unwrap_or(0);
    let cached = get("Cached").unwrap_or(0);
    let (available, available_estimated) = match get("MemAvailable") {
        Some(a) => (a, false),
        None => ((free + buffers + cached).min(total), true),
    };
    let used = total.saturating_sub(available);
    let swap_total = get("SwapTotal").unwrap_or(0);
    let swap_free = get("SwapFree").unwrap_or(0);
    let swap_used = swap_total.saturating_sub(swap_free);
    Ok(MemInfo {
        total,
        free,
        available,
        available_estimated,
        buffers,
        cached,
        active: get("Active").unwrap_or(0),
        inactive: get("Inactive").unwrap_or(0),
        shared: get("Shmem").unwrap_or(0),
        used,
        percent: percent(used, total),
        swap_total,
        swap_free,
        swap_used,
        swap_percent: percent(swap_used, swap_total),
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::fixture;

    #[test]
    fn jc_meminfo() {
        let m = parse_meminfo(&fixture("system/proc/jc_meminfo")).expect("meminfo");
        assert_eq!(m.total, 3_997_272 * 1024);
        assert_eq!(m.free, 2_760_316 * 1024);
        assert_eq!(m.available, 3_386_876 * 1024);
        assert!(!m.available_estimated);
        assert_eq!(m.buffers, 40_452 * 1024);
        assert_eq!(m.cached, 684_856 * 1024);
        assert_eq!(m.used, (3_997_272 - 3_386_876) * 1024);
        assert_eq!(m.percent, 15.27);
        assert_eq!(m.swap_total, 3_996_668 * 1024);
        assert_eq!(m.swap_used, 0);
        assert_eq!(m.swap_percent, 0.0);
        assert_eq!(m.fields["HugePages_Total"], 0, "unit-less count kept");
        assert_eq!(m.fields["Active(anon)"], 70_216 * 1024);
    }

    #[test]
    fn node_exporter_meminfo_has_no_memavailable() {
        let m = parse_meminfo(&fixture("system/proc/node_exporter_meminfo")).expect("meminfo");
        assert!(m.available_estimated);
        assert_eq!(m.available, (225_472 + 22_040 + 930_888) * 1024);
        assert_eq!(m.swap_used, (4_194_300 - 3_155_360) * 1024);
        assert_eq!(m.swap_percent, 24.77);
        assert_eq!(m.shared, 593_840 * 1024);
    }

    #[test]
    fn odd_input() {
        assert!(parse_meminfo("").is_err());
        assert!(parse_meminfo("garbage").is_err());
        assert!(parse_meminfo("MemFree: 1 kB\n").is_err(), "no MemTotal");
        assert!(parse_meminfo("MemTotal: x kB\nMemFree: 1 kB\n").is_err());
        assert!(parse_meminfo("MemTotal: 1 MB\nMemFree: 1 kB\n").is_err());
        let e = parse_meminfo("MemTotal: 2 kB\nMemFree 1 kB\n").expect_err("no colon");
        assert_eq!(
            e.to_string(),
            "/proc/meminfo: line 2: expected `Key: value`"
        );
    }
}
