//! Helpers shared by the parsers: JSON errors on the right line, splitting `-H` rows and
//! aligned tables.

use infrastructor_sdk::text::ParseError;

/// A `serde_json` error while reading `command`'s output as a [`ParseError`] on the error's
/// line (see [`infrastructor_sdk::text::json_parse_error`]).
pub(crate) fn json_error(command: &str, err: &serde_json::Error) -> ParseError {
    infrastructor_sdk::text::json_parse_error(command, 1, err)
}

/// The fields of one output row: split on tabs when the line has any (`-H` output, where a
/// value may hold spaces), else on runs of whitespace (the aligned tables).
pub(crate) fn fields(line: &str) -> Vec<&str> {
    if line.contains('\t') {
        line.trim_end_matches(['\r', '\n'])
            .split('\t')
            .map(str::trim)
            .collect()
    } else {
        line.split_whitespace().collect()
    }
}

/// `text` with every run of whitespace turned into one space, trimmed.
pub(crate) fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The width of a line's leading whitespace, a tab counting up to the next multiple of 8.
pub(crate) fn indent_width(line: &str) -> usize {
    let mut width = 0;
    for c in line.chars() {
        match c {
            ' ' => width += 1,
            '\t' => width = (width / 8 + 1) * 8,
            _ => break,
        }
    }
    width
}

/// Whether a line is the header of a table (its first field is `NAME`, as zfs and zpool
/// print without `-H`).
pub(crate) fn is_header(line: &str) -> bool {
    line.split_whitespace().next() == Some("NAME")
}
