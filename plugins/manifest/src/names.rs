//! Plugin names and mounts.

/// True for a plugin name: 1–64 lower-case letters, digits, `-` or `_`.
pub fn is_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Checks a mount path under `/api`: `/name` segments of letters, digits, `-`, `_`, no
/// trailing slash, at least one segment.
pub fn validate_mount(mount: &str) -> Result<(), String> {
    let Some(rest) = mount.strip_prefix('/') else {
        return Err("must start with `/`".into());
    };
    if rest.is_empty() {
        return Err(
            "must name at least one segment (`/` is reserved for the common routes)".into(),
        );
    }
    for segment in rest.split('/') {
        if segment.is_empty()
            || !segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "segment `{segment}` must be letters, digits, `-` or `_`"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_mounts() {
        assert!(is_plugin_name("devices"));
        assert!(is_plugin_name("my_plugin-2"));
        assert!(!is_plugin_name("Devices"));
        assert!(!is_plugin_name(""));
        assert!(!is_plugin_name(&"a".repeat(65)));
        assert!(validate_mount("/devices").is_ok());
        assert!(validate_mount("/a/b").is_ok());
        for bad in ["devices", "/", "/a/", "//a", "/a b", "/a/../b"] {
            assert!(validate_mount(bad).is_err(), "{bad}");
        }
    }
}
