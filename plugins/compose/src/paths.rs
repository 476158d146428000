//! Where a compose file may be written: absolute, normalised paths of plain characters only,
//! ending in `.yml` or `.yaml`, and the file names derived from them (temp file, backup).

use infrastructor_sdk::Error;

/// Longest accepted deployment path, in bytes.
pub const MAX_PATH: usize = 255;

/// Checks a compose file path: absolute, no `..`/`.`/empty segments (nor any segment
/// starting with two dots), characters `[A-Za-z0-9._/-]` only, a file name ending in `.yml`
/// or `.yaml` that does not start with a dot (hidden directories are fine). The same rule as
/// the routes' schema pattern. Returns it unchanged.
pub fn compose_file_path(path: &str) -> Result<&str, String> {
    if path.len() > MAX_PATH {
        return Err(format!("must be at most {MAX_PATH} bytes"));
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err("must be an absolute path".into());
    };
    if !path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'))
    {
        return Err("may contain only letters, digits, `.`, `_`, `-` and `/`".into());
    }
    let segments: Vec<&str> = rest.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || s.starts_with(".."))
    {
        return Err("must be normalised (no empty, `.` or `..` segments)".into());
    }
    let name = segments.last().copied().unwrap_or_default();
    if name.starts_with('.') || !(name.ends_with(".yml") || name.ends_with(".yaml")) {
        return Err("must name a `.yml` or `.yaml` file".into());
    }
    if segments.len() < 2 {
        return Err("must be inside a directory, not at `/`".into());
    }
    Ok(path)
}

/// The directory of a checked path.
pub fn dir_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The temp file a new version is written to before it is validated and renamed: in the same
/// directory (so the rename is atomic and relative paths resolve the same), hidden.
pub fn temp_path(path: &str, stamp: &str) -> String {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    format!("{dir}/.{name}.infrastructor-{stamp}.tmp")
}

/// The backup of the current version: `<path>.backup_<stamp>`.
pub fn backup_path(path: &str, stamp: &str) -> String {
    format!("{path}.backup_{stamp}")
}

/// Checks a compose project name (`[a-z0-9][a-z0-9_-]*`, at most 63), as compose itself
/// requires.
pub fn project_name(name: &str) -> Result<&str, Error> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(name)
    } else {
        Err(Error::bad_request(format!(
            "`{name}` is not a compose project name (lower-case letters, digits, `_`, `-`; at most 63)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_absolute_compose_files() {
        for ok in [
            "/opt/stacks/web/compose.yaml",
            "/srv/docker-compose.yml",
            "/home/u/.stacks/web/compose.yml",
        ] {
            assert_eq!(compose_file_path(ok), Ok(ok));
        }
        for bad in [
            "relative/compose.yml",
            "/opt/../etc/compose.yml",
            "/opt//compose.yml",
            "/opt/./compose.yml",
            "/opt/..x/compose.yml",
            "/opt/stack/compose.yml; rm -rf /",
            "/opt/stack/$(id).yml",
            "/opt/stack/compose.yml\n",
            "/opt/stack/.hidden.yml",
            "/opt/stack/passwd",
            "/compose.yml",
            "/opt/stack/ compose.yml",
        ] {
            assert!(compose_file_path(bad).is_err(), "{bad:?}");
        }
        assert!(compose_file_path(&format!("/{}.yml", "a/".repeat(200))).is_err());
    }

    #[test]
    fn derived_names_stay_in_the_directory() {
        let p = "/opt/stacks/web/compose.yaml";
        assert_eq!(dir_of(p), "/opt/stacks/web");
        assert_eq!(
            temp_path(p, "20260101T000000"),
            "/opt/stacks/web/.compose.yaml.infrastructor-20260101T000000.tmp"
        );
        assert_eq!(
            backup_path(p, "20260101_000000"),
            "/opt/stacks/web/compose.yaml.backup_20260101_000000"
        );
    }

    #[test]
    fn project_names() {
        assert!(project_name("web-stack_2").is_ok());
        for bad in ["", "Web", "-x", "a b", "a;b", &"a".repeat(64)] {
            assert!(project_name(bad).is_err(), "{bad:?}");
        }
    }
}
