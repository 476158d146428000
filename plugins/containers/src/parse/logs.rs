//! `docker logs [--timestamps] <container>` for one stream (the container's stdout arrives
//! on the command's stdout, its stderr on the command's stderr; each is parsed on its own).

use serde::Serialize;

use super::{ParseError, is_rfc3339};

const CMD: &str = "docker logs";

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LogLine {
    /// When docker received the line, RFC 3339 with nanoseconds as docker prints it
    /// (`2024-01-01T12:00:00.123456789Z`); `None` without `--timestamps`.
    pub timestamp: Option<String>,
    /// The line without its newline (a trailing `\r` from CRLF output or a TTY is dropped).
    pub message: String,
}

/// Parses one stream of `docker logs`. Lines end at `\n` (`\r\n` tolerated); a last line
/// without a newline is kept; no output is no lines. With `timestamps` (the command ran
/// with `--timestamps`) every line must start with an RFC 3339 time and a space (the
/// message may be empty); a line that does not is an error naming the line.
pub fn parse_logs(text: &str, timestamps: bool) -> Result<Vec<LogLine>, ParseError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut out = Vec::new();
    for (i, line) in body.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if !timestamps {
            out.push(LogLine {
                timestamp: None,
                message: line.to_string(),
            });
            continue;
        }
        let (stamp, message) = line.split_once(' ').unwrap_or((line, ""));
        if !is_rfc3339(stamp) {
            let shown: String = stamp.chars().take(40).collect();
            return Err(ParseError::at(
                CMD,
                i + 1,
                format!("`{shown}` is not an RFC 3339 timestamp (was --timestamps given?)"),
            ));
        }
        out.push(LogLine {
            timestamp: Some(stamp.to_string()),
            message: message.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{fixture, fixture_dir};

    fn line(ts: Option<&str>, message: &str) -> LogLine {
        LogLine {
            timestamp: ts.map(str::to_string),
            message: message.to_string(),
        }
    }

    #[test]
    fn plain_lines() {
        assert_eq!(parse_logs("", false), Ok(vec![]));
        assert_eq!(parse_logs("", true), Ok(vec![]));
        assert_eq!(parse_logs("\n", false), Ok(vec![line(None, "")]));
        assert_eq!(
            parse_logs("a\r\n\nb  c \nlast", false),
            Ok(vec![
                line(None, "a"),
                line(None, ""),
                line(None, "b  c "),
                line(None, "last")
            ])
        );
        assert_eq!(
            parse_logs("one\ntwo\n", false),
            Ok(vec![line(None, "one"), line(None, "two")])
        );
    }

    #[test]
    fn timestamped_lines() {
        let text = "2025-06-23T08:11:28.316022888Z  * Serving Flask app 'app'\r\n\
                    2025-06-23T08:11:28.316100000Z \n\
                    2025-06-23T08:11:29Z\n\
                    2025-06-23T10:11:29.5+02:00 GET / HTTP/1.1 200 -";
        assert_eq!(
            parse_logs(text, true),
            Ok(vec![
                line(
                    Some("2025-06-23T08:11:28.316022888Z"),
                    " * Serving Flask app 'app'"
                ),
                line(Some("2025-06-23T08:11:28.316100000Z"), ""),
                line(Some("2025-06-23T08:11:29Z"), ""),
                line(Some("2025-06-23T10:11:29.5+02:00"), "GET / HTTP/1.1 200 -"),
            ])
        );
    }

    #[test]
    fn missing_timestamps_are_errors() {
        let e = parse_logs("2024-01-01T00:00:00Z ok\nplain line\n", true).expect_err("plain");
        assert_eq!(
            e.to_string(),
            "docker logs: line 2: `plain` is not an RFC 3339 timestamp (was --timestamps given?)"
        );
        let e = parse_logs("\n", true).expect_err("blank line");
        assert_eq!(e.line, Some(1));
        assert!(parse_logs("2024-01-01 00:00:00Z x", true).is_err());
        let long = "x".repeat(1000);
        assert!(parse_logs(&long, true).expect_err("long").message.len() < 100);
    }

    /// Any text is a valid untimestamped log, line for line; none of the docker fixtures
    /// (not logs) passes as timestamped logs.
    #[test]
    fn fixtures_as_logs() {
        for f in fixture_dir("docker") {
            let text = fixture(&format!("docker/{f}"));
            let lines = parse_logs(&text, false).expect("plain");
            assert_eq!(lines.len(), text.lines().count(), "{f}");
            assert!(parse_logs(&text, true).is_err(), "{f}");
        }
    }
}
