//! The aligned tables the docker CLI prints without `--format` (`docker ps`, `docker stats`,
//! `docker images`…).
//!
//! The CLI lays them out with Go's `text/tabwriter`: every cell of a column starts at the
//! same character position as the column's header, and columns are separated by at least
//! two spaces (three in current versions). Header names may contain single spaces
//! (`CONTAINER ID`, `MEM USAGE / LIMIT`), and so may cells (`Up 3 hours`,
//! `1.75MiB / 31.26GiB`), and a cell may be empty (`PORTS`), so a row is cut at the header's
//! column positions rather than split on whitespace. Positions count characters, not bytes,
//! as tabwriter does (`docker ps` truncates commands with `…`).

use infrastructor_sdk::text::ParseError;
use serde::Serialize;

/// A parsed table: the header's column names and the rows' cells, one per column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// Column names as printed (`CONTAINER ID`, `CPU %`…).
    pub headers: Vec<String>,
    /// The data rows in output order.
    pub rows: Vec<Row>,
}

/// One data row of a [`Table`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The 1-based line of the output the row is on.
    pub line: usize,
    /// The cells, trimmed, one per header column (empty for an empty cell).
    pub cells: Vec<String>,
}

impl Table {
    /// The index of the column named `header`, if the table has one.
    pub fn column(&self, header: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == header)
    }
}

impl Row {
    /// The cell in column `index` (empty text when out of range).
    pub fn cell(&self, index: usize) -> &str {
        self.cells.get(index).map_or("", String::as_str)
    }
}

/// Drops the terminal control sequences (`ESC [ … letter`) `docker stats` prints between
/// frames when it streams.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The header's columns: (start position in characters, name), split on runs of two or
/// more spaces.
fn header_columns(header: &[char]) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < header.len() {
        if header[i] == ' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < header.len() && !(header[i] == ' ' && header.get(i + 1).is_none_or(|c| *c == ' '))
        {
            i += 1;
        }
        out.push((start, header[start..i].iter().collect()));
    }
    out
}

/// Cuts a CLI table into its header and rows. The first non-blank line is the header; it
/// must hold upper-case names only (so JSON or an error message is not taken for one). Every
/// row is cut at the header's column positions; a row whose text runs across a column
/// boundary is an error. A line repeating the header starts a new frame (`docker stats`
/// without `--no-stream`): only the last frame is kept. Blank lines and terminal control
/// sequences are skipped. An empty text is an error (the CLI always prints the header).
pub fn parse_table(text: &str, command: &str) -> Result<Table, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, strip_ansi(l).trim_end().to_string()))
        .filter(|(_, l)| !l.trim().is_empty());
    let (header_no, header) = lines
        .next()
        .ok_or_else(|| ParseError::new(command, "empty output"))?;
    if header
        .chars()
        .any(|c| c.is_lowercase() || c == '{' || c == '"')
    {
        return Err(ParseError::at(
            command,
            header_no,
            "not a table header (expected upper-case column names)",
        ));
    }
    let header_chars: Vec<char> = header.chars().collect();
    let columns = header_columns(&header_chars);
    if columns.first().is_none_or(|(start, _)| *start != 0) {
        return Err(ParseError::at(
            command,
            header_no,
            "table header is indented",
        ));
    }
    let mut rows = Vec::new();
    for (line, text) in lines {
        if text == header {
            rows.clear();
            continue;
        }
        let chars: Vec<char> = text.chars().collect();
        let mut cells = Vec::with_capacity(columns.len());
        for (k, (start, name)) in columns.iter().enumerate() {
            let end = columns.get(k + 1).map_or(chars.len(), |(s, _)| *s);
            if *start > 0
                && chars.len() > *start
                && chars[*start - 1] != ' '
                && chars[*start] != ' '
            {
                return Err(ParseError::at(
                    command,
                    line,
                    format!("row is not aligned with the header at column `{name}`"),
                ));
            }
            let cell: String = chars
                .get(*start..end.max(*start).min(chars.len()))
                .unwrap_or_default()
                .iter()
                .collect();
            cells.push(cell.trim().to_string());
        }
        rows.push(Row { line, cells });
    }
    Ok(Table {
        headers: columns.into_iter().map(|(_, n)| n).collect(),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::testing::fixture;

    #[test]
    fn ps_table_columns() {
        let t = parse_table(&fixture("docker/docker-ps-a_exited0_docs.txt"), "docker ps")
            .expect("table");
        assert_eq!(
            t.headers,
            [
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES"
            ]
        );
        assert_eq!(t.rows.len(), 3);
        assert_eq!(
            t.rows[0].cells,
            [
                "ea09c3c82f6e",
                "registry:latest",
                "/srv/run.sh",
                "2 weeks ago",
                "Exited (0) 2 weeks ago",
                "127.0.0.1:5000->5000/tcp",
                "desperate_leakey"
            ]
        );
        assert_eq!(t.rows[1].cell(2), "/bin/sh -c 'bash -l'");
        assert_eq!(t.rows[1].cell(5), "");
        assert_eq!(t.rows[2].line, 4);
        assert_eq!(t.column("PORTS"), Some(5));
        assert_eq!(t.rows[2].cell(99), "");
    }

    #[test]
    fn multibyte_cells_count_characters() {
        let t = parse_table(
            &fixture("docker/docker-compose-ps-all_docs.txt"),
            "docker compose ps",
        )
        .expect("table");
        assert_eq!(t.rows[0].cells[2], "\"/entrypoint.…\"");
        assert_eq!(t.rows[0].cells[3], "foo");
        assert_eq!(t.rows[1].cells[5], "exited (0)");
        assert_eq!(t.rows[1].cells[6], "");
    }

    #[test]
    fn frames_and_control_sequences() {
        let text =
            "\u{1b}[2J\u{1b}[HNAME   CPU %\na      1%\n\u{1b}[2J\u{1b}[HNAME   CPU %\nb      2%\n";
        let t = parse_table(text, "docker stats").expect("table");
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0].cells, ["b", "2%"]);
        assert_eq!(t.rows[0].line, 4);
    }

    #[test]
    fn rejects_what_is_not_a_table() {
        for (text, message) in [
            ("", "docker ps: empty output"),
            ("  \n \n", "docker ps: empty output"),
            (
                "{\"ID\":\"x\"}",
                "docker ps: line 1: not a table header (expected upper-case column names)",
            ),
            (
                "Cannot connect to the Docker daemon",
                "docker ps: line 1: not a table header (expected upper-case column names)",
            ),
            (
                "   NAME   ID",
                "docker ps: line 1: table header is indented",
            ),
            (
                "NAME   ID\nlongername1 x",
                "docker ps: line 2: row is not aligned with the header at column `ID`",
            ),
        ] {
            let e = parse_table(text, "docker ps").expect_err(text);
            assert_eq!(e.to_string(), message, "{text:?}");
        }
        let t = parse_table("NAME   ID\n", "docker ps").expect("header only");
        assert!(t.rows.is_empty());
    }
}
