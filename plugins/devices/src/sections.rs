//! Multi-part script output: a constant script prints `@@infra:NAME@@` before each part so
//! one SSH round trip can carry the output of several commands.

use std::collections::BTreeMap;

use infrastructor_sdk::prelude::*;

/// The parts of a script's stdout, keyed by the `NAME` of their `@@infra:NAME@@` marker
/// line. Text before the first marker is dropped; a repeated marker appends to its part.
#[derive(Debug, Default)]
pub struct Sections {
    parts: BTreeMap<String, String>,
}

impl Sections {
    /// Splits `text` at its marker lines.
    pub fn parse(text: &str) -> Self {
        let mut parts: BTreeMap<String, String> = BTreeMap::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some(name) = line
                .strip_prefix("@@infra:")
                .and_then(|s| s.strip_suffix("@@"))
            {
                parts.entry(name.to_string()).or_default();
                current = Some(name.to_string());
            } else if let Some(body) = current.as_ref().and_then(|n| parts.get_mut(n)) {
                body.push_str(line);
                body.push('\n');
            }
        }
        Sections { parts }
    }

    /// The part `name`, or `None` when the script did not print its marker.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.parts.get(name).map(String::as_str)
    }

    /// The part `name`; its absence is an upstream error naming `script` and the part.
    pub fn require(&self, script: &str, name: &str) -> Result<&str, Error> {
        self.get(name).ok_or_else(|| {
            Error::upstream(format!(
                "{script} script: section `{name}` missing from the output"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_markers_and_drops_the_preamble() {
        let s =
            Sections::parse("noise\n@@infra:a@@\n1\n2\n@@infra:b@@\n@@infra:smart:/dev/sda@@\nx\n");
        assert_eq!(s.get("a"), Some("1\n2\n"));
        assert_eq!(s.get("b"), Some(""));
        assert_eq!(s.get("missing"), None);
        assert!(s.require("t", "missing").is_err());
        assert_eq!(s.get("smart:/dev/sda"), Some("x\n"));
    }
}
