//! The safety net under the lossless editor: every edit made to the syntax tree is also made
//! to a plain value tree of the original file, and the edited text must parse to exactly
//! that tree. A layout the editor got wrong (an entry under the wrong key, a lost anchor, a
//! broken indentation) fails the check instead of reaching a device.

use serde_norway::Value;

use super::yaml::resolve_merges;

/// One step of a path into the plain tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// A mapping key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// A path from the top of the file (`services`, `web`, `ports`, `0`).
pub(crate) fn path<const N: usize>(steps: [Step; N]) -> Vec<Step> {
    steps.to_vec()
}

/// `Step::Key` from text.
pub(crate) fn key(name: &str) -> Step {
    Step::Key(name.to_string())
}

/// What the edited file must mean: the original plain tree with the intended edits applied.
pub(crate) struct ExpectedTree {
    value: Value,
}

impl ExpectedTree {
    /// Starts from the plain tree of the original file (merge keys resolved).
    pub fn new(original: &Value) -> Self {
        Self {
            value: original.clone(),
        }
    }

    /// Sets the value at `at` (the last step may name a new mapping key).
    pub fn set(&mut self, at: &[Step], value: Value) {
        let Some((last, parent)) = at.split_last() else {
            self.value = value;
            return;
        };
        let Some(parent) = walk(&mut self.value, parent) else {
            return;
        };
        match (untagged_mut(parent), last) {
            (Value::Mapping(map), Step::Key(k)) => {
                map.insert(Value::String(k.clone()), value);
            }
            (Value::Sequence(items), Step::Index(i)) => {
                if let Some(slot) = items.get_mut(*i) {
                    *slot = value;
                }
            }
            (slot, Step::Key(k)) if slot.is_null() => {
                let mut map = serde_norway::Mapping::new();
                map.insert(Value::String(k.clone()), value);
                *slot = Value::Mapping(map);
            }
            _ => {}
        }
    }

    /// Appends `value` to the list at `at`.
    pub fn push(&mut self, at: &[Step], value: Value) {
        if let Some(Value::Sequence(items)) = walk(&mut self.value, at).map(untagged_mut) {
            items.push(value);
        }
    }

    /// Checks that `text` parses to the expected tree; the error names the first place
    /// where it does not.
    pub fn check(&self, text: &str) -> Result<(), String> {
        let mut actual: Value = serde_norway::from_str(text)
            .map_err(|e| format!("the edited text is not valid YAML: {e}"))?;
        resolve_merges(&mut actual);
        match first_difference(&self.value, &actual, &mut Vec::new()) {
            None => Ok(()),
            Some(at) => Err(format!(
                "the edited text differs from the intended change at `{at}`"
            )),
        }
    }
}

/// The plain value a scalar written as `text` reads as (`8001` a number, `"8001:80"` a
/// string).
pub(crate) fn scalar_value(text: &str) -> Value {
    serde_norway::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn walk<'a>(mut value: &'a mut Value, at: &[Step]) -> Option<&'a mut Value> {
    for step in at {
        value = match (untagged_mut(value), step) {
            (Value::Mapping(map), Step::Key(k)) => map.get_mut(k.as_str())?,
            (Value::Sequence(items), Step::Index(i)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(value)
}

fn untagged_mut(value: &mut Value) -> &mut Value {
    match value {
        Value::Tagged(tagged) => untagged_mut(&mut tagged.value),
        other => other,
    }
}

/// The dotted path of the first place where `expected` and `actual` differ.
fn first_difference(expected: &Value, actual: &Value, at: &mut Vec<String>) -> Option<String> {
    let here = |at: &Vec<String>| {
        if at.is_empty() {
            "(top)".to_string()
        } else {
            at.join(".")
        }
    };
    match (expected, actual) {
        (Value::Mapping(e), Value::Mapping(a)) => {
            // Key order is not meaning: a key added to a service that also merges keys from
            // an anchor sits before the merged ones in the edited file.
            if e.len() != a.len() {
                return Some(here(at));
            }
            for (k, ev) in e {
                at.push(super::yaml::key_text(k));
                let found = match a.get(k) {
                    Some(av) => first_difference(ev, av, at),
                    None => Some(here(at)),
                };
                at.pop();
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        (Value::Sequence(e), Value::Sequence(a)) => {
            if e.len() != a.len() {
                return Some(here(at));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                at.push(i.to_string());
                let found = first_difference(ev, av, at);
                at.pop();
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        (Value::Tagged(e), Value::Tagged(a)) if e.tag == a.tag => {
            first_difference(&e.value, &a.value, at)
        }
        (e, a) => (e != a).then(|| here(at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Value {
        let mut v: Value = serde_norway::from_str(text).expect("yaml");
        resolve_merges(&mut v);
        v
    }

    #[test]
    fn edits_apply_and_check() {
        let mut expected = ExpectedTree::new(&plain("s:\n  w:\n    p: ['1:1']\n    n:\n"));
        expected.set(
            &path([key("s"), key("w"), key("p"), Step::Index(0)]),
            scalar_value("'2:1'"),
        );
        expected.push(&path([key("s"), key("w"), key("p")]), Value::from("3:3"));
        expected.set(
            &path([key("s"), key("w"), key("n"), key("x")]),
            Value::from(true),
        );
        assert_eq!(
            expected.check("s:\n  w:\n    p: ['2:1', 3:3]\n    n: {x: true}\n"),
            Ok(())
        );
        let err = expected
            .check("s:\n  w:\n    p: ['2:1']\n    n: {x: true}\n")
            .expect_err("differs");
        assert!(err.contains("s.w.p"), "{err}");
        let err = expected
            .check("s:\n  w:\n    p: ['2:1', 3:3]\n  n: {x: true}\n")
            .expect_err("differs");
        assert!(err.contains("s"), "{err}");
    }

    #[test]
    fn scalar_values_read_as_yaml_does() {
        assert_eq!(scalar_value("8001"), Value::from(8001));
        assert_eq!(scalar_value("\"8001\""), Value::from("8001"));
        assert_eq!(scalar_value("8001:80"), Value::from("8001:80"));
    }
}
