//! The ZFS naming rules, checked before a name goes on a `zfs`/`zpool` command line.
//!
//! Stricter than ZFS itself where argv safety or the API asks for it: no component may start
//! with `-` (it would read as an option), and spaces are refused although ZFS allows them in
//! dataset names. Every check returns `Err` with the reason, in words fit for an API error,
//! and whether the name is one ZFS reserves ([`NameError::Reserved`]).

/// Why a name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name breaks the naming rules.
    #[error("{0}")]
    Invalid(String),
    /// A pool name ZFS reserves (`mirror…`, `log`, a disk name `c0…`): no pool can have it.
    #[error("{0}")]
    Reserved(String),
}

impl From<String> for NameError {
    fn from(reason: String) -> Self {
        NameError::Invalid(reason)
    }
}

/// The longest full name ZFS accepts (`ZFS_MAX_DATASET_NAME_LEN` less its NUL).
pub const MAX_NAME_LEN: usize = 255;

/// Pool names ZFS reserves for vdev types and sections (`zpool create mirror …`).
const RESERVED_POOL_PREFIXES: [&str; 4] = ["mirror", "raidz", "draid", "spare"];
/// Pool names ZFS reserves exactly.
const RESERVED_POOL_NAMES: [&str; 5] = ["log", "logs", "cache", "special", "dedup"];

/// Whether `c` may appear in a pool, dataset or snapshot name component.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')
}

/// The first character of `part` that is not allowed, as a reason.
fn check_chars(what: &str, part: &str) -> Result<(), String> {
    match part.chars().find(|c| !is_name_char(*c)) {
        None => Ok(()),
        Some(' ') => Err(format!("{what} {part:?} contains a space")),
        Some(c) => Err(format!(
            "{what} {part:?} contains {c:?}: only letters, digits, '_', '.', ':' and '-' are allowed"
        )),
    }
}

/// One component of a dataset name (between `/`), a snapshot or a bookmark name.
fn check_component(what: &str, part: &str) -> Result<(), String> {
    if part.is_empty() {
        return Err(format!("empty {what}"));
    }
    if part == "." || part == ".." {
        return Err(format!("{what} cannot be {part:?}"));
    }
    if part.starts_with('-') {
        return Err(format!("{what} {part:?} cannot start with '-'"));
    }
    check_chars(what, part)
}

/// The total length rule.
fn check_len(what: &str, name: &str) -> Result<(), String> {
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "{what} is {} characters long, the limit is {MAX_NAME_LEN}",
            name.len()
        ));
    }
    Ok(())
}

/// Checks a pool name: a letter first, then letters, digits, `_`, `.`, `:` and `-`; not a
/// reserved word (`mirror…`, `raidz…`, `draid…`, `spare…`, `log`, `cache`, `special`, `dedup`)
/// nor a Solaris disk name (`c0…`); at most [`MAX_NAME_LEN`] characters.
pub fn validate_pool(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Invalid("empty pool name".to_string()));
    }
    check_len("pool name", name)?;
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(NameError::Invalid(format!(
            "pool name {name:?} must start with a letter"
        )));
    }
    check_chars("pool name", name)?;
    let lower = name.to_ascii_lowercase();
    if RESERVED_POOL_PREFIXES.iter().any(|p| lower.starts_with(p))
        || RESERVED_POOL_NAMES.contains(&lower.as_str())
    {
        return Err(NameError::Reserved(format!(
            "pool name {name:?} is reserved"
        )));
    }
    let mut chars = name.chars();
    if chars.next() == Some('c') && chars.next().is_some_and(|c| c.is_ascii_digit()) {
        return Err(NameError::Reserved(format!(
            "pool name {name:?} looks like a disk name (c<digit>…), which is reserved"
        )));
    }
    Ok(())
}

/// Checks a dataset name (filesystem or volume): `pool[/component…]`, the pool as in
/// [`validate_pool`], every component non-empty, not `.` or `..`, not starting with `-`,
/// made of letters, digits, `_`, `.`, `:` and `-`; at most [`MAX_NAME_LEN`] characters.
pub fn validate_dataset(name: &str) -> Result<(), NameError> {
    check_len("dataset name", name)?;
    if name.contains('@') {
        return Err(NameError::Invalid(format!(
            "dataset name {name:?} contains '@' (that is a snapshot name)"
        )));
    }
    if name.contains('#') {
        return Err(NameError::Invalid(format!(
            "dataset name {name:?} contains '#' (that is a bookmark name)"
        )));
    }
    let mut parts = name.split('/');
    validate_pool(parts.next().unwrap_or_default())?;
    for part in parts {
        check_component("dataset name component", part)?;
    }
    Ok(())
}

/// Checks the short name of a snapshot (the part after `@`): non-empty, not `.` or `..`, not
/// starting with `-`, letters, digits, `_`, `.`, `:` and `-` only.
pub fn validate_snapshot_short(name: &str) -> Result<(), NameError> {
    check_len("snapshot name", name)?;
    check_component("snapshot name", name).map_err(NameError::Invalid)
}

/// Checks a full snapshot name `dataset@snapshot` ([`validate_dataset`] and
/// [`validate_snapshot_short`], exactly one `@`, at most [`MAX_NAME_LEN`] characters).
pub fn validate_snapshot(name: &str) -> Result<(), NameError> {
    check_len("snapshot name", name)?;
    let Some((dataset, snap)) = name.split_once('@') else {
        return Err(NameError::Invalid(format!(
            "snapshot name {name:?} has no '@'"
        )));
    };
    if snap.contains('@') {
        return Err(NameError::Invalid(format!(
            "snapshot name {name:?} has more than one '@'"
        )));
    }
    validate_dataset(dataset)?;
    validate_snapshot_short(snap)
}

/// Checks a full bookmark name `dataset#bookmark` (as [`validate_snapshot`], with `#`).
pub fn validate_bookmark(name: &str) -> Result<(), NameError> {
    check_len("bookmark name", name)?;
    let Some((dataset, mark)) = name.split_once('#') else {
        return Err(NameError::Invalid(format!(
            "bookmark name {name:?} has no '#'"
        )));
    };
    if mark.contains('#') {
        return Err(NameError::Invalid(format!(
            "bookmark name {name:?} has more than one '#'"
        )));
    }
    validate_dataset(dataset)?;
    check_component("bookmark name", mark).map_err(NameError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names() {
        for pool in [
            "tank",
            "rpool",
            "zfsfix_demo",
            "a.b:c-d_1",
            "Data",
            "zpool-nvme",
        ] {
            assert_eq!(validate_pool(pool), Ok(()), "{pool}");
        }
        for ds in [
            "tank",
            "tank/app/db",
            "tank/a.b/c:d",
            "rpool/ROOT/pve-1",
            "t/..x",
        ] {
            assert_eq!(validate_dataset(ds), Ok(()), "{ds}");
        }
        for snap in ["tank@a", "tank/app/db@daily-1", "t/x@2026-12-02_07:45"] {
            assert_eq!(validate_snapshot(snap), Ok(()), "{snap}");
        }
        assert_eq!(validate_snapshot_short("before"), Ok(()));
        assert_eq!(validate_bookmark("tank/x#mark"), Ok(()));
        let long = format!("t/{}", "a".repeat(253));
        assert_eq!(long.len(), 255);
        assert_eq!(validate_dataset(&long), Ok(()));
    }

    #[test]
    fn hostile_names() {
        for bad in [
            "",
            "../x",
            "a;b",
            "-o",
            "$(id)",
            "tank//x",
            "tank/",
            "@x",
            "tank@a@b",
            "1tank",
            "mirror",
            "mirror1",
            "raidz2",
            "draid",
            "spare",
            "log",
            "cache",
            "c0t0d0",
            "a b",
            "tank/a b",
            "tank/-o",
            "tank/.",
            "tank/..",
            "tank/../x",
            "/tank",
            "tank\n",
            "tank/`id`",
            "tank/a|b",
            "tank%x",
            "tank/x#y",
            "tank@x",
        ] {
            assert!(validate_dataset(bad).is_err(), "dataset {bad:?}");
        }
        for bad in [
            "", "a/b", "-o", "a;b", "$(id)", "9x", "mirror-0", "raidz1-0", "c1t0d0",
        ] {
            assert!(validate_pool(bad).is_err(), "pool {bad:?}");
        }
        for bad in [
            "@x",
            "tank@a@b",
            "tank",
            "tank@",
            "tank@-o",
            "tank@a b",
            "tank@..",
            "tank/@a",
            "tank@a/b",
            "-o@x",
            "tank@$(id)",
            "tank@a;b",
        ] {
            assert!(validate_snapshot(bad).is_err(), "snapshot {bad:?}");
        }
        for bad in ["", "-r", "a/b", "a@b", "..", "a b", "x#y"] {
            assert!(validate_snapshot_short(bad).is_err(), "short {bad:?}");
        }
        for bad in ["tank", "tank#", "tank#a#b", "tank@a#b", "tank#-x"] {
            assert!(validate_bookmark(bad).is_err(), "bookmark {bad:?}");
        }
        let long = format!("t/{}", "a".repeat(254));
        assert!(
            validate_dataset(&long)
                .expect_err("refused")
                .to_string()
                .contains("255")
        );
        assert!(
            validate_dataset("tank/a b")
                .expect_err("refused")
                .to_string()
                .contains("space")
        );
        assert!(
            matches!(validate_pool("mirror"), Err(NameError::Reserved(r)) if r.contains("reserved"))
        );
    }
}
