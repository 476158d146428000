//! `zfs get` and `zpool get`: properties with their values and sources, from
//!
//! * `-H -o property,value,source` (or `-H -o property,value`) for one dataset or pool
//!   ([`parse_properties`]);
//! * `-H -o name,property,value,source` for several ([`parse_properties_by_name`]);
//! * the aligned `NAME  PROPERTY  VALUE  SOURCE` table both print without `-H` (zfs-fuse's
//!   `zpool get` has no `-H` nor `-o` at all), read by both;
//! * `zfs get -j` / `zpool get -j` (OpenZFS ≥ 2.3, [`parse_properties_json`]).

use std::collections::BTreeMap;

use infrastructor_sdk::text::ParseError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{is_header, json_error};
use super::zfs_list::{JsonDataset, JsonProp};
use super::zpool_list::json_text;

/// One property's value and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Property {
    /// The value as printed (`on`, `25.2M`, `Wed Dec  2  7:45 2026`, `-`).
    pub value: String,
    /// The source as zfs prints it: `-` (none), `default`, `local`, `temporary`, `received`,
    /// `inherited from <dataset>`; `None` when the output has no source column.
    pub source: Option<String>,
}

/// Properties by name.
pub type Properties = BTreeMap<String, Property>;

/// The source words a text table may end a row with (besides `inherited from …`).
const SOURCES: [&str; 6] = ["-", "default", "local", "temporary", "received", "none"];

/// Splits the value and the source of a text-table row's remainder (`25.2M   -`,
/// `/mnt/x   inherited from tank`): the source is the last word when it is a source word, or
/// `inherited from <name>`.
fn split_value_source(rest: &str) -> Option<(String, String)> {
    let rest = rest.trim();
    if let Some(at) = rest.rfind(" inherited from ") {
        let source = rest[at..].trim();
        if source.split_whitespace().count() == 3 {
            return Some((rest[..at].trim().to_string(), source.to_string()));
        }
    }
    let (value, source) = rest.rsplit_once(char::is_whitespace)?;
    SOURCES
        .contains(&source)
        .then(|| (value.trim().to_string(), source.to_string()))
}

/// One row: (name if any, property, value, source if any).
type Row = (Option<String>, String, Property);

/// Reads the rows of any of the text forms. `with_name` says whether `-H` rows start with a
/// name field; the table form always has one.
fn rows(text: &str, command: &str, with_name: bool) -> Result<Vec<Row>, ParseError> {
    let mut out = Vec::new();
    let mut table: Option<bool> = None; // Some(has_source) after a header
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if out.is_empty() && table.is_none() && is_header(line) {
            let has_source = line.split_whitespace().any(|w| w == "SOURCE");
            let ok = line
                .split_whitespace()
                .take(3)
                .eq(["NAME", "PROPERTY", "VALUE"]);
            if !ok {
                return Err(ParseError::at(command, n, "unknown table header"));
            }
            table = Some(has_source);
            continue;
        }
        if let Some(has_source) = table {
            let mut words = line.split_whitespace();
            let (Some(name), Some(prop)) = (words.next(), words.next()) else {
                return Err(ParseError::at(command, n, "no name and property"));
            };
            let after_name = line.trim_start()[name.len()..].trim_start();
            let rest = &after_name[prop.len()..];
            let (value, source) = if has_source {
                let (v, s) = split_value_source(rest)
                    .ok_or_else(|| ParseError::at(command, n, "no source at the end"))?;
                (v, Some(s))
            } else {
                (rest.trim().to_string(), None)
            };
            out.push((
                Some(name.to_string()),
                prop.to_string(),
                Property { value, source },
            ));
            continue;
        }
        if !line.contains('\t') {
            return Err(ParseError::at(
                command,
                n,
                "neither a tab-separated -H row nor a NAME … table",
            ));
        }
        let mut f: Vec<&str> = line.trim_end_matches(['\r', '\n']).split('\t').collect();
        let name = if with_name {
            if f.len() < 3 {
                return Err(ParseError::at(command, n, "expected name, property, value"));
            }
            Some(f.remove(0).to_string())
        } else {
            None
        };
        let (prop, value, source) = match f.as_slice() {
            [p, v] => (*p, *v, None),
            [p, v, s] => (*p, *v, Some(s.to_string())),
            _ => {
                return Err(ParseError::at(
                    command,
                    n,
                    format!("{} tab-separated fields", f.len()),
                ));
            }
        };
        if prop.is_empty() || prop.contains(char::is_whitespace) {
            return Err(ParseError::at(command, n, format!("bad property {prop:?}")));
        }
        out.push((
            name,
            prop.to_string(),
            Property {
                value: value.to_string(),
                source,
            },
        ));
    }
    Ok(out)
}

/// Parses the properties of one dataset or pool: `zfs get -H -o property,value,source all
/// DATASET` (or `-o property,value`), or the `NAME PROPERTY VALUE SOURCE` table of a single
/// dataset or pool (zfs-fuse's `zpool get all POOL`). `command` (`zfs get`, `zpool get`)
/// names the output in errors. A table of several names is an error (see
/// [`parse_properties_by_name`]).
pub fn parse_properties(text: &str, command: &str) -> Result<Properties, ParseError> {
    let mut out = Properties::new();
    let mut seen: Option<String> = None;
    for (name, prop, value) in rows(text, command, false)? {
        if let Some(name) = name {
            match &seen {
                Some(first) if *first != name => {
                    return Err(ParseError::new(
                        command,
                        format!("properties of several datasets ({first}, {name})"),
                    ));
                }
                _ => seen = Some(name),
            }
        }
        out.insert(prop, value);
    }
    Ok(out)
}

/// Parses the properties of several datasets or pools: `zfs get -H -o
/// name,property,value,source …` (or `-o name,property,value`), or the `NAME PROPERTY VALUE
/// [SOURCE]` table; by name, then property.
pub fn parse_properties_by_name(
    text: &str,
    command: &str,
) -> Result<BTreeMap<String, Properties>, ParseError> {
    let mut out: BTreeMap<String, Properties> = BTreeMap::new();
    for (name, prop, value) in rows(text, command, true)? {
        out.entry(name.unwrap_or_default())
            .or_default()
            .insert(prop, value);
    }
    Ok(out)
}

/// The datasets (`zfs get -j`) or pools (`zpool get -j`) of a JSON output.
#[derive(Deserialize)]
struct JsonGet {
    #[serde(default)]
    datasets: Option<BTreeMap<String, JsonDataset>>,
    #[serde(default)]
    pools: Option<BTreeMap<String, JsonDataset>>,
}

/// A JSON source as the text form prints it: `NONE` → `-`, `DEFAULT` → `default`,
/// `INHERITED` + data → `inherited from <data>`, others in lower case.
fn source_text(p: &JsonProp) -> Option<String> {
    let s = p.source.as_ref()?;
    let kind = s.kind.as_deref()?.to_ascii_uppercase();
    Some(match kind.as_str() {
        "NONE" => "-".to_string(),
        "INHERITED" => format!("inherited from {}", s.data.as_deref().unwrap_or("-")),
        other => other.to_ascii_lowercase(),
    })
}

/// Parses `zfs get -j [--json-int] …` or `zpool get -j …` (OpenZFS ≥ 2.3): properties by
/// dataset or pool name, then property, the sources turned into the text form's words.
pub fn parse_properties_json(
    text: &str,
    command: &str,
) -> Result<BTreeMap<String, Properties>, ParseError> {
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let doc: JsonGet = serde_json::from_str(text).map_err(|e| json_error(command, &e))?;
    let mut out = BTreeMap::new();
    for (key, entry) in doc
        .datasets
        .unwrap_or_default()
        .into_iter()
        .chain(doc.pools.unwrap_or_default())
    {
        let name = entry.name.clone().unwrap_or(key);
        let props: Properties = entry
            .properties
            .iter()
            .map(|(k, p)| {
                let value = match &p.value {
                    Value::Null => "-".to_string(),
                    v => json_text(v),
                };
                (
                    k.clone(),
                    Property {
                        value,
                        source: source_text(p),
                    },
                )
            })
            .collect();
        out.insert(name, props);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrastructor_sdk::testing::fixture;

    fn prop(value: &str, source: &str) -> Property {
        Property {
            value: value.to_string(),
            source: Some(source.to_string()),
        }
    }

    #[test]
    fn zfs_fuse_h_o() {
        let p = parse_properties(&fixture("zfs/zfs-fuse_zfs-get-H-o.txt"), "zfs get").expect("ok");
        assert_eq!(p.len(), 44);
        assert_eq!(p["creation"], prop("Wed Dec  2  7:45 2026", "-"));
        assert_eq!(
            p["mountpoint"],
            prop("/tmp/zfsfix-mnt/app/db", "inherited from zfsfix_demo")
        );
        assert_eq!(p["quota"], prop("none", "default"));
        assert_eq!(p["usedbysnapshots"], prop("88K", "-"));
        let p = parse_properties(&fixture("zfs/zfs-fuse_zfs-get-H-o_snapshot.txt"), "zfs get")
            .expect("ok");
        assert_eq!(p["type"].value, "snapshot");
        let p = parse_properties("size\t250M\nhealth\tONLINE\n", "zpool get").expect("ok");
        assert_eq!(p["health"].source, None);
    }

    #[test]
    fn tables() {
        let p =
            parse_properties(&fixture("zfs/zfs-fuse_zpool-get-all.txt"), "zpool get").expect("ok");
        assert_eq!(p.len(), 18);
        assert_eq!(p["guid"], prop("18041490683924753235", "default"));
        assert_eq!(p["cachefile"], prop("none", "local"));
        assert_eq!(p["capacity"], prop("11%", "-"));
        assert_eq!(p["altroot"], prop("-", "default"));
        let p = parse_properties(&fixture("zfs/zfs-fuse_zfs-get-all_clone.txt"), "zfs get")
            .expect("ok");
        assert_eq!(p["origin"], prop("zfsfix_demo/app/db@before", "-"));
        assert_eq!(p["creation"].value, "Wed Dec  2  7:45 2026");
        assert_eq!(
            p["mountpoint"].source.as_deref(),
            Some("inherited from zfsfix_demo")
        );
        for (f, n, key, value, source) in [
            ("zpool-get-all_linux.txt", 0, "health", "ONLINE", "-"),
            ("zpool-get-all_truenas.txt", 0, "altroot", "/mnt", "local"),
            (
                "zfs-get-all_linux-dataset.txt",
                0,
                "compression",
                "lz4",
                "inherited from btr",
            ),
            (
                "zfs-get-all_truenas-dataset.txt",
                0,
                "sync",
                "disabled",
                "inherited from tank",
            ),
            (
                "zfs-get-all_openzfs-man.txt",
                0,
                "creation",
                "Tue Jul 21 15:53 2009",
                "-",
            ),
        ] {
            let p = parse_properties(&fixture(&format!("zfs/{f}")), "zfs get").expect(f);
            assert!(p.len() > 20 + n, "{f}: {}", p.len());
            assert_eq!(p[key], prop(value, source), "{f}");
        }
        let by = parse_properties_by_name(
            &fixture("zfs/zfs-fuse_zpool-get-several-pools.txt"),
            "zpool get",
        )
        .expect("ok");
        assert_eq!(by.len(), 2);
        assert_eq!(by["zfsfix_two"]["size"], prop("123M", "-"));
        assert!(
            parse_properties(
                &fixture("zfs/zfs-fuse_zpool-get-several-pools.txt"),
                "zpool get"
            )
            .is_err()
        );
        let by =
            parse_properties_by_name(&fixture("zfs/zfs-get-r-s-local_openzfs-man.txt"), "zfs get")
                .expect("ok");
        assert_eq!(by["pool/home/bob"]["quota"].value, "20G");
        assert_eq!(by["pool/home/bob"]["quota"].source, None);
    }

    #[test]
    fn several_h() {
        let by = parse_properties_by_name(
            &fixture("zfs/zfs-fuse_zfs-get-H-o-name_several.txt"),
            "zfs get",
        )
        .expect("ok");
        assert_eq!(by.len(), 2);
        assert_eq!(by["zfsfix_demo/logs"]["compression"], prop("on", "local"));
        assert_eq!(by["zfsfix_demo/app"]["used"], prop("25.4M", "-"));
    }

    #[test]
    fn json() {
        let by = parse_properties_json(&fixture("zfs/zfs-get-j_openzfs-man.json"), "zfs get")
            .expect("ok");
        assert_eq!(by.len(), 2);
        assert_eq!(
            by["pool/home/bob"]["mountpoint"],
            prop("/pool/home/bob", "default")
        );
        let by = parse_properties_json(&fixture("zfs/zpool-list-j_proxmox.json"), "zpool get")
            .expect("ok");
        assert_eq!(by["rpool"]["size"], prop("464G", "-"));
        let by = parse_properties_json(
            r#"{"datasets":{"a/b":{"properties":{"compression":{"value":"lz4","source":{"type":"INHERITED","data":"a"}},"used":{"value":1024,"source":{"type":"NONE","data":"-"}}}}}}"#,
            "zfs get",
        )
        .expect("ok");
        assert_eq!(by["a/b"]["compression"], prop("lz4", "inherited from a"));
        assert_eq!(by["a/b"]["used"], prop("1024", "-"));
        assert!(parse_properties_json("{\"datasets\": 3}", "zfs get").is_err());
    }

    #[test]
    fn errors() {
        assert_eq!(parse_properties("", "zfs get"), Ok(Properties::new()));
        assert!(
            parse_properties(
                &fixture("zfs/zfs-fuse_zpool-get-H-o_error.txt"),
                "zpool get"
            )
            .is_err()
        );
        let err = parse_properties("a\tb\tc\td\te\n", "zfs get").expect_err("bad");
        assert_eq!(err.line, Some(1));
        assert!(parse_properties("NAME PROPERTY VALUE SOURCE\nt size 1G bogus\n", "x").is_err());
    }
}
