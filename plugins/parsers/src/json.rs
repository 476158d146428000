//! Helpers shared by the parsers of docker's JSON outputs: turning a `serde_json` error into a
//! [`ParseError`] on the right line.

use infrastructor_sdk::text::ParseError;

/// A `serde_json` error while reading `command`'s output as a [`ParseError`]: the error's
/// line (offset by `first_line - 1`, for a document that starts further down the output)
/// and its message without serde's own `at line … column …` suffix (the column is kept).
pub(crate) fn parse_error(command: &str, first_line: usize, err: &serde_json::Error) -> ParseError {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_message() {
        let err = serde_json::from_str::<Vec<u8>>("[\n1,\nx]").expect_err("bad");
        assert_eq!(
            parse_error("cmd", 1, &err).to_string(),
            "cmd: line 3: expected value (column 1)"
        );
        assert_eq!(parse_error("cmd", 5, &err).line, Some(7));
    }
}
