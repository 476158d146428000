//! Whitespace-separated tokens with their positions, for tables whose columns are found by
//! position (`df`, `ss`, `netstat`).

/// Whitespace-separated tokens of `line` with their byte offsets.
pub fn spans(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_with_byte_offsets() {
        assert_eq!(
            spans("  tcp   LISTEN\t0 é:22 "),
            [(2, "tcp"), (8, "LISTEN"), (15, "0"), (17, "é:22")]
        );
        assert!(spans("").is_empty());
        assert!(spans(" \t ").is_empty());
        assert_eq!(spans("x"), [(0, "x")]);
    }
}
