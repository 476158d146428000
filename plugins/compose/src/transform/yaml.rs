//! Reading a compose file twice over: a lossless, editable syntax tree ([`yaml_edit`]) to
//! change it in place, and a plain value tree ([`serde_norway`]) to read its meaning, to
//! report exact error positions and to re-check the edited text.
//!
//! Also the scalar helpers the transforms share: reading a scalar as written (its quoting
//! style and its value) and writing a new value back in the same style.

use serde_norway::Value;
use yaml_edit::{AnchorRegistry, AsYaml, Document, Lang, Mapping, Scalar, SyntaxKind, YamlNode};

use super::YamlError;

/// A parsed compose file: the editable tree and the plain view of the same text.
pub(crate) struct ComposeFile {
    /// The lossless tree; edits go here and `to_string()` gives the new text.
    pub doc: Document,
    /// The top-level mapping of `doc`.
    pub root: Mapping,
    /// The plain value of the text with merge keys (`<<`) resolved.
    pub plain: Value,
}

/// One service of the file, as the transforms see it.
pub(crate) struct Service {
    /// The key under `services`.
    pub name: String,
    /// The service's own mapping in the editable tree (keys merged in with `<<` are not in it).
    pub node: Mapping,
    /// The service's plain value with merge keys resolved (what compose reads).
    pub plain: Value,
}

impl ComposeFile {
    /// Parses `text`; the errors are those of [`super::validate`].
    pub fn parse(text: &str) -> Result<Self, YamlError> {
        let mut plain: Value = serde_norway::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map_or((1, 1), |l| (l.line().max(1), l.column().max(1)));
            YamlError {
                line,
                column,
                message: e.to_string(),
            }
        })?;
        resolve_merges(&mut plain);
        let Some(top) = plain.as_mapping() else {
            return Err(YamlError::at_start(format!(
                "the top level of a compose file must be a mapping, not {}",
                kind_name(&plain)
            )));
        };
        let doc = text.parse::<Document>().map_err(|e| {
            YamlError::at_start(format!("the YAML editor cannot read this file: {e}"))
        })?;
        let Some(root) = doc.as_mapping() else {
            return Err(YamlError::at_start(
                "the YAML editor does not see a top-level mapping".to_string(),
            ));
        };
        match top.get("services") {
            None | Some(Value::Null) => {}
            Some(Value::Mapping(services)) => {
                for (name, service) in services {
                    if !matches!(untagged(service), Value::Mapping(_)) {
                        let name = key_text(name);
                        let offset = root
                            .get_mapping("services")
                            .and_then(|s| s.get(name.as_str()))
                            .map_or(0, |n| n.byte_range().start as usize);
                        return Err(YamlError::at_offset(
                            text,
                            offset,
                            format!(
                                "service `{name}` must be a mapping, not {}",
                                kind_name(service)
                            ),
                        ));
                    }
                }
            }
            Some(other) => {
                let offset = root
                    .get("services")
                    .map_or(0, |n| n.byte_range().start as usize);
                return Err(YamlError::at_offset(
                    text,
                    offset,
                    format!("`services` must be a mapping, not {}", kind_name(other)),
                ));
            }
        }
        Ok(Self { doc, root, plain })
    }

    /// The service names in file order, including services merged in with `<<`.
    pub fn service_names(&self) -> Vec<String> {
        match self.plain.get("services") {
            Some(Value::Mapping(services)) => services.keys().map(key_text).collect(),
            _ => Vec::new(),
        }
    }

    /// The services the file itself writes under `services` (in file order), each with its
    /// editable mapping and plain value. Services that only come from a `<<` merge into
    /// `services` cannot be edited and are left out.
    pub fn services(&self) -> Vec<Service> {
        let Some(services) = self.root.get_mapping("services") else {
            return Vec::new();
        };
        services
            .keys()
            .filter_map(|key| {
                let name = key.as_scalar()?.as_string();
                let node = services.get_mapping(name.as_str())?;
                let plain = self.plain.get("services")?.get(name.as_str())?.clone();
                Some(Service {
                    name,
                    node,
                    plain: untagged(&plain).clone(),
                })
            })
            .filter(|s| s.name != "<<")
            .collect()
    }
}

/// A node of the editable tree.
type SyntaxNode = rowan::SyntaxNode<Lang>;

/// The anchored nodes (`&name`) that some alias (`*name`, `<<: *name`) reuses. Editing
/// inside one would change every place that reuses it, so the transforms leave them alone.
pub(crate) struct SharedAnchors {
    nodes: Vec<(String, SyntaxNode)>,
}

impl SharedAnchors {
    /// Finds them in `doc` (before any edit).
    pub fn of(doc: &Document) -> Self {
        let Some(root) = doc.as_node() else {
            return Self { nodes: Vec::new() };
        };
        let aliased: std::collections::BTreeSet<String> = root
            .descendants_with_tokens()
            .filter_map(|element| element.into_token())
            .filter(|token| token.kind() == SyntaxKind::REFERENCE)
            .map(|token| token.text().trim_start_matches('*').to_string())
            .collect();
        if aliased.is_empty() {
            return Self { nodes: Vec::new() };
        }
        let registry = AnchorRegistry::from_document(doc);
        let nodes = aliased
            .into_iter()
            .filter_map(|name| {
                let node = registry.resolve(&name)?.clone();
                Some((name, node))
            })
            .collect();
        Self { nodes }
    }

    /// The name of the reused anchor `node` sits in (or is), if any.
    pub fn around(&self, node: &impl AsYaml) -> Option<&str> {
        let node = node.as_node()?;
        node.ancestors().find_map(|ancestor| {
            self.nodes
                .iter()
                .find(|(_, anchored)| *anchored == ancestor)
                .map(|(name, _)| name.as_str())
        })
    }
}

impl YamlError {
    /// An error about the file as a whole, reported at line 1, column 1.
    pub(crate) fn at_start(message: String) -> Self {
        Self {
            line: 1,
            column: 1,
            message,
        }
    }

    /// An error at byte `offset` of `text`.
    pub(crate) fn at_offset(text: &str, offset: usize, message: String) -> Self {
        let (line, column) = line_column(text, offset);
        Self {
            line,
            column,
            message,
        }
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = (0..=offset.min(text.len()))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// What a value is, for error messages.
fn kind_name(value: &Value) -> &'static str {
    match untagged(value) {
        Value::Null => "empty (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A mapping key as text (`8080` for a number key).
pub(crate) fn key_text(key: &Value) -> String {
    match untagged(key) {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        other => format!("{other:?}"),
    }
}

/// `value` without its YAML tags (`!reset [...]` reads as the list).
pub(crate) fn untagged(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => untagged(&tagged.value),
        other => other,
    }
}

/// Resolves YAML merge keys (`<<: *anchor`, `<<: [*a, *b]`) everywhere in `value`, the way
/// compose reads them: the mapping's own keys win, then the merged mappings in the order
/// listed; merged mappings are resolved first, so nested merges work. `<<` values that are
/// not mappings are dropped.
pub(crate) fn resolve_merges(value: &mut Value) {
    match value {
        Value::Mapping(map) => {
            if let Some(merge) = map.remove("<<") {
                let sources = match merge {
                    Value::Sequence(items) => items,
                    single => vec![single],
                };
                for mut source in sources {
                    resolve_merges(&mut source);
                    if let Value::Mapping(source) = source {
                        for (k, v) in source {
                            if !map.contains_key(&k) {
                                map.insert(k, v);
                            }
                        }
                    }
                }
            }
            for (_, v) in map.iter_mut() {
                resolve_merges(v);
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(resolve_merges),
        Value::Tagged(tagged) => resolve_merges(&mut tagged.value),
        _ => {}
    }
}

/// How a scalar is quoted in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuoteStyle {
    /// No quotes (`8080:80`).
    Plain,
    /// `'8080:80'`.
    Single,
    /// `"8080:80"`.
    Double,
}

/// A one-line scalar as written: the node to edit, its quoting and its value.
pub(crate) struct ScalarText {
    /// The scalar in the editable tree.
    pub node: Scalar,
    /// How it is quoted.
    pub style: QuoteStyle,
    /// Whether it sits in a flow collection (`[...]`, `{...}`), where `,[]{}` end a plain
    /// scalar.
    pub in_flow: bool,
    /// Its value (quotes removed, escapes resolved).
    pub value: String,
}

impl ScalarText {
    /// Reads `node` (inside a flow collection when `in_flow`) when it is a one-line scalar
    /// that [`render`] writes back exactly as it is written (so an edit can keep its style);
    /// `None` for collections, aliases, tagged or multi-line scalars and unusual escapes.
    pub fn read(node: &YamlNode, in_flow: bool) -> Option<Self> {
        let scalar = node.as_scalar()?;
        let raw = scalar.value();
        if raw.contains('\n') || raw.contains('\r') {
            return None;
        }
        let style = match raw.chars().next() {
            Some('"') => QuoteStyle::Double,
            Some('\'') => QuoteStyle::Single,
            _ => QuoteStyle::Plain,
        };
        let value = scalar.as_string();
        (render(style, &value, in_flow).as_deref() == Some(raw.as_str())).then(|| Self {
            node: scalar.clone(),
            style,
            in_flow,
            value,
        })
    }

    /// Writes `value` into the tree in this scalar's quoting style (double quotes when the
    /// style cannot hold it) and returns the text written.
    pub fn replace(&self, value: &str) -> String {
        let text = render_like(self.style, value, self.in_flow);
        self.node.set_value(&text);
        text
    }
}

/// `value` as a scalar in `style` (inside a flow collection when `in_flow`), or `None` when
/// that style cannot hold it safely.
pub(crate) fn render(style: QuoteStyle, value: &str, in_flow: bool) -> Option<String> {
    match style {
        QuoteStyle::Plain => is_plain_safe(value, in_flow).then(|| value.to_string()),
        QuoteStyle::Single => (!value.chars().any(char::is_control))
            .then(|| format!("'{}'", value.replace('\'', "''"))),
        QuoteStyle::Double => Some(double_quoted(value)),
    }
}

/// `value` in `style`, falling back to double quotes.
pub(crate) fn render_like(style: QuoteStyle, value: &str, in_flow: bool) -> String {
    render(style, value, in_flow).unwrap_or_else(|| double_quoted(value))
}

/// `value` as a double-quoted YAML scalar.
fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `value` can be written as a plain scalar (in a flow collection when `in_flow`)
/// and read back as the same text. Conservative: a leading YAML indicator, `: `, ` #`, a
/// trailing `:`, and in flow context any of `,[]{}` need quotes. (The type a plain scalar
/// resolves to is the caller's concern: `8080` stays a number, which is what a
/// written-plain `published: 8080` was.)
fn is_plain_safe(value: &str, in_flow: bool) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    !value.starts_with(char::is_whitespace)
        && !value.ends_with(char::is_whitespace)
        && !"-?:,[]{}#&*!|>'\"%@`".contains(first)
        && !value.ends_with(':')
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.contains('\t')
        && !(in_flow && value.contains([',', '[', ']', '{', '}']))
        && !value.chars().any(char::is_control)
        && value != "~"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        let text = "a: 1\nbé: [\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 5), (2, 1));
        assert_eq!(line_column(text, text.len()), (3, 1));
        assert_eq!(line_column(text, 9), (2, 4));
    }

    #[test]
    fn merges_resolve_nested_and_ordered() {
        let mut v: Value = serde_norway::from_str(
            "a: &a {x: 1, y: 1}\nb: &b {<<: *a, y: 2, z: 2}\nc: {<<: [*b, {w: 3, x: 9}], z: 3}\n",
        )
        .expect("yaml");
        resolve_merges(&mut v);
        let c = &v["c"];
        assert_eq!(c["x"], Value::from(1));
        assert_eq!(c["y"], Value::from(2));
        assert_eq!(c["z"], Value::from(3));
        assert_eq!(c["w"], Value::from(3));
        assert!(c.get("<<").is_none());
    }

    #[test]
    fn rendering_keeps_or_falls_back_to_double_quotes() {
        assert_eq!(render_like(QuoteStyle::Plain, "8001:80", false), "8001:80");
        assert_eq!(
            render_like(QuoteStyle::Single, "8001:80", false),
            "'8001:80'"
        );
        assert_eq!(
            render_like(QuoteStyle::Double, "8001:80", true),
            "\"8001:80\""
        );
        assert_eq!(
            render_like(QuoteStyle::Plain, "/a b #c:/x", false),
            "\"/a b #c:/x\""
        );
        assert_eq!(render_like(QuoteStyle::Single, "it's", false), "'it''s'");
        assert_eq!(render_like(QuoteStyle::Plain, "${A}:80", false), "${A}:80");
        assert_eq!(
            render_like(QuoteStyle::Plain, "${A}:80", true),
            "\"${A}:80\""
        );
        assert_eq!(render_like(QuoteStyle::Plain, "~", false), "\"~\"");
        assert_eq!(render_like(QuoteStyle::Plain, "a\"b\\", false), "a\"b\\");
        assert_eq!(
            render_like(QuoteStyle::Double, "a\"b\\", false),
            "\"a\\\"b\\\\\""
        );
    }

    #[test]
    fn structural_errors_have_positions() {
        let e = ComposeFile::parse("services:\n  web: 3\n")
            .err()
            .expect("error");
        assert_eq!((e.line, e.column), (2, 8));
        let e = ComposeFile::parse("x: 1\nservices: [a]\n")
            .err()
            .expect("error");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("`services` must be a mapping"));
        let e = ComposeFile::parse("- a\n").err().expect("error");
        assert_eq!((e.line, e.column), (1, 1));
        let e = ComposeFile::parse("services:\n  web:\n    image: [x\n")
            .err()
            .expect("error");
        assert!(e.line >= 3, "{e:?}");
    }
}
