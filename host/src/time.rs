//! Timestamps as the API writes them: RFC 3339, UTC, milliseconds, `Z`.

/// Now, formatted.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
