//! Pure parsers of the command outputs the devices plugin collects over SSH.
//!
//! One module per command. Every parser is a plain function from the command's text (or
//! bytes) to typed, serde-serialisable structs, unit-tested natively on the real outputs in
//! `shared/fixtures`. A parser never panics on odd input and never answers an empty success
//! for output it does not understand: it returns a [`ParseError`] naming the command (and
//! the line, where there is one), e.g. `df: line 3: expected 6 columns, found 2`.

pub mod cpuinfo;
pub mod df;
pub mod diskstats;
pub mod journal;
pub mod loadavg;
pub mod lsblk;
pub mod meminfo;
pub mod net_dev;
pub mod os_release;
pub mod proc_stat;
pub mod smartctl;
pub mod ss;
pub mod ssh_config;
pub mod uptime;

use std::fmt;

/// Output a parser did not understand: which command produced it, on which line (1-based,
/// when the failure is tied to one) and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The command or file whose output was parsed (`df`, `/proc/stat`, `smartctl`…).
    pub command: String,
    /// The 1-based line of the output the problem is on, if any.
    pub line: Option<usize>,
    /// What was wrong.
    pub message: String,
}

impl ParseError {
    /// An error about the output as a whole.
    pub fn new(command: impl Into<String>, message: impl Into<String>) -> Self {
        ParseError {
            command: command.into(),
            line: None,
            message: message.into(),
        }
    }

    /// An error about one line of the output (1-based).
    pub fn at(command: impl Into<String>, line: usize, message: impl Into<String>) -> Self {
        ParseError {
            command: command.into(),
            line: Some(line),
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}: line {line}: {}", self.command, self.message),
            None => write!(f, "{}: {}", self.command, self.message),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses a human-readable size as printed by `df -h`, `lsblk` (without `-b`) and similar
/// tools: a number (`.` or `,` as the decimal separator) with an optional unit suffix `K`,
/// `M`, `G`, `T`, `P`, `E` (optionally followed by `i`, `iB` or `B`), each a power of 1024.
/// A bare number is bytes. Returns `None` for anything else.
pub fn parse_human_size(text: &str) -> Option<u64> {
    let s = text.trim();
    let split = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == ','))
        .map_or(s.len(), |(i, _)| i);
    let (number, unit) = s.split_at(split);
    if number.is_empty() || number.chars().filter(|c| *c == '.' || *c == ',').count() > 1 {
        return None;
    }
    let value: f64 = number.replace(',', ".").parse().ok()?;
    let unit = unit.trim();
    let unit = unit
        .strip_suffix("iB")
        .or_else(|| unit.strip_suffix('i'))
        .or_else(|| unit.strip_suffix('B').filter(|u| !u.is_empty()))
        .unwrap_or(unit);
    let power = match unit {
        "" | "B" => 0,
        "K" | "k" => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        "P" => 5,
        "E" => 6,
        _ => return None,
    };
    let bytes = value * 1024f64.powi(power);
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return None;
    }
    Some(bytes.round() as u64)
}

/// Parses an unsigned integer that may carry thousands separators (`1,299,288`,
/// `12 000 138 625 024`, `500.107.862.016`, `5.809` as smartctl prints counters in some
/// locales). Every `,`, `.`, `'`, space and no-break space between digits is dropped.
pub fn parse_grouped_u64(text: &str) -> Option<u64> {
    let s = text.trim();
    if s.is_empty() || !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut digits = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ',' | '.' | '\'' | ' ' | '\u{a0}' | '\u{202f}' => {}
            _ => return None,
        }
    }
    digits.parse().ok()
}

/// Formats microseconds since the Unix epoch as RFC 3339 in UTC with microsecond precision
/// (`2024-08-19T15:20:55.230058Z`). No time-zone database or clock is needed.
pub fn rfc3339_from_micros(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Reads a fixture from `shared/fixtures` (beside the repository), panicking with the path
/// when it is missing so a lost fixture fails the test loudly.
#[cfg(test)]
pub(crate) fn fixture(relative: &str) -> String {
    let path = format!(
        "{}/../../../shared/fixtures/{relative}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// Lists a fixture directory's file names (sorted), panicking when it is missing or empty.
#[cfg(test)]
pub(crate) fn fixture_dir(relative: &str) -> Vec<String> {
    let path = format!(
        "{}/../../../shared/fixtures/{relative}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut names: Vec<String> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("fixture dir {path}: {e}"))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "fixture dir {path} is empty");
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display_names_command_and_line() {
        assert_eq!(
            ParseError::at("df", 3, "expected 6 columns").to_string(),
            "df: line 3: expected 6 columns"
        );
        assert_eq!(
            ParseError::new("/proc/stat", "empty output").to_string(),
            "/proc/stat: empty output"
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(parse_human_size("0"), Some(0));
        assert_eq!(parse_human_size("4K"), Some(4096));
        assert_eq!(parse_human_size("1.2M"), Some(1_258_291));
        assert_eq!(parse_human_size("1,5G"), Some(1_610_612_736));
        assert_eq!(parse_human_size("223.6G"), Some(240_088_671_846));
        assert_eq!(parse_human_size("2TiB"), Some(2 * 1024u64.pow(4)));
        assert_eq!(parse_human_size("512B"), Some(512));
        assert_eq!(parse_human_size("12X"), None);
        assert_eq!(parse_human_size(""), None);
        assert_eq!(parse_human_size("G"), None);
        assert_eq!(parse_human_size("1.2.3M"), None);
    }

    #[test]
    fn grouped_numbers() {
        assert_eq!(parse_grouped_u64("1,299,288"), Some(1_299_288));
        assert_eq!(
            parse_grouped_u64("12 000 138 625 024"),
            Some(12_000_138_625_024)
        );
        assert_eq!(parse_grouped_u64("500.107.862.016"), Some(500_107_862_016));
        assert_eq!(parse_grouped_u64("5.809"), Some(5809));
        assert_eq!(parse_grouped_u64("x1"), None);
        assert_eq!(parse_grouped_u64("12a"), None);
    }

    /// Every parser on prefixes and line-shuffled copies of every fixture: errors are fine,
    /// panics are not.
    #[test]
    fn no_parser_panics_on_mangled_input() {
        let mut texts: Vec<String> = Vec::new();
        for dir in ["system", "system/proc", "system/ssh_config", "smart"] {
            for f in fixture_dir(dir) {
                let path = format!(
                    "{}/../../../shared/fixtures/{dir}/{f}",
                    env!("CARGO_MANIFEST_DIR")
                );
                if std::path::Path::new(&path).is_file() {
                    texts.push(fixture(&format!("{dir}/{f}")));
                }
            }
        }
        assert!(texts.len() > 100);
        let parsers: &[fn(&str)] = &[
            |t| drop(cpuinfo::parse_cpuinfo(t)),
            |t| drop(df::parse_df(t)),
            |t| drop(diskstats::parse_diskstats(t)),
            |t| drop(journal::parse_journal_json(t)),
            |t| drop(journal::journal_since(t)),
            |t| drop(loadavg::parse_loadavg(t)),
            |t| drop(lsblk::parse_lsblk_json(t)),
            |t| drop(lsblk::parse_lsblk_text(t)),
            |t| drop(meminfo::parse_meminfo(t)),
            |t| drop(net_dev::parse_net_dev(t)),
            |t| drop(os_release::parse_os_release(t)),
            |t| drop(proc_stat::parse_proc_stat_samples(t)),
            |t| drop(smartctl::parse_smartctl_json(t)),
            |t| drop(smartctl::parse_smartctl_text(t)),
            |t| drop(smartctl::parse_smartctl_scan_json(t)),
            |t| drop(smartctl::parse_smartctl_scan_text(t)),
            |t| drop(ss::parse_ss(t)),
            |t| drop(ss::parse_netstat(t)),
            |t| drop(ssh_config::parse_ssh_config(t)),
            |t| drop(uptime::parse_uptime(t)),
        ];
        for text in &texts {
            let mut variants: Vec<String> = (1..8)
                .map(|k| text.len() * k / 8)
                .map(|n| {
                    (0..=n)
                        .rev()
                        .find(|i| text.is_char_boundary(*i))
                        .unwrap_or(0)
                })
                .map(|n| text[..n].to_string())
                .collect();
            let mut lines: Vec<&str> = text.lines().collect();
            lines.reverse();
            variants.push(lines.join("\n"));
            variants.push(text.replace(' ', ""));
            variants.push(text.replace(':', " "));
            for v in &variants {
                for p in parsers {
                    p(v);
                }
            }
        }
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_from_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_from_micros(1_724_080_855_230_058),
            "2024-08-19T15:20:55.230058Z"
        );
        assert_eq!(
            rfc3339_from_micros(951_782_400_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(rfc3339_from_micros(-1), "1969-12-31T23:59:59.999999Z");
    }
}
