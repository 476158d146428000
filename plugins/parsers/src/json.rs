//! Helpers shared by the parsers of docker's JSON outputs: turning a `serde_json` error into a
//! [`ParseError`] on the right line.

use infrastructor_sdk::text::ParseError;

/// A `serde_json` error while reading `command`'s output as a [`ParseError`] (see
/// [`infrastructor_sdk::text::json_parse_error`]).
pub(crate) fn parse_error(command: &str, first_line: usize, err: &serde_json::Error) -> ParseError {
    infrastructor_sdk::text::json_parse_error(command, first_line, err)
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
