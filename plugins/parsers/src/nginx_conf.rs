//! nginx configuration files: a small tokenizer and tree parser ([`parse_nginx_conf`]) that
//! reads the text the way nginx's own `ngx_conf_read_token` does, into a tree of
//! [`Directive`]s with their line numbers.
//!
//! * `#` starts a comment to the end of the line where a token could start (not inside a
//!   quoted string, nor inside a word: `http://host/#frag` is one word);
//! * `"…"` and `'…'` are quoted strings, in which `;`, `{`, `}` and `#` are plain text;
//!   `\"`, `\'` and `\\` (in any token) stand for the character, `\t`, `\r`, `\n` for the
//!   control character, and any other `\x` is kept as written (regexes such as `\.`);
//! * a word ends at a blank, `;` or `{`, except that `${` stays in the word (`${var}`);
//! * `;` ends a simple directive, `{ … }` holds a block directive's children.
//!
//! The parser is lenient: a missing `;`, an unbalanced `}` or `{`, an unterminated string
//! or a block nested deeper than [`MAX_DEPTH`] still yields a tree, with a problem (naming
//! its line) for each, and it never panics.

use serde::Serialize;

/// How deep blocks may nest. The contents of a deeper block are skipped (the block is kept
/// empty) and reported as a problem, so that hostile input cannot exhaust the stack of the
/// code that walks the tree.
pub const MAX_DEPTH: usize = 64;

/// One directive: `name arg…;` or `name arg… { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    /// The directive's name (`location`, `proxy_pass`); empty for a block that nothing
    /// named (a stray `{`).
    pub name: String,
    /// Its arguments, unquoted and unescaped (`location ^~ /app/ {` → `["^~", "/app/"]`).
    pub args: Vec<String>,
    /// The 1-based line of its name.
    pub line: usize,
    /// The directives of its block; `None` for a simple directive ended by `;`.
    pub block: Option<Vec<Directive>>,
}

impl Directive {
    /// The directives of its block; empty for a simple directive.
    pub fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or_default()
    }

    /// Its argument `i` (0-based), if there is one.
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }
}

/// A parsed configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NginxConf {
    /// The top-level directives, in order.
    pub directives: Vec<Directive>,
    /// What did not parse cleanly, each naming its line (`line 12: missing ";" before
    /// "}"`); empty for a well-formed file.
    pub problems: Vec<String>,
}

/// Every directive of `directives` and of their blocks, depth first, in the order of the
/// text (a block directive comes before its children).
pub fn flatten(directives: &[Directive]) -> Vec<&Directive> {
    let mut out = Vec::new();
    let mut stack: Vec<&Directive> = directives.iter().rev().collect();
    while let Some(d) = stack.pop() {
        out.push(d);
        stack.extend(d.children().iter().rev());
    }
    out
}

/// One token of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A word or quoted string, unescaped.
    Word(String),
    /// `;`
    Semi,
    /// `{`
    Open,
    /// `}`
    Close,
}

/// Whether `c` separates tokens the way nginx's blanks do.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// The tokens of `text`, each with its 1-based line, and the problems met on the way.
fn tokenize(text: &str, problems: &mut Vec<(usize, String)>) -> Vec<(Token, usize)> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if is_blank(c) => {}
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            ';' => tokens.push((Token::Semi, line)),
            '{' => tokens.push((Token::Open, line)),
            '}' => tokens.push((Token::Close, line)),
            '"' | '\'' => {
                let start = line;
                let mut word = String::new();
                let mut closed = false;
                while let Some(q) = chars.next() {
                    if q == c {
                        closed = true;
                        break;
                    }
                    if q == '\\' {
                        unescape(chars.next(), &mut word, &mut line);
                    } else {
                        if q == '\n' {
                            line += 1;
                        }
                        word.push(q);
                    }
                }
                if !closed {
                    problems.push((
                        start,
                        "quoted string not closed at the end of the file".into(),
                    ));
                } else if let Some(&next) = chars.peek()
                    && !(is_blank(next) || matches!(next, ';' | '{' | ')'))
                {
                    problems.push((
                        line,
                        format!("unexpected {next:?} right after a quoted string"),
                    ));
                }
                tokens.push((Token::Word(word), start));
            }
            c => {
                let start = line;
                let mut word = String::new();
                let mut prev = c;
                if c == '\\' {
                    unescape(chars.next(), &mut word, &mut line);
                } else {
                    word.push(c);
                }
                while let Some(&next) = chars.peek() {
                    if is_blank(next) || next == ';' || (next == '{' && prev != '$') {
                        break;
                    }
                    chars.next();
                    prev = next;
                    if next == '\\' {
                        unescape(chars.next(), &mut word, &mut line);
                        prev = '\\';
                    } else {
                        word.push(next);
                    }
                }
                tokens.push((Token::Word(word), start));
            }
        }
    }
    tokens
}

/// Appends to `word` the character escaped by a backslash (`next`, the one after it), the
/// way nginx unescapes its tokens; a backslash at the end of the file is kept.
fn unescape(next: Option<char>, word: &mut String, line: &mut usize) {
    match next {
        Some(c @ ('"' | '\'' | '\\')) => word.push(c),
        Some('t') => word.push('\t'),
        Some('r') => word.push('\r'),
        Some('n') => word.push('\n'),
        Some(c) => {
            if c == '\n' {
                *line += 1;
            }
            word.push('\\');
            word.push(c);
        }
        None => word.push('\\'),
    }
}

/// A block being read: the directive that opened it and the children read so far.
struct Frame {
    head: Directive,
    children: Vec<Directive>,
}

/// A directive from the words read since the last `;`, `{` or `}` (the first is its name).
fn directive(words: &mut Vec<String>, line: usize, block: Option<Vec<Directive>>) -> Directive {
    let mut args = std::mem::take(words);
    let name = if args.is_empty() {
        String::new()
    } else {
        args.remove(0)
    };
    Directive {
        name,
        args,
        line,
        block,
    }
}

/// Parses an nginx configuration file into its tree of directives (see the module's
/// documentation for the syntax). Never fails: whatever does not parse cleanly is kept as
/// well as it can be and reported in [`NginxConf::problems`]:
///
/// * words before a `}` or the end of the file without their `;` become a directive;
/// * a `}` with no open block is skipped, a block still open at the end of the file is
///   closed there;
/// * a `;` with no directive before it is skipped, a `{` with none becomes a directive with
///   an empty name;
/// * a block nested deeper than [`MAX_DEPTH`] is kept empty, its contents skipped.
pub fn parse_nginx_conf(text: &str) -> NginxConf {
    let mut problems = Vec::new();
    let tokens = tokenize(text, &mut problems);
    let mut top: Vec<Directive> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut words_line = 0;
    // A block too deep to keep: its directive and how many of its braces are still open.
    let mut skipping: Option<(Directive, usize)> = None;

    fn push(stack: &mut [Frame], top: &mut Vec<Directive>, d: Directive) {
        match stack.last_mut() {
            Some(frame) => frame.children.push(d),
            None => top.push(d),
        }
    }

    for (token, line) in tokens {
        if let Some((_, open)) = &mut skipping {
            match token {
                Token::Open => *open += 1,
                Token::Close => {
                    *open -= 1;
                    if *open == 0
                        && let Some((mut head, _)) = skipping.take()
                    {
                        head.block = Some(Vec::new());
                        push(&mut stack, &mut top, head);
                    }
                }
                Token::Word(_) | Token::Semi => {}
            }
            continue;
        }
        match token {
            Token::Word(w) => {
                if words.is_empty() {
                    words_line = line;
                }
                words.push(w);
            }
            Token::Semi => {
                if words.is_empty() {
                    problems.push((line, "unexpected \";\"".into()));
                } else {
                    let d = directive(&mut words, words_line, None);
                    push(&mut stack, &mut top, d);
                }
            }
            Token::Open => {
                if words.is_empty() {
                    problems.push((line, "\"{\" without a directive".into()));
                    words_line = line;
                }
                let head = directive(&mut words, words_line, None);
                if stack.len() >= MAX_DEPTH {
                    problems.push((
                        line,
                        format!("blocks nested deeper than {MAX_DEPTH}; contents skipped"),
                    ));
                    skipping = Some((head, 1));
                } else {
                    stack.push(Frame {
                        head,
                        children: Vec::new(),
                    });
                }
            }
            Token::Close => {
                if !words.is_empty() {
                    problems.push((
                        words_line,
                        format!(
                            "missing \";\" after \"{}\"",
                            words.first().map_or("", String::as_str)
                        ),
                    ));
                    let d = directive(&mut words, words_line, None);
                    push(&mut stack, &mut top, d);
                }
                match stack.pop() {
                    Some(Frame { mut head, children }) => {
                        head.block = Some(children);
                        push(&mut stack, &mut top, head);
                    }
                    None => problems.push((line, "unexpected \"}\"".into())),
                }
            }
        }
    }
    if !words.is_empty() {
        problems.push((
            words_line,
            format!(
                "missing \";\" after \"{}\" at the end of the file",
                words.first().map_or("", String::as_str)
            ),
        ));
        let d = directive(&mut words, words_line, None);
        push(&mut stack, &mut top, d);
    }
    if let Some((mut head, _)) = skipping {
        problems.push((
            head.line,
            format!("block \"{}\" not closed at the end of the file", head.name),
        ));
        head.block = Some(Vec::new());
        push(&mut stack, &mut top, head);
    }
    while let Some(Frame { mut head, children }) = stack.pop() {
        problems.push((
            head.line,
            format!("block \"{}\" not closed at the end of the file", head.name),
        ));
        head.block = Some(children);
        push(&mut stack, &mut top, head);
    }
    problems.sort_by_key(|(line, _)| *line);
    NginxConf {
        directives: top,
        problems: problems
            .into_iter()
            .map(|(line, m)| format!("line {line}: {m}"))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::testing::{fixture, fixture_dir};

    fn simple(name: &str, args: &[&str], line: usize) -> Directive {
        Directive {
            name: name.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            line,
            block: None,
        }
    }

    #[test]
    fn tree_with_lines_and_nested_blocks() {
        let conf = parse_nginx_conf(
            "# comment\nserver {\n    listen 443 ssl; # trailing\n    location / {\n        \
             proxy_pass http://a:1;\n    }\n}\n",
        );
        assert_eq!(conf.problems, Vec::<String>::new());
        assert_eq!(
            conf.directives,
            vec![Directive {
                name: "server".into(),
                args: vec![],
                line: 2,
                block: Some(vec![
                    simple("listen", &["443", "ssl"], 3),
                    Directive {
                        name: "location".into(),
                        args: vec!["/".into()],
                        line: 4,
                        block: Some(vec![simple("proxy_pass", &["http://a:1"], 5)]),
                    },
                ]),
            }]
        );
        let names: Vec<&str> = flatten(&conf.directives)
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(names, ["server", "listen", "location", "proxy_pass"]);
        assert_eq!(conf.directives[0].children()[0].arg(1), Some("ssl"));
        assert_eq!(conf.directives[0].children()[0].arg(2), None);
    }

    #[test]
    fn quoted_strings_keep_separators_and_unescape() {
        let conf = parse_nginx_conf(
            "proxy_cookie_path / \"/; HTTPOnly; Secure\";\nadd_header X '{#}' always;\n\
             server_name \"~^(?<p>[0-9]{1,10})\\.x\\..*$\";\nset $a \"say \\\"hi\\\"\\t\";\n\
             return 301 https://h/#frag;\nset $b ${a}x;\nrewrite ^/a\\.b(.*) /c$1 last;\n\
             k 'multi\nline' v;\nnext x;\n",
        );
        assert_eq!(conf.problems, Vec::<String>::new());
        let d = &conf.directives;
        assert_eq!(d[0].args, ["/", "/; HTTPOnly; Secure"]);
        assert_eq!(d[1].args, ["X", "{#}", "always"]);
        assert_eq!(d[2].args, ["~^(?<p>[0-9]{1,10})\\.x\\..*$"]);
        assert_eq!(d[3].args, ["$a", "say \"hi\"\t"]);
        assert_eq!(d[4].args, ["301", "https://h/#frag"]);
        assert_eq!(d[5].args, ["$b", "${a}x"]);
        assert_eq!(d[6].args, ["^/a\\.b(.*)", "/c$1", "last"]);
        assert_eq!((d[7].line, d[8].line), (8, 10));
    }

    #[test]
    fn if_conditions_are_words() {
        let conf = parse_nginx_conf("if ($http_user_agent ~ \"Web0S\") {\n  return 403;\n}\n");
        assert_eq!(conf.problems, Vec::<String>::new());
        assert_eq!(conf.directives[0].name, "if");
        assert_eq!(
            conf.directives[0].args,
            ["($http_user_agent", "~", "Web0S", ")"]
        );
        assert_eq!(conf.directives[0].children()[0].name, "return");
    }

    #[test]
    fn unbalanced_and_unterminated_input_gives_problems() {
        let conf = parse_nginx_conf("server {\n  listen 80\n}\n}\n;\nlocation / {\n  x 1;\n");
        assert_eq!(
            conf.problems,
            [
                "line 2: missing \";\" after \"listen\"",
                "line 4: unexpected \"}\"",
                "line 5: unexpected \";\"",
                "line 6: block \"location\" not closed at the end of the file",
            ]
        );
        assert_eq!(conf.directives.len(), 2);
        assert_eq!(
            conf.directives[0].children(),
            [simple("listen", &["80"], 2)]
        );
        assert_eq!(conf.directives[1].children(), [simple("x", &["1"], 7)]);

        let conf = parse_nginx_conf("a \"open ;\n{ }");
        assert_eq!(
            conf.problems,
            [
                "line 1: quoted string not closed at the end of the file",
                "line 1: missing \";\" after \"a\" at the end of the file",
            ]
        );
        let conf = parse_nginx_conf("{ a; }\nb \"x\"y;");
        assert_eq!(conf.directives[0].name, "");
        assert_eq!(conf.directives[0].children(), [simple("a", &[], 1)]);
        assert_eq!(
            conf.problems,
            [
                "line 1: \"{\" without a directive",
                "line 2: unexpected 'y' right after a quoted string",
            ]
        );
    }

    #[test]
    fn empty_and_comment_only_files() {
        for text in ["", "\n\n", "# only a comment", "#\n  # x { ; }\n"] {
            let conf = parse_nginx_conf(text);
            assert_eq!(conf.directives, Vec::<Directive>::new(), "{text:?}");
            assert_eq!(conf.problems, Vec::<String>::new(), "{text:?}");
        }
        assert_eq!(parse_nginx_conf("a\\").directives[0].name, "a\\");
    }

    #[test]
    fn deep_nesting_is_bounded() {
        for n in [MAX_DEPTH, MAX_DEPTH + 1, 100_000] {
            let text = format!("{}x;{}", "b {".repeat(n), "}".repeat(n));
            let conf = parse_nginx_conf(&text);
            let mut depth = 0;
            let mut level = conf.directives.as_slice();
            while let Some(d) = level.first() {
                depth += 1;
                level = d.children();
            }
            if n <= MAX_DEPTH {
                assert_eq!(conf.problems, Vec::<String>::new());
                assert_eq!(depth, n + 1);
            } else {
                assert_eq!(conf.problems.len(), 1, "{:?}", conf.problems);
                assert_eq!(depth, MAX_DEPTH + 1);
            }
        }
        // Unclosed: every open frame is closed at the end, one problem each (bounded).
        let conf = parse_nginx_conf(&"{".repeat(100_000));
        assert_eq!(conf.problems.len(), 3 + MAX_DEPTH * 2);
        drop(flatten(&conf.directives));
        drop(serde_json::to_string(&conf));
    }

    #[test]
    fn every_swag_sample_and_default_parses_cleanly() {
        let mut files: Vec<String> = fixture_dir("swag")
            .into_iter()
            .filter(|f| f.ends_with(".conf.sample"))
            .map(|f| format!("swag/{f}"))
            .collect();
        for dir in ["defaults", "defaults/site-confs", "defaults/baseimage"] {
            files.extend(
                fixture_dir(&format!("swag/{dir}"))
                    .into_iter()
                    .filter(|f| f.ends_with(".sample"))
                    .map(|f| format!("swag/{dir}/{f}")),
            );
        }
        assert!(files.len() >= 380, "{}", files.len());
        for f in &files {
            let conf = parse_nginx_conf(&fixture(f));
            assert_eq!(conf.problems, Vec::<String>::new(), "{f}");
            assert!(!conf.directives.is_empty(), "{f}");
        }
    }
}
