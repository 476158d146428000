//! `journalctl -o json` (one object per line; the pretty-printed `-o json-pretty` form is
//! accepted too) and the `since` values passed to `journalctl --since`.

use serde::Serialize;
use serde_json::{Map, Value};

use infrastructor_sdk::text::{ParseError, rfc3339_from_micros};

const CMD: &str = "journalctl";

/// How the `MESSAGE` field came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// A UTF-8 string.
    Text,
    /// An array of bytes (not valid UTF-8, or containing control characters); decoded
    /// lossily into `message`.
    Binary,
    /// `null`: journalctl leaves out fields over 4096 bytes unless run with `--all`.
    Omitted,
    /// No `MESSAGE` field at all.
    Missing,
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct JournalEntry {
    /// `__REALTIME_TIMESTAMP` as RFC 3339 UTC with microseconds.
    pub timestamp: Option<String>,
    /// `__REALTIME_TIMESTAMP`: microseconds since the epoch.
    pub timestamp_us: Option<u64>,
    /// The unit, else the syslog identifier, else the command name.
    pub service: Option<String>,
    /// `_SYSTEMD_UNIT`.
    pub unit: Option<String>,
    /// `SYSLOG_IDENTIFIER`.
    pub identifier: Option<String>,
    /// `PRIORITY` (0 emerg … 7 debug).
    pub priority: Option<u8>,
    /// The priority's name (`emerg`, `alert`, `crit`, `err`, `warning`, `notice`, `info`,
    /// `debug`).
    pub priority_name: Option<&'static str>,
    /// `MESSAGE` (several values of a repeated field joined by newlines).
    pub message: Option<String>,
    /// How `MESSAGE` came.
    pub message_kind: MessageKind,
    /// `_HOSTNAME`.
    pub hostname: Option<String>,
    /// `_PID`.
    pub pid: Option<u32>,
}

/// The syslog name of a journal priority.
pub fn priority_name(priority: u8) -> Option<&'static str> {
    [
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    ]
    .get(usize::from(priority))
    .copied()
}

/// A field's value: a string, an array of bytes, or (for a repeated field) an array of
/// those. Returns the text and whether bytes were involved; `None` for null or other shapes.
fn field_text(v: &Value) -> Option<(String, bool)> {
    fn bytes(a: &[Value]) -> Option<Vec<u8>> {
        a.iter()
            .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect()
    }
    match v {
        Value::String(s) => Some((s.clone(), false)),
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_number) => {
            Some((String::from_utf8_lossy(&bytes(a)?).into_owned(), true))
        }
        Value::Array(a) if !a.is_empty() => {
            let parts: Vec<(String, bool)> = a.iter().map(field_text).collect::<Option<_>>()?;
            let binary = parts.iter().any(|(_, b)| *b);
            Some((
                parts
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect::<Vec<_>>()
                    .join("\n"),
                binary,
            ))
        }
        _ => None,
    }
}

fn entry(o: &Map<String, Value>, line_no: usize) -> Result<JournalEntry, ParseError> {
    let text = |k: &str| o.get(k).and_then(field_text).map(|(s, _)| s);
    let number =
        |k: &str| -> Result<Option<u64>, ParseError> {
            match text(k) {
                None => Ok(None),
                Some(s) => s.trim().parse().map(Some).map_err(|_| {
                    ParseError::at(CMD, line_no, format!("{k} `{s}` is not a number"))
                }),
            }
        };
    let timestamp_us = number("__REALTIME_TIMESTAMP")?;
    let priority = match number("PRIORITY")? {
        None => None,
        Some(p) if p <= 7 => Some(p as u8),
        Some(p) => {
            return Err(ParseError::at(
                CMD,
                line_no,
                format!("PRIORITY {p} is not 0-7"),
            ));
        }
    };
    let (message, message_kind) = match o.get("MESSAGE") {
        None => (None, MessageKind::Missing),
        Some(Value::Null) => (None, MessageKind::Omitted),
        Some(v) => match field_text(v) {
            Some((m, false)) => (Some(m), MessageKind::Text),
            Some((m, true)) => (Some(m), MessageKind::Binary),
            None => {
                return Err(ParseError::at(
                    CMD,
                    line_no,
                    format!("MESSAGE is neither text nor bytes: {v}"),
                ));
            }
        },
    };
    let unit = text("_SYSTEMD_UNIT");
    let identifier = text("SYSLOG_IDENTIFIER");
    Ok(JournalEntry {
        timestamp: timestamp_us
            .and_then(|us| i64::try_from(us).ok())
            .map(rfc3339_from_micros),
        timestamp_us,
        service: unit
            .clone()
            .or_else(|| identifier.clone())
            .or_else(|| text("_COMM")),
        unit,
        identifier,
        priority,
        priority_name: priority.and_then(priority_name),
        message,
        message_kind,
        hostname: text("_HOSTNAME"),
        pid: text("_PID").and_then(|p| p.trim().parse().ok()),
    })
}

/// Parses `journalctl -o json` output: one JSON object per line, blank lines skipped (the
/// multi-line `-o json-pretty` form is read the same way). A line that is not a JSON object
/// is an error naming the line. journalctl's `-- No entries --` notice means no entries.
pub fn parse_journal_json(text: &str) -> Result<Vec<JournalEntry>, ParseError> {
    if text.trim() == "-- No entries --" {
        return Ok(Vec::new());
    }
    // Line numbers are counted incrementally: entries come in order.
    let (mut counted_to, mut lines_before) = (0usize, 0usize);
    let mut line_of = |offset: usize| {
        let offset = offset.clamp(counted_to, text.len());
        lines_before += text[counted_to..offset].matches('\n').count();
        counted_to = offset;
        lines_before + 1
    };
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut out = Vec::new();
    loop {
        // Where this value starts: after the previous one and any whitespace.
        let start = stream.byte_offset()
            + text[stream.byte_offset()..]
                .find(|c: char| !c.is_whitespace())
                .unwrap_or(0);
        match stream.next() {
            None => break,
            Some(Err(e)) => {
                return Err(ParseError::at(
                    CMD,
                    e.line(),
                    format!("not a JSON object: {e}"),
                ));
            }
            Some(Ok(Value::Object(o))) => out.push(entry(&o, line_of(start))?),
            Some(Ok(other)) => {
                let kind = match other {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    _ => "a literal",
                };
                return Err(ParseError::at(
                    CMD,
                    line_of(start),
                    format!("expected a JSON object, found {kind}"),
                ));
            }
        }
    }
    Ok(out)
}

/// Turns a `since` value into an argument `journalctl --since` documents (systemd.time(7)):
///
/// * shorthand `30m`, `1h`, `2d`, `1w`, `45s` (also `-1h`, `30min`, `2 days`, `1h ago`) →
///   the relative form `-30min`, `-1h`, `-2d`, `-1w`, `-45s`;
/// * `YYYY-MM-DD`, `YYYY-MM-DD HH:MM`, `YYYY-MM-DD HH:MM:SS` (or with `T`) → as is, with a
///   space, after checking the date and time are real;
/// * `today`, `yesterday`, `now`.
///
/// Anything else is refused. This is validation: the value is passed as one argv element,
/// never through a shell.
pub fn journal_since(value: &str) -> Result<String, ParseError> {
    const WHAT: &str = "since";
    let v = value.trim();
    let bad = || {
        ParseError::new(
            WHAT,
            format!(
                "`{value}` is not a time: use 30m, 1h, 2d, 1w, YYYY-MM-DD[ HH:MM[:SS]], today, yesterday or now"
            ),
        )
    };
    if v.is_empty() || v.len() > 32 {
        return Err(bad());
    }
    let lower = v.to_ascii_lowercase();
    if matches!(lower.as_str(), "today" | "yesterday" | "now") {
        return Ok(lower);
    }
    if let Some(rel) = relative(&lower) {
        return Ok(rel);
    }
    absolute(v).ok_or_else(bad)
}

fn relative(v: &str) -> Option<String> {
    let v = v.strip_suffix(" ago").unwrap_or(v);
    let v = v.strip_prefix('-').unwrap_or(v).trim();
    let split = v.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = v.split_at(split);
    if digits.is_empty() || digits.len() > 6 {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    let unit = match unit.trim() {
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "m" | "min" | "mins" | "minute" | "minutes" => "min",
        "h" | "hr" | "hrs" | "hour" | "hours" => "h",
        "d" | "day" | "days" => "d",
        "w" | "week" | "weeks" => "w",
        _ => return None,
    };
    Some(format!("-{n}{unit}"))
}

fn absolute(v: &str) -> Option<String> {
    let (date, time) = match v.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t)),
        None => (v, None),
    };
    let d: Vec<&str> = date.split('-').collect();
    let [y, m, day] = d.as_slice() else {
        return None;
    };
    let num = |s: &str, len: usize| -> Option<u32> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (y, m, day) = (num(y, 4)?, num(m, 2)?, num(day, 2)?);
    let days_in_month = infrastructor_sdk::text::days_in_month(i64::from(y), m)?;
    if !(1970..=9999).contains(&y) || day == 0 || day > days_in_month {
        return None;
    }
    let Some(time) = time else {
        return Some(format!("{y:04}-{m:02}-{day:02}"));
    };
    let t: Vec<&str> = time.split(':').collect();
    let (h, min, s) = match t.as_slice() {
        [h, min] => (num(h, 2)?, num(min, 2)?, None),
        [h, min, s] => (num(h, 2)?, num(min, 2)?, Some(num(s, 2)?)),
        _ => return None,
    };
    if h > 23 || min > 59 || s.is_some_and(|s| s > 59) {
        return None;
    }
    Some(match s {
        Some(s) => format!("{y:04}-{m:02}-{day:02} {h:02}:{min:02}:{s:02}"),
        None => format!("{y:04}-{m:02}-{day:02} {h:02}:{min:02}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::testing::fixture;

    #[test]
    fn pretty_single_entry_fixture() {
        let e = parse_journal_json(&fixture(
            "system/journalctl-o-json-pretty_single-entry.json",
        ))
        .expect("json-pretty");
        assert_eq!(e.len(), 1);
        let e = &e[0];
        assert_eq!(e.timestamp.as_deref(), Some("2024-08-19T15:20:55.230058Z"));
        assert_eq!(e.timestamp_us, Some(1_724_080_855_230_058));
        assert_eq!(e.service.as_deref(), Some("session-2.scope"));
        assert_eq!(
            e.identifier.as_deref(),
            Some("TestRestartsJournalctlOnError")
        );
        assert_eq!(e.priority, Some(6));
        assert_eq!(e.priority_name, Some("info"));
        assert_eq!(e.message.as_deref(), Some("Count: 0000000001"));
        assert_eq!(e.message_kind, MessageKind::Text);
        assert_eq!(e.hostname.as_deref(), Some("millennium-falcon"));
        assert_eq!(e.pid, Some(235_728));
    }

    #[test]
    fn fixture_as_one_line_per_entry() {
        // The same entry compacted, three times, with blank lines between: what
        // `journalctl -o json` prints.
        let v: Value = serde_json::from_str(&fixture(
            "system/journalctl-o-json-pretty_single-entry.json",
        ))
        .expect("fixture is JSON");
        let line = serde_json::to_string(&v).expect("compact");
        let text = format!("{line}\n\n{line}\n{line}\n");
        let e = parse_journal_json(&text).expect("json lines");
        assert_eq!(e.len(), 3);
        assert!(
            e.iter()
                .all(|e| e.message.as_deref() == Some("Count: 0000000001"))
        );
    }

    #[test]
    fn message_shapes() {
        let text = r#"{"__REALTIME_TIMESTAMP":"1700000000000000","PRIORITY":"3","SYSLOG_IDENTIFIER":"kernel","MESSAGE":[104,105,0,255]}
{"__REALTIME_TIMESTAMP":"1700000000000001","MESSAGE":null,"_SYSTEMD_UNIT":"big.service","_COMM":"big"}
{"__REALTIME_TIMESTAMP":"1700000000000002","_COMM":"cron"}
{"MESSAGE":["first","second"],"PRIORITY":"0"}
"#;
        let e = parse_journal_json(text).expect("shapes");
        assert_eq!(e[0].message_kind, MessageKind::Binary);
        assert_eq!(e[0].message.as_deref(), Some("hi\u{0}\u{fffd}"));
        assert_eq!(e[0].service.as_deref(), Some("kernel"));
        assert_eq!(e[0].priority_name, Some("err"));
        assert_eq!(
            e[0].timestamp.as_deref(),
            Some("2023-11-14T22:13:20.000000Z")
        );
        assert_eq!(e[1].message_kind, MessageKind::Omitted);
        assert_eq!(e[1].message, None);
        assert_eq!(e[1].service.as_deref(), Some("big.service"));
        assert_eq!(e[2].message_kind, MessageKind::Missing);
        assert_eq!(e[2].service.as_deref(), Some("cron"), "falls back to _COMM");
        assert_eq!(e[3].message.as_deref(), Some("first\nsecond"));
        assert_eq!(e[3].priority_name, Some("emerg"));
        assert_eq!(e[3].timestamp, None);
    }

    #[test]
    fn empty_and_odd_input() {
        assert!(parse_journal_json("").expect("nothing").is_empty());
        assert!(parse_journal_json("\n\n").expect("blank").is_empty());
        assert!(
            parse_journal_json("-- No entries --\n")
                .expect("notice")
                .is_empty()
        );
        let e = parse_journal_json("{\"MESSAGE\":\"a\"}\n\nnot json\n").expect_err("garbage");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().starts_with("journalctl: line 3: "), "{e}");
        let e = parse_journal_json("{\"MESSAGE\":\"a\"}\n{\"MESSAGE\":\"tru").expect_err("cut");
        assert_eq!(e.line, Some(2));
        let e = parse_journal_json("{\"MESSAGE\":\"a\"}\n[1,2]\n").expect_err("array");
        assert_eq!(
            e.to_string(),
            "journalctl: line 2: expected a JSON object, found an array"
        );
        let e = parse_journal_json("\n{\"PRIORITY\":\"9\"}\n").expect_err("priority");
        assert_eq!(e.to_string(), "journalctl: line 2: PRIORITY 9 is not 0-7");
        assert!(parse_journal_json("{\"__REALTIME_TIMESTAMP\":\"soon\"}").is_err());
        assert!(parse_journal_json("{\"MESSAGE\":{\"x\":1}}").is_err());
    }

    #[test]
    fn since_values() {
        for (input, want) in [
            ("30m", "-30min"),
            ("1h", "-1h"),
            ("2d", "-2d"),
            ("1w", "-1w"),
            ("45s", "-45s"),
            ("-1h", "-1h"),
            ("30min", "-30min"),
            ("2 days", "-2d"),
            ("1h ago", "-1h"),
            (" 12H ", "-12h"),
            ("today", "today"),
            ("Yesterday", "yesterday"),
            ("now", "now"),
            ("2024-02-29", "2024-02-29"),
            ("2024-01-31 23:59", "2024-01-31 23:59"),
            ("2024-01-31T23:59:59", "2024-01-31 23:59:59"),
        ] {
            assert_eq!(journal_since(input).expect(input), want, "{input}");
        }
        for bad in [
            "",
            "1",
            "h",
            "1y",
            "1 fortnight",
            "2023-02-29",
            "2024-13-01",
            "2024-01-01 24:00",
            "2024-1-1",
            "+1h",
            "1h; rm -rf /",
            "$(reboot)",
            "--until=now",
            "tomorrow",
            "1234567h",
            "@1700000000",
            "2024-01-01 10:00:00:00",
        ] {
            let e = journal_since(bad).expect_err(bad);
            assert!(e.to_string().starts_with("since: "), "{e}");
        }
    }
}
