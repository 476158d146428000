//! Timestamps as zfs prints them, to RFC 3339.
//!
//! zfs prints `creation` (and zpool its scan times) in the host's local time and locale,
//! with no time zone: `Wed Dec  2 07:44 2026` (OpenZFS), `Wed Dec  2  7:45 2026` (zfs-fuse),
//! `Sat Jan 12 11:29:36 2019` (with seconds, in `zpool status`). These parsers assume the
//! English (C) locale and, lacking a zone, **treat the time as UTC**: on a host whose clock
//! is not on UTC the result is off by its offset. `-p` (epoch seconds) has no such problem;
//! zfs-fuse lacks it.

use infrastructor_sdk::text::{civil_from_days, days_from_civil};

/// Epoch seconds as RFC 3339 in UTC, to the second (`2026-12-02T07:45:00Z`). `None` when the
/// year falls outside 0..=9999.
pub fn rfc3339_from_epoch(secs: i64) -> Option<String> {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// The month number of an English three-letter month name.
fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == lower)
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// Epoch seconds of zfs' date text `Wed Dec  2 07:44 2026`, `Wed Dec  2  7:45 2026` or
/// `Sat Jan 12 11:29:36 2019` (the weekday is optional and not checked), taken as UTC (see
/// the module docs). A zone word before the year (`Sun Nov 16 08:00:01 CET 2025`, as
/// `zpool status -j` prints) is refused: it would be misread. `None` for anything else.
pub fn epoch_from_zfs_date(text: &str) -> Option<i64> {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    if words.len() == 5 {
        words.remove(0);
    }
    let [month, day, clock, year] = words.as_slice() else {
        return None;
    };
    let month = month_number(month)?;
    let day: u32 = day.parse().ok()?;
    if year.len() != 4 {
        return None;
    }
    let year: i64 = year.parse().ok()?;
    let mut parts = clock.split(':');
    let hour: i64 = parts.next()?.parse().ok()?;
    let minute: i64 = parts.next()?.parse().ok()?;
    let second: i64 = match parts.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// A `creation` value as RFC 3339 (UTC): `-p` epoch seconds (`1764661500`) or zfs' date
/// text (see [`epoch_from_zfs_date`]; assumed UTC). `None` for `-` and anything else.
pub fn parse_creation(text: &str) -> Option<String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return rfc3339_from_epoch(text.parse().ok()?);
    }
    rfc3339_from_epoch(epoch_from_zfs_date(text)?)
}

/// A duration as zpool prints it, in seconds: `0h0m`, `4h8m`, `123h32m` (old), `00:19:47`,
/// `10:42:32`, `0 days 00:19:47`, `1 days 09:48:34` (OpenZFS). `None` for anything else.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (days, clock) = match text
        .split_once(" days ")
        .or_else(|| text.split_once(" day "))
    {
        Some((d, rest)) => (d.trim().parse::<u64>().ok()?, rest.trim()),
        None => (0, text),
    };
    let secs = if let Some(hm) = clock.strip_suffix('m') {
        let (h, m) = hm.split_once('h')?;
        h.parse::<u64>().ok()?.checked_mul(3600)? + m.parse::<u64>().ok()?.checked_mul(60)?
    } else {
        let parts: Vec<&str> = clock.split(':').collect();
        let [h, m, s] = parts.as_slice() else {
            return None;
        };
        if !parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        h.parse::<u64>().ok()?.checked_mul(3600)?
            + m.parse::<u64>().ok()?.checked_mul(60)?
            + s.parse::<u64>().ok()?
    };
    days.checked_mul(86_400)?.checked_add(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation() {
        assert_eq!(
            parse_creation("Wed Dec  2  7:45 2026").as_deref(),
            Some("2026-12-02T07:45:00Z")
        );
        assert_eq!(
            parse_creation("Wed Dec  2 07:44 2026").as_deref(),
            Some("2026-12-02T07:44:00Z")
        );
        assert_eq!(
            parse_creation("Tue Jul 21 15:53 2009").as_deref(),
            Some("2009-07-21T15:53:00Z")
        );
        assert_eq!(
            parse_creation("1764661500").as_deref(),
            Some("2025-12-02T07:45:00Z")
        );
        assert_eq!(parse_creation("0").as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            parse_creation("Sat Jan 12 11:29:36 2019").as_deref(),
            Some("2019-01-12T11:29:36Z")
        );
        for bad in [
            "-",
            "",
            "Wed Foo 2 07:44 2026",
            "Wed Dec 32 07:44 2026",
            "Wed Dec 2 25:00 2026",
            "Sun Nov 16 08:00:01 CET 2025",
            "Dec 2 07:44",
            "99999999999999999999",
            "Wed Dec 2 07:44:61 2026",
            "Wed Dec 2 7:44 20266",
        ] {
            assert_eq!(parse_creation(bad), None, "{bad}");
        }
        assert_eq!(rfc3339_from_epoch(i64::MAX), None);
        assert_eq!(rfc3339_from_epoch(i64::MIN), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0h0m"), Some(0));
        assert_eq!(parse_duration("4h8m"), Some(4 * 3600 + 8 * 60));
        assert_eq!(parse_duration("14h7m"), Some(14 * 3600 + 7 * 60));
        assert_eq!(parse_duration("00:19:47"), Some(19 * 60 + 47));
        assert_eq!(parse_duration("0 days 01:25:43"), Some(3600 + 25 * 60 + 43));
        assert_eq!(
            parse_duration("1 days 09:48:34"),
            Some(86_400 + 9 * 3600 + 48 * 60 + 34)
        );
        for bad in [
            "",
            "<snip>",
            "1:2",
            "xh5m",
            "99999999999999999999h0m",
            "a:b:c",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
