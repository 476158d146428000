//! Appdata host paths: a bind mount of `./appdata/<rest>` (or any host path with an
//! `appdata` directory followed by more path) becomes `<appdata_base>/<rest>`.

use serde_norway::Value;
use yaml_edit::YamlNode;

use super::verify::{Step, key, path, scalar_value};
use super::yaml::{ScalarText, Service};
use super::{Run, VolumeUpdate};

/// The directory component that marks an appdata path.
const APPDATA: &str = "appdata";

/// `host` moved under `base` (an absolute directory, e.g. `/mnt/appdata`) when it is an
/// appdata bind source: a path (starting with `/`, `./`, `../` or `~/`) with a directory
/// component `appdata` followed by more path. The part after the first such component is
/// kept: `./appdata/nginx` → `<base>/nginx`, `/srv/x/appdata/app/cfg` → `<base>/app/cfg`.
/// `None` for named volumes, other paths, a bare `./appdata`, and paths already under
/// `base` (so a second run changes nothing).
pub fn appdata_host_path(host: &str, base: &str) -> Option<String> {
    let base = base.trim_end_matches('/');
    let is_path = ["/", "./", "../", "~/"].iter().any(|p| host.starts_with(p));
    if !is_path || host == base || host.starts_with(&format!("{base}/")) {
        return None;
    }
    let components: Vec<&str> = host.split('/').collect();
    let marker = components.iter().position(|c| *c == APPDATA)?;
    let rest = components[marker + 1..].join("/");
    let rest = rest.trim_start_matches('/');
    if rest.is_empty() {
        return None;
    }
    let moved = format!("{base}/{rest}");
    (moved != host).then_some(moved)
}

/// A short-syntax volume split at its colons (colons inside `${...}` do not count).
#[derive(Debug, PartialEq, Eq)]
struct ShortVolume<'a> {
    host: &'a str,
    /// Everything after the host part, from its colon on (`:/config:ro`), kept verbatim.
    after_host: &'a str,
    container: &'a str,
    mode: Option<&'a str>,
}

fn split_short(spec: &str) -> Option<ShortVolume<'_>> {
    let colons = colons_outside_variables(spec);
    let first = *colons.first()?;
    let host = &spec[..first];
    // `C:\data:/data` is a Windows drive, not a host part.
    if host.len() == 1 && host.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let container_end = colons.get(1).copied().unwrap_or(spec.len());
    Some(ShortVolume {
        host,
        after_host: &spec[first..],
        container: &spec[first + 1..container_end],
        mode: colons.get(1).map(|i| &spec[i + 1..]),
    })
}

/// Byte positions of the `:` in `text` that are not inside `${...}`.
fn colons_outside_variables(text: &str) -> Vec<usize> {
    let mut depth = 0usize;
    let mut previous = '\0';
    let mut colons = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            '{' if previous == '$' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            ':' if depth == 0 => colons.push(i),
            _ => {}
        }
        previous = c;
    }
    colons
}

/// Rewrites the appdata binds of the selected services.
pub(crate) fn apply(services: &[Service], run: &mut Run) {
    let base = run.opts.appdata_base.trim_end_matches('/').to_string();
    let base_ok = run.opts.appdata_base.starts_with('/')
        && !base.contains(':')
        && !base.chars().any(char::is_control);
    if !base_ok {
        run.warn(format!(
            "appdata base `{}` is not an absolute path without `:`; volumes left as they are",
            run.opts.appdata_base
        ));
        return;
    }
    let opts = run.opts;
    for service in services.iter().filter(|s| opts.selects(&s.name)) {
        let Some(list) = service.node.get_sequence("volumes") else {
            warn_if_inherited(service, &base, run);
            continue;
        };
        let in_flow = list.is_flow_style();
        let mut updates = Vec::new();
        for (index, item) in list.values().enumerate() {
            let at = path([
                key("services"),
                key(&service.name),
                key("volumes"),
                Step::Index(index),
            ]);
            let update = if let Some(scalar) = ScalarText::read(&item, in_flow) {
                move_short(&service.name, &scalar, &base, &at, run)
            } else {
                move_long(&service.name, &item, in_flow, &base, &at, run)
            };
            updates.extend(update);
        }
        if !updates.is_empty() {
            run.outcome
                .volume_updates
                .insert(service.name.clone(), updates);
        }
    }
}

fn move_short(
    service: &str,
    scalar: &ScalarText,
    base: &str,
    at: &[Step],
    run: &mut Run,
) -> Option<VolumeUpdate> {
    let volume = split_short(&scalar.value)?;
    let to = appdata_host_path(volume.host, base)?;
    if !run.may_edit(&scalar.node, &format!("{service}: volume {}", scalar.value)) {
        return None;
    }
    let new_spec = format!("{to}{}", volume.after_host);
    let written = scalar.replace(&new_spec);
    run.expected.set(at, scalar_value(&written));
    run.change(format!("{service}: volume {} -> {new_spec}", scalar.value));
    Some(VolumeUpdate {
        from: volume.host.to_string(),
        to,
        container_path: volume.container.to_string(),
        mode: volume.mode.map(str::to_string),
    })
}

fn move_long(
    service: &str,
    item: &YamlNode,
    in_flow: bool,
    base: &str,
    at: &[Step],
    run: &mut Run,
) -> Option<VolumeUpdate> {
    let entry = item.as_mapping()?;
    let in_flow = in_flow || entry.is_flow_style();
    let text_of = |k: &str| {
        entry
            .get(k)
            .as_ref()
            .and_then(|v| ScalarText::read(v, in_flow))
    };
    if text_of("type")?.value != "bind" {
        return None;
    }
    let source = text_of("source")?;
    let to = appdata_host_path(&source.value, base)?;
    if !run.may_edit(
        &source.node,
        &format!("{service}: volume source {}", source.value),
    ) {
        return None;
    }
    let written = source.replace(&to);
    let mut source_at = at.to_vec();
    source_at.push(key("source"));
    run.expected.set(&source_at, scalar_value(&written));
    let container_path = text_of("target").map(|t| t.value).unwrap_or_default();
    run.change(format!(
        "{service}: volume source {} -> {to} (target {container_path})",
        source.value
    ));
    let read_only = text_of("read_only").is_some_and(|r| r.value == "true");
    Some(VolumeUpdate {
        from: source.value,
        to,
        container_path,
        mode: read_only.then(|| "ro".to_string()),
    })
}

/// Volumes merged in from an anchor (`<<: *defaults`) are shared with other services and
/// are not edited; say so when one of them is an appdata bind.
fn warn_if_inherited(service: &Service, base: &str, run: &mut Run) {
    let Some(Value::Sequence(items)) = service.plain.get("volumes") else {
        return;
    };
    let has_appdata = items.iter().any(|item| match item {
        Value::String(spec) => split_short(spec)
            .and_then(|v| appdata_host_path(v.host, base))
            .is_some(),
        Value::Mapping(m) => m
            .get("source")
            .and_then(Value::as_str)
            .and_then(|s| appdata_host_path(s, base))
            .is_some(),
        _ => false,
    });
    if has_appdata {
        run.warn(format!(
            "{}: its volumes come from a merged anchor (<<), shared with other services; appdata paths there left as they are",
            service.name
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "/mnt/appdata";

    #[test]
    fn appdata_paths_move_under_the_base() {
        let cases = [
            ("./appdata/nginx", Some("/mnt/appdata/nginx")),
            ("../appdata/nginx/conf", Some("/mnt/appdata/nginx/conf")),
            ("/srv/x/appdata/app/cfg", Some("/mnt/appdata/app/cfg")),
            ("/appdata/web", Some("/mnt/appdata/web")),
            ("~/appdata/web", Some("/mnt/appdata/web")),
            ("/data/appdata/web/", Some("/mnt/appdata/web/")),
            ("./appdata/${NAME}", Some("/mnt/appdata/${NAME}")),
            ("/mnt/appdata/web", None),
            ("./appdata", None),
            ("./appdata/", None),
            ("./data/web", None),
            ("./myappdata/web", None),
            ("appdata", None),
            ("appdata_volume", None),
            ("/var/run/docker.sock", None),
        ];
        for (host, expected) in cases {
            assert_eq!(appdata_host_path(host, BASE).as_deref(), expected, "{host}");
        }
        assert_eq!(
            appdata_host_path("./appdata/x", "/srv/appdata/apps/").as_deref(),
            Some("/srv/appdata/apps/x")
        );
        assert_eq!(
            appdata_host_path("/srv/appdata/apps/x", "/srv/appdata/apps"),
            None
        );
    }

    #[test]
    fn short_volumes_split_outside_variables() {
        assert_eq!(
            split_short("./appdata/web:/config:ro"),
            Some(ShortVolume {
                host: "./appdata/web",
                after_host: ":/config:ro",
                container: "/config",
                mode: Some("ro"),
            })
        );
        let v = split_short("${BASE:-./appdata}/web:/config").expect("split");
        assert_eq!(v.host, "${BASE:-./appdata}/web");
        assert_eq!(v.container, "/config");
        assert_eq!(v.mode, None);
        assert_eq!(split_short("/data"), None);
        assert_eq!(split_short("C:\\data:/data"), None);
    }
}
