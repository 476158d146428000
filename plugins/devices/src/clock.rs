//! Wall-clock time as RFC 3339 (the plugin is granted `clock`).

/// Now, as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn now_rfc3339() -> String {
    let since = infrastructor_sdk::clock::unix_now();
    format_unix_millis(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
}

/// Formats milliseconds since the Unix epoch (UTC) with millisecond precision.
pub fn format_unix_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let rem = secs.rem_euclid(86_400);
    let (year, month, d) = crate::parse::civil_from_days(secs.div_euclid(86_400));
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    format!("{year:04}-{month:02}-{d:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_unix_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_unix_millis(951_782_400_123),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            format_unix_millis(1_795_737_600_000),
            "2026-11-27T00:00:00.000Z"
        );
    }
}
