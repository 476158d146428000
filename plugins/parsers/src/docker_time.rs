//! Timestamps as docker prints them: Go's `time.Time.String()` form (`CreatedAt` of `docker
//! ps` and `docker network ls`) converted to RFC 3339, and a check for the RFC 3339 stamps
//! of `docker logs --timestamps` and `docker inspect`.

use infrastructor_sdk::text::{civil_from_days, days_from_civil};

/// Converts a time as Go's `time.Time.String()` prints it, which is how docker prints
/// `CreatedAt` in `docker ps`/`docker network ls` (`2024-01-01 12:00:00 +0000 UTC`,
/// `2021-03-10 00:15:05 +0100 CET`, `2021-03-09 21:41:29.798999529 +0000 UTC`), to RFC 3339
/// in UTC (`2021-03-09T23:15:05Z`, fraction kept as printed). The zone abbreviation (and a
/// monotonic-clock `m=+…` suffix) is ignored; the numeric offset decides. `None` when the
/// text is not such a time.
pub fn rfc3339_from_go_time(text: &str) -> Option<String> {
    let mut parts = text.split_whitespace();
    let (date, time, offset) = (parts.next()?, parts.next()?, parts.next()?);
    let (year, month, day) = parse_date(date)?;
    let (clock, frac) = match time.split_once('.') {
        Some((c, f)) if (1..=9).contains(&f.len()) && all_digits(f) => (c, Some(f)),
        Some(_) => return None,
        None => (time, None),
    };
    let (h, m, s) = parse_clock(clock)?;
    let offset = parse_offset(offset)?;
    let days = days_from_civil(year, month, day)?;
    let secs = days * 86_400 + h * 3600 + m * 60 + s - offset;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    if !(0..=9999).contains(&y) {
        return None;
    }
    let rem = secs.rem_euclid(86_400);
    let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
    Some(format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// Whether `text` is an RFC 3339 date-time (`2024-01-01T12:00:00Z`,
/// `2024-01-01T12:00:00.123456789+02:00`), as docker prints timestamps in `docker logs
/// --timestamps` and `docker inspect`. Upper-case `T` and `Z` only, as docker prints them.
pub fn is_rfc3339(text: &str) -> bool {
    let Some((date, rest)) = text.split_once('T') else {
        return false;
    };
    if parse_date(date).is_none_or(|(y, m, d)| days_from_civil(y, m, d).is_none()) {
        return false;
    }
    let (time, zone) = match rest.find(['Z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => return false,
    };
    let clock = match time.split_once('.') {
        Some((c, f)) if !f.is_empty() && all_digits(f) => c,
        Some(_) => return false,
        None => time,
    };
    if parse_clock(clock).is_none() {
        return false;
    }
    zone == "Z"
        || (zone.len() == 6
            && zone[1..]
                .split_once(':')
                .and_then(|(h, m)| parse_offset(&format!("+{h}{m}")))
                .is_some())
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY-MM-DD` (four-digit year) → numbers; the day is checked against the month later.
fn parse_date(date: &str) -> Option<(i64, u32, u32)> {
    let mut it = date.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    if !(all_digits(y) && all_digits(m) && all_digits(d)) {
        return None;
    }
    Some((y.parse().ok()?, m.parse().ok()?, d.parse().ok()?))
}

/// `HH:MM:SS` → seconds parts, range-checked.
fn parse_clock(clock: &str) -> Option<(i64, i64, i64)> {
    let mut it = clock.split(':');
    let (h, m, s) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || [h, m, s].iter().any(|p| p.len() != 2 || !all_digits(p)) {
        return None;
    }
    let (h, m, s): (i64, i64, i64) = (h.parse().ok()?, m.parse().ok()?, s.parse().ok()?);
    (h < 24 && m < 60 && s < 60).then_some((h, m, s))
}

/// `+hhmm` / `-hhmm` → seconds east of UTC.
fn parse_offset(offset: &str) -> Option<i64> {
    let sign = match offset.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = &offset[1..];
    if digits.len() != 4 || !all_digits(digits) {
        return None;
    }
    let (h, m): (i64, i64) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
    (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_times() {
        assert_eq!(
            rfc3339_from_go_time("2024-01-01 12:00:00 +0000 UTC").as_deref(),
            Some("2024-01-01T12:00:00Z")
        );
        assert_eq!(
            rfc3339_from_go_time("2021-03-10 00:15:05 +0100 CET").as_deref(),
            Some("2021-03-09T23:15:05Z")
        );
        assert_eq!(
            rfc3339_from_go_time("2021-03-09 21:41:29.798999529 +0000 UTC").as_deref(),
            Some("2021-03-09T21:41:29.798999529Z")
        );
        assert_eq!(
            rfc3339_from_go_time("2023-12-31 20:30:00 -0530 -0530").as_deref(),
            Some("2024-01-01T02:00:00Z")
        );
        assert_eq!(
            rfc3339_from_go_time("2024-03-01 00:30:00 +0100 CET m=+0.000123").as_deref(),
            Some("2024-02-29T23:30:00Z")
        );
        assert_eq!(
            rfc3339_from_go_time("2024-01-01 12:00:00 +0000").as_deref(),
            Some("2024-01-01T12:00:00Z")
        );
        for bad in [
            "",
            "2024-01-01",
            "2024-01-01 12:00:00",
            "2024-01-01 12:00:00 UTC",
            "2024-02-30 12:00:00 +0000 UTC",
            "2024-01-01 24:00:00 +0000 UTC",
            "2024-01-01 12:00 +0000 UTC",
            "2024-01-01 12:00:00. +0000 UTC",
            "2024-1-01 12:00:00 +0000 UTC",
            "2024-01-01 12:00:00 +00 UTC",
            "4 seconds ago",
        ] {
            assert_eq!(rfc3339_from_go_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_check() {
        for good in [
            "2024-01-01T12:00:00Z",
            "2025-06-23T08:11:28.316022888Z",
            "2024-01-01T12:00:00.5+02:00",
            "2024-01-01T12:00:00-05:30",
        ] {
            assert!(is_rfc3339(good), "{good}");
        }
        for bad in [
            "",
            "2024-01-01",
            "2024-01-01T12:00:00",
            "2024-01-01 12:00:00Z",
            "2024-13-01T12:00:00Z",
            "2024-01-01T12:00:00.Z",
            "2024-01-01T12:00:00+0200",
            "2024-01-01T12:00:00+02:0x",
            "2024-01-01T12:00:00ZZ",
            "hello",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }
}
