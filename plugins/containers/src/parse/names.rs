//! What a caller may name a container by, and how an exec command line given as one string
//! becomes an argv (shell-word rules, never a shell).

use super::ParseError;

/// The longest container reference accepted (docker does not limit names, but nothing
/// longer is useful and it bounds the command line).
pub const MAX_CONTAINER_REF_LEN: usize = 255;

/// The accepted container references as a regular expression, for a route's path
/// parameter pattern; [`validate_container_ref`] checks the same.
pub const CONTAINER_REF_PATTERN: &str = "^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$";

/// What [`validate_container_ref`] accepts, in words, for error messages.
const ALLOWED: &str = "a container name (a letter or digit, then letters, digits, `_`, `.` \
                       or `-`; at most 255 characters) or a container id (12 to 64 \
                       hexadecimal digits)";

/// Checks a container name or id given by a caller before it goes on a docker command
/// line: `[a-zA-Z0-9][a-zA-Z0-9_.-]*` of at most [`MAX_CONTAINER_REF_LEN`] characters, the
/// grammar of docker's own names, which also covers ids (12 to 64 hex digits, full or
/// short). It never starts with `-`, so it cannot be taken for an option. The error says
/// what is wrong and what is allowed.
pub fn validate_container_ref(reference: &str) -> Result<(), String> {
    let problem = if reference.is_empty() {
        "is empty".to_string()
    } else if reference.chars().count() > MAX_CONTAINER_REF_LEN {
        format!("is {} characters long", reference.chars().count())
    } else if let Some(c) = reference
        .chars()
        .next()
        .filter(|c| !c.is_ascii_alphanumeric())
    {
        format!("starts with {}", describe(c))
    } else if let Some((i, c)) = reference
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        format!("contains {} at position {}", describe(c), i + 1)
    } else {
        return Ok(());
    };
    Err(format!("container reference {problem}; expected {ALLOWED}"))
}

/// A character for an error message: printable ones quoted, others as their code point.
fn describe(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("`{c}`")
    }
}

/// Splits an exec command line into its argv with POSIX shell-word rules (via `shlex`):
/// whitespace separates words, `'…'` and `"…"` quote, `\` escapes, and a word starting with
/// `#` begins a comment. Nothing is expanded (no variables, globs, pipes or redirections:
/// `a | b` is the three words `a`, `|`, `b`) and the argv is never given to a shell.
/// Unbalanced quotes, a trailing `\`, a NUL character or no words at all are errors.
pub fn split_command(command: &str) -> Result<Vec<String>, ParseError> {
    const WHAT: &str = "exec command";
    if command.contains('\0') {
        return Err(ParseError::new(WHAT, "contains a NUL character"));
    }
    let words = shlex::split(command).ok_or_else(|| {
        ParseError::new(
            WHAT,
            "unbalanced quotes or a trailing backslash (shell-word rules)",
        )
    })?;
    if words.is_empty() {
        return Err(ParseError::new(WHAT, "empty command"));
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::fixture;
    use crate::parse::inspect::parse_inspect;
    use crate::parse::ps::parse_ps;

    #[test]
    fn accepted_references() {
        for ok in [
            "web",
            "a",
            "0",
            "paperless-db-1",
            "test-1951.1.kay7x1lh1twk9c0oig50sd5tr",
            "my_nginx",
            "66fc6b8bd9cd",
            "66fc6b8bd9cd30fe42b8eb2b16c5f07745e18f273dba17ea7463de6f4c1de35f",
            &"a".repeat(255),
        ] {
            assert_eq!(validate_container_ref(ok), Ok(()), "{ok}");
        }
        // Names and ids from the fixtures.
        let c = parse_inspect(&fixture("docker/docker-inspect_container_flask.json"))
            .expect("inspect")
            .expect("container");
        assert_eq!(validate_container_ref(&c.summary.id), Ok(()));
        assert_eq!(validate_container_ref(&c.summary.name), Ok(()));
        for c in parse_ps(&fixture("docker/docker-ps_format-json_docs.jsonl")).expect("ps") {
            assert_eq!(validate_container_ref(&c.name), Ok(()));
            assert_eq!(validate_container_ref(&c.id), Ok(()));
        }
    }

    #[test]
    fn rejected_references() {
        let err = |r: &str| validate_container_ref(r).expect_err(r);
        assert_eq!(
            err(""),
            format!("container reference is empty; expected {ALLOWED}")
        );
        assert!(err("-rm").starts_with("container reference starts with `-`;"));
        assert!(err("_x").starts_with("container reference starts with `_`;"));
        assert!(err("/web").starts_with("container reference starts with `/`;"));
        assert!(err("web;rm").starts_with("container reference contains `;` at position 4;"));
        assert!(err("a b").starts_with("container reference contains U+0020 at position 2;"));
        assert!(err("a\nb").starts_with("container reference contains U+000A at position 2;"));
        assert!(err("web$(id)").contains("`$`"));
        assert!(err("caf\u{e9}").contains("`\u{e9}` at position 4"));
        assert!(err(&"a".repeat(256)).starts_with("container reference is 256 characters long;"));
        assert!(err("x/y").contains("12 to 64 hexadecimal digits"));
    }

    #[test]
    fn pattern_matches_the_validator() {
        // The pattern's shape, checked by hand since there is no regex engine here.
        assert!(CONTAINER_REF_PATTERN.starts_with('^') && CONTAINER_REF_PATTERN.ends_with('$'));
        assert!(CONTAINER_REF_PATTERN.contains(&format!("{{0,{}}}", MAX_CONTAINER_REF_LEN - 1)));
    }

    #[test]
    fn splits_shell_words() {
        let s = |c: &str| split_command(c).unwrap_or_else(|e| panic!("{c}: {e}"));
        assert_eq!(s("ls -la /app"), ["ls", "-la", "/app"]);
        assert_eq!(s("  ls\t-la  "), ["ls", "-la"]);
        assert_eq!(
            s(r#"sh -c 'echo "$HOME" && id'"#),
            ["sh", "-c", r#"echo "$HOME" && id"#]
        );
        assert_eq!(s(r#"echo "a b" c\ d ''"#), ["echo", "a b", "c d", ""]);
        assert_eq!(s("cat a | wc -l"), ["cat", "a", "|", "wc", "-l"]);
        assert_eq!(s("echo $(id) `x` *"), ["echo", "$(id)", "`x`", "*"]);
        assert_eq!(s("echo hi # comment"), ["echo", "hi"]);
        assert_eq!(s("echo a#b"), ["echo", "a#b"]);
        assert_eq!(s("echo 'caf\u{e9}'"), ["echo", "caf\u{e9}"]);
    }

    #[test]
    fn split_errors() {
        for (bad, message) in [
            ("", "exec command: empty command"),
            ("   \t\n", "exec command: empty command"),
            ("# only a comment", "exec command: empty command"),
            (
                "echo 'unterminated",
                "exec command: unbalanced quotes or a trailing backslash (shell-word rules)",
            ),
            (
                "echo \"unterminated",
                "exec command: unbalanced quotes or a trailing backslash (shell-word rules)",
            ),
            (
                "echo trailing\\",
                "exec command: unbalanced quotes or a trailing backslash (shell-word rules)",
            ),
            ("echo a\0b", "exec command: contains a NUL character"),
        ] {
            assert_eq!(
                split_command(bad).expect_err(bad).to_string(),
                message,
                "{bad:?}"
            );
        }
    }
}
