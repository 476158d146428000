//! Small helpers shared by the output parsers of several plugins: the [`ParseError`] every
//! parser reports, size and number readers for the units common tools print, and calendar
//! arithmetic for RFC 3339 timestamps (no time-zone database or clock needed).
//!
//! Everything here is pure and compiles natively, so parsers built on it can be unit-tested
//! with plain `cargo test`.

use std::fmt;

/// Output a parser did not understand: which command produced it, on which line (1-based,
/// when the failure is tied to one) and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The command or file whose output was parsed (`df`, `/proc/stat`, `docker ps`…).
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

/// Splits a size into its number and its unit: leading digits with at most one `.` or `,`
/// decimal separator, then the rest (trimmed, so `35.58 kB` works). `None` when there is no
/// number or it does not parse.
fn split_size(text: &str) -> Option<(f64, &str)> {
    let s = text.trim();
    let split = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == ','))
        .map_or(s.len(), |(i, _)| i);
    let (number, unit) = s.split_at(split);
    if !number.contains(|c: char| c.is_ascii_digit())
        || number.chars().filter(|c| *c == '.' || *c == ',').count() > 1
    {
        return None;
    }
    let value: f64 = number.replace(',', ".").parse().ok()?;
    Some((value, unit.trim()))
}

/// `value × base^power` rounded to whole bytes, `None` when it does not fit a `u64`.
fn scale(value: f64, base: f64, power: i32) -> Option<u64> {
    let bytes = value * base.powi(power);
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return None;
    }
    Some(bytes.round() as u64)
}

/// A `serde_json` error while reading `command`'s output as a [`ParseError`]: on the error's
/// line (offset by `first_line - 1`, for a document that starts further down the output),
/// with serde's message without its own `at line … column …` suffix (the column is kept).
pub fn json_parse_error(command: &str, first_line: usize, err: &serde_json::Error) -> ParseError {
    let text = err.to_string();
    let location = format!(" at line {} column {}", err.line(), err.column());
    let message = text.strip_suffix(&location).unwrap_or(&text);
    if err.line() == 0 {
        return ParseError::new(command, message);
    }
    ParseError::at(
        command,
        first_line + err.line() - 1,
        format!("{message} (column {})", err.column()),
    )
}

/// Parses a human-readable size as printed by `df -h`, `lsblk` (without `-b`) and similar
/// tools: a number (`.` or `,` as the decimal separator) with an optional unit suffix `K`,
/// `M`, `G`, `T`, `P`, `E` (optionally followed by `i`, `iB` or `B`), each a power of 1024.
/// A bare number is bytes. Returns `None` for anything else.
pub fn parse_human_size(text: &str) -> Option<u64> {
    let (value, unit) = split_size(text)?;
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
    scale(value, 1024.0, power)
}

/// Parses a size as the docker CLI prints it: a number (fractions allowed, `35.58 kB` with a
/// space as old versions print it too) followed by
///
/// * `B`, or a decimal unit `kB` (also `KB`), `MB`, `GB`, `TB`, `PB`, `EB`: powers of 1000,
///   as `units.HumanSize` prints disk, network and block I/O sizes;
/// * a binary unit `KiB`, `MiB`, `GiB`, `TiB`, `PiB`, `EiB`: powers of 1024, as
///   `units.BytesSize` prints memory.
///
/// A bare number is bytes. Returns `None` for docker's `--` (no value), empty text and
/// anything else.
pub fn parse_docker_size(text: &str) -> Option<u64> {
    let (value, unit) = split_size(text)?;
    let (base, power) = match unit {
        "" | "B" => (1000.0, 0),
        "kB" | "KB" => (1000.0, 1),
        "MB" => (1000.0, 2),
        "GB" => (1000.0, 3),
        "TB" => (1000.0, 4),
        "PB" => (1000.0, 5),
        "EB" => (1000.0, 6),
        "KiB" => (1024.0, 1),
        "MiB" => (1024.0, 2),
        "GiB" => (1024.0, 3),
        "TiB" => (1024.0, 4),
        "PiB" => (1024.0, 5),
        "EiB" => (1024.0, 6),
        _ => return None,
    };
    scale(value, base, power)
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
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
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

/// The number of days in `month` (1..=12) of `year` (proleptic Gregorian); `None` for
/// another month number.
pub fn days_in_month(year: i64, month: u32) -> Option<u32> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    Some(match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    })
}

/// (year, month, day) in the proleptic Gregorian calendar → days since 1970-01-01, the
/// inverse of [`civil_from_days`] (H. Hinnant's algorithm). `None` for a month outside
/// 1..=12 or a day outside the month.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    let month_days = days_in_month(year, month)?;
    if day == 0 || day > month_days {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if month > 2 { month - 3 } else { month + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
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
        assert_eq!(parse_human_size(".G"), None);
    }

    #[test]
    fn docker_sizes() {
        // units.HumanSize (decimal) as in NetIO, BlockIO, Size, `docker images`.
        assert_eq!(parse_docker_size("0B"), Some(0));
        assert_eq!(parse_docker_size("916B"), Some(916));
        assert_eq!(parse_docker_size("13.3kB"), Some(13_300));
        assert_eq!(parse_docker_size("2.48KB"), Some(2_480));
        assert_eq!(parse_docker_size("7.12MB"), Some(7_120_000));
        assert_eq!(parse_docker_size("1.48GB"), Some(1_480_000_000));
        assert_eq!(parse_docker_size("2TB"), Some(2_000_000_000_000));
        assert_eq!(parse_docker_size("1.5PB"), Some(1_500_000_000_000_000));
        assert_eq!(parse_docker_size("35.58 kB"), Some(35_580));
        assert_eq!(parse_docker_size("109.2 MB"), Some(109_200_000));
        // units.BytesSize (binary) as in MemUsage.
        assert_eq!(parse_docker_size("196KiB"), Some(196 * 1024));
        assert_eq!(parse_docker_size("2.352MiB"), Some(2_466_251));
        assert_eq!(parse_docker_size("31.26GiB"), Some(33_565_169_418));
        assert_eq!(parse_docker_size("1TiB"), Some(1024u64.pow(4)));
        assert_eq!(parse_docker_size("2PiB"), Some(2 * 1024u64.pow(5)));
        assert_eq!(parse_docker_size("42"), Some(42));
        // No value, garbage.
        for bad in [
            "--", "", " ", "B", "kB", "1.2.3MB", "12mb", "1 XB", "-1B", "1e3B", "12MiBs", "NaN",
        ] {
            assert_eq!(parse_docker_size(bad), None, "{bad:?}");
        }
        assert_eq!(parse_docker_size("99999999999EiB"), None);
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

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(37) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), Some(days), "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 2, 29), Some(11_016));
        assert_eq!(days_from_civil(1900, 2, 29), None);
        assert_eq!(days_from_civil(2024, 13, 1), None);
        assert_eq!(days_from_civil(2024, 4, 31), None);
        assert_eq!(days_from_civil(2024, 1, 0), None);
    }
}
