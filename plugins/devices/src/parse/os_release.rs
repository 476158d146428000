//! `/etc/os-release` (os-release(5)).

use std::collections::BTreeMap;

use serde::Serialize;

use super::ParseError;

const CMD: &str = "os-release";

/// The fields the device analysis uses, plus every assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OsRelease {
    /// `NAME` (`Ubuntu`).
    pub name: Option<String>,
    /// `VERSION` (`22.04.4 LTS (Jammy Jellyfish)`).
    pub version: Option<String>,
    /// `VERSION_ID` (`22.04`).
    pub version_id: Option<String>,
    /// `PRETTY_NAME` (`Ubuntu 22.04.4 LTS`).
    pub pretty_name: Option<String>,
    /// `ID` (`ubuntu`).
    pub id: Option<String>,
    /// `ID_LIKE` (`debian`).
    pub id_like: Option<String>,
    /// `VERSION_CODENAME` (`jammy`).
    pub version_codename: Option<String>,
    /// Every `KEY=value`, unquoted.
    pub fields: BTreeMap<String, String>,
}

/// Undoes shell-style quoting: `"…"` (with `\"`, `\\`, `` \` ``, `\$` escapes), `'…'`, or a
/// bare word.
fn unquote(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if let Some(inner) = raw.strip_prefix('"') {
        let inner = inner.strip_suffix('"')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e @ ('"' | '\\' | '`' | '$')) => out.push(e),
                    Some(e) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => return None,
                },
                '"' => return None,
                c => out.push(c),
            }
        }
        Some(out)
    } else if let Some(inner) = raw.strip_prefix('\'') {
        let inner = inner.strip_suffix('\'')?;
        (!inner.contains('\'')).then(|| inner.to_string())
    } else if raw.contains(|c: char| c.is_whitespace() || "\"'`$;&|<>()".contains(c)) {
        None
    } else {
        Some(raw.to_string())
    }
}

/// Parses os-release: `KEY=value` lines, `#` comments and blank lines. A line that is not an
/// assignment is an error; so is a file without `NAME`, `ID` or `PRETTY_NAME`.
pub fn parse_os_release(text: &str) -> Result<OsRelease, ParseError> {
    let mut fields = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| ParseError::at(CMD, line_no, "expected KEY=value"))?;
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(ParseError::at(CMD, line_no, format!("bad key `{key}`")));
        }
        let value = unquote(value)
            .ok_or_else(|| ParseError::at(CMD, line_no, format!("bad quoting in {key}")))?;
        fields.insert(key.to_string(), value);
    }
    let get = |k: &str| fields.get(k).cloned().filter(|v| !v.is_empty());
    let out = OsRelease {
        name: get("NAME"),
        version: get("VERSION"),
        version_id: get("VERSION_ID"),
        pretty_name: get("PRETTY_NAME"),
        id: get("ID"),
        id_like: get("ID_LIKE"),
        version_codename: get("VERSION_CODENAME"),
        fields: BTreeMap::new(),
    };
    if out.name.is_none() && out.id.is_none() && out.pretty_name.is_none() {
        return Err(ParseError::new(CMD, "no NAME, ID or PRETTY_NAME"));
    }
    Ok(OsRelease { fields, ..out })
}

#[cfg(test)]
mod tests {
    use super::*;

    // No os-release in tests/fixtures: these are the files of the distributions as shipped.
    const UBUNTU: &str = r#"PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=jammy
"#;
    const ALPINE: &str = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\nHOME_URL=\"https://alpinelinux.org/\"\nBUG_REPORT_URL=\"https://gitlab.alpinelinux.org/alpine/aports/-/issues\"\n";
    const DEBIAN_TESTING: &str = "# comment\nPRETTY_NAME='Debian GNU/Linux trixie/sid'\r\nNAME=\"Debian GNU/Linux\"\r\nVERSION_CODENAME=trixie\r\nID=debian\r\n\r\nX=\"a \\\"quoted\\\" \\$word\"\r\n";

    #[test]
    fn distributions() {
        let u = parse_os_release(UBUNTU).expect("ubuntu");
        assert_eq!(u.name.as_deref(), Some("Ubuntu"));
        assert_eq!(u.version_id.as_deref(), Some("22.04"));
        assert_eq!(u.pretty_name.as_deref(), Some("Ubuntu 22.04.4 LTS"));
        assert_eq!(u.id.as_deref(), Some("ubuntu"));
        assert_eq!(u.id_like.as_deref(), Some("debian"));
        assert_eq!(u.fields["UBUNTU_CODENAME"], "jammy");
        let a = parse_os_release(ALPINE).expect("alpine");
        assert_eq!(a.version_id.as_deref(), Some("3.19.1"));
        assert_eq!(a.version, None);
        let d = parse_os_release(DEBIAN_TESTING).expect("debian, CRLF, single quotes");
        assert_eq!(
            d.pretty_name.as_deref(),
            Some("Debian GNU/Linux trixie/sid")
        );
        assert_eq!(d.version_id, None);
        assert_eq!(d.fields["X"], "a \"quoted\" $word");
    }

    #[test]
    fn odd_input() {
        assert!(parse_os_release("").is_err());
        assert!(parse_os_release("# only a comment\n").is_err());
        assert!(parse_os_release("garbage\n").is_err());
        assert!(parse_os_release("NAME=\"unterminated\n").is_err());
        assert!(parse_os_release("NAME=two words\n").is_err());
        assert!(parse_os_release("name=lower\n").is_err());
        assert_eq!(
            parse_os_release("ID=x\n<html>\n")
                .expect_err("html")
                .to_string(),
            "os-release: line 2: expected KEY=value"
        );
    }
}
