//! `POST /api/devices/import`: registers the hosts of an OpenSSH client configuration.
//!
//! The configuration comes as text in the body (`ssh_config`) or as a file inside the
//! operator's import directory (`ssh_config_path`, with `plugins.devices.config.import_dir`
//! set). The directory is granted read-only (`read-dir:import_dir`) and preopened by the host
//! at `/import_dir`, so WASI resolves every path inside it: `..` and symlinks cannot leave.
//! `Include` paths resolve inside the same directory (`~/.ssh/` is read as the directory);
//! any other include is skipped with a warning.
//!
//! The alias of each `Host` line is the device hostname; `HostName` is its address; `Port`,
//! `User` and the first `IdentityFile` are kept. A dry run reports `would_create`,
//! `would_update` (with the diff) and `would_skip`; a real run `created`, `updated`,
//! `skipped` or `error`. The whole configuration is parsed before anything is written: an
//! unreadable file or a syntax error is a 4xx and no device changes.

use std::collections::BTreeSet;

use infrastructor_sdk::files::FileError;
use infrastructor_sdk::prelude::*;
use infrastructor_sdk::registry::{Device, DeviceFields};
use serde::{Deserialize, Serialize};

use crate::crud::queue_probe;
use crate::device::{DEVICE_TYPES, valid_address};
use crate::parse::ssh_config::{IncludedFile, SshHost, parse_ssh_config_with_includes, wildcard};
use crate::views::DeviceView;

/// Where the host preopens the import directory in the guest.
const GUEST_DIR: &str = "/import_dir";

/// Largest configuration file read, in bytes.
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// The request body.
#[derive(Debug, Deserialize)]
pub struct ImportRequest {
    /// The configuration text.
    #[serde(default)]
    pub ssh_config: Option<String>,
    /// A file inside the import directory (relative, or absolute under it).
    #[serde(default)]
    pub ssh_config_path: Option<String>,
    /// Report what would change without writing.
    #[serde(default)]
    pub dry_run: bool,
    /// Change the connection settings of devices that exist.
    #[serde(default = "yes")]
    pub update_existing: bool,
    /// Device type of created devices.
    #[serde(default = "server")]
    pub default_device_type: String,
    /// Monitoring flag of created devices.
    #[serde(default = "yes")]
    pub default_monitoring: bool,
    /// Added to created devices' tags as `import_prefix`.
    #[serde(default)]
    pub tag_prefix: Option<String>,
}

fn yes() -> bool {
    true
}

fn server() -> String {
    "server".into()
}

/// JSON Schema of the body: exactly one of `ssh_config` and `ssh_config_path`.
pub fn schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "ssh_config": {"type": "string", "maxLength": MAX_FILE, "description": "The ssh_config text"},
            "ssh_config_path": {"type": "string", "minLength": 1, "maxLength": 4096,
                "pattern": PATH_PATTERN,
                "description": "A file inside plugins.devices.config.import_dir"},
            "dry_run": {"type": "boolean", "default": false},
            "update_existing": {"type": "boolean", "default": true},
            "default_device_type": {"type": "string", "enum": DEVICE_TYPES, "default": "server"},
            "default_monitoring": {"type": "boolean", "default": true},
            "tag_prefix": {"type": ["string", "null"], "maxLength": 100},
        },
        "oneOf": [
            {"required": ["ssh_config"], "not": {"required": ["ssh_config_path"]}},
            {"required": ["ssh_config_path"], "not": {"required": ["ssh_config"]}},
        ],
    })
}

/// A file path of `/`-separated names that are not `.` or `..` (an optional leading `/` or
/// `~/`), without control characters.
const PATH_PATTERN: &str = r"^(/|~/)?(([^/.\x00-\x1f]|\.[^/.\x00-\x1f]|\.\.[^/\x00-\x1f])[^/\x00-\x1f]*/)*([^/.\x00-\x1f]|\.[^/.\x00-\x1f]|\.\.[^/\x00-\x1f])[^/\x00-\x1f]*$";

/// The configured import directory on the API server, if any.
fn import_dir() -> Result<Option<String>, Error> {
    let cfg = config::value()?;
    Ok(cfg
        .get("import_dir")
        .and_then(Value::as_str)
        .map(|s| s.trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty()))
}

/// Why a path is refused as a file of the import directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathRefused {
    /// The path is elsewhere: it names no file of the import directory.
    #[error("{path} is not inside the import directory {dir}")]
    Outside {
        /// The path asked for.
        path: String,
        /// The import directory.
        dir: String,
    },
    /// The path has `.` or `..` segments (or names the directory itself).
    #[error("{path}: `.` and `..` are not allowed; name a file inside the import directory")]
    DotSegment {
        /// The path asked for.
        path: String,
    },
}

/// A request path → a path relative to the import directory, or why it is refused.
pub fn relative_to_import_dir(path: &str, dir: &str) -> Result<String, PathRefused> {
    let outside = || PathRefused::Outside {
        path: path.to_owned(),
        dir: dir.to_owned(),
    };
    let rel = if let Some(rest) = path.strip_prefix(dir).filter(|r| r.starts_with('/')) {
        rest.trim_start_matches('/')
    } else if path.starts_with('/') {
        return Err(outside());
    } else if let Some(rest) = path.strip_prefix("~/.ssh/") {
        rest
    } else if path.starts_with('~') {
        return Err(outside());
    } else {
        path
    };
    if rel.is_empty() || rel.split('/').any(|c| c == ".." || c == ".") {
        return Err(PathRefused::DotSegment {
            path: path.to_owned(),
        });
    }
    Ok(rel.to_string())
}

fn read_text(rel: &str) -> Result<String, FileError> {
    files::read_text(&format!("{GUEST_DIR}/{rel}"), MAX_FILE)
}

/// Resolves one `Include` path inside the import directory (a glob in the last component
/// matches files sorted by name, as ssh does). Paths elsewhere are skipped with a warning.
fn load_include(
    pattern: &str,
    dir: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Vec<IncludedFile>, String> {
    let Some(dir) = dir else {
        warnings.push(format!(
            "Include {pattern} skipped: no import directory is configured"
        ));
        return Ok(Vec::new());
    };
    let rel = match relative_to_import_dir(pattern, dir) {
        Ok(rel) => rel,
        Err(why) => {
            warnings.push(format!("Include {pattern} skipped: {why}"));
            return Ok(Vec::new());
        }
    };
    let (parent, file) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
    let names: Vec<String> = if file.contains(['*', '?']) {
        let listing = files::list_dir(&format!("{GUEST_DIR}/{parent}"));
        let mut names: Vec<String> = match listing {
            Ok(entries) => entries
                .into_iter()
                .filter(|n| !n.starts_with('.') && wildcard(file.as_bytes(), n.as_bytes()))
                .map(|n| {
                    if parent.is_empty() {
                        n
                    } else {
                        format!("{parent}/{n}")
                    }
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    } else {
        vec![rel.clone()]
    };
    let mut files = Vec::new();
    for name in names {
        match read_text(&name) {
            Ok(text) => files.push(IncludedFile { name, text }),
            Err(FileError::NotFound) => {
                warnings.push(format!(
                    "Include {pattern}: {name} does not exist (ignored, as ssh does)"
                ));
            }
            Err(e) => return Err(format!("{name}: {e}")),
        }
    }
    Ok(files)
}

/// The fields an imported host sets on a new device.
fn new_device_fields(host: &SshHost, req: &ImportRequest) -> DeviceFields {
    let mut tags = json!({"source": "ssh_config", "ssh_config_host": host.alias});
    if let Some(prefix) = &req.tag_prefix {
        tags["import_prefix"] = json!(prefix);
    }
    DeviceFields {
        hostname: Some(host.hostname.clone()),
        device_type: Some(req.default_device_type.clone()),
        description: Some(Some(format!(
            "Imported from SSH config: Host {}",
            host.host_line
        ))),
        tags: Some(tags),
        monitoring_enabled: Some(req.default_monitoring),
        ..connection_fields(host)
    }
}

/// The connection settings ssh would use for the alias.
fn connection_fields(host: &SshHost) -> DeviceFields {
    DeviceFields {
        ip_address: Some(host.address.clone().filter(|a| valid_address(a))),
        ssh_port: Some(host.port),
        ssh_username: Some(host.user.clone()),
        ssh_identity_file: Some(host.identity_files.first().cloned()),
        ..DeviceFields::default()
    }
}

/// The connection fields that differ: `{field: {"from": old, "to": new}}`.
fn diff(existing: &Device, wanted: &DeviceFields) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    let mut field = |name: &str, old: Value, new: Value| {
        if old != new {
            out.insert(name.to_string(), json!({"from": old, "to": new}));
        }
    };
    field(
        "ip_address",
        json!(existing.ip_address),
        json!(wanted.ip_address.clone().flatten()),
    );
    field(
        "ssh_port",
        json!(existing.ssh_port),
        json!(wanted.ssh_port.flatten()),
    );
    field(
        "ssh_username",
        json!(existing.ssh_username),
        json!(wanted.ssh_username.clone().flatten()),
    );
    field(
        "ssh_identity_file",
        json!(existing.ssh_identity_file),
        json!(wanted.ssh_identity_file.clone().flatten()),
    );
    out
}

/// Only the fields in `changes`, for the update.
fn changed_fields(wanted: DeviceFields, changes: &serde_json::Map<String, Value>) -> DeviceFields {
    let keep = |name: &str| changes.contains_key(name);
    DeviceFields {
        ip_address: wanted.ip_address.filter(|_| keep("ip_address")),
        ssh_port: wanted.ssh_port.filter(|_| keep("ssh_port")),
        ssh_username: wanted.ssh_username.filter(|_| keep("ssh_username")),
        ssh_identity_file: wanted
            .ssh_identity_file
            .filter(|_| keep("ssh_identity_file")),
        ..DeviceFields::default()
    }
}

/// Writes `fields` through `write`. An identity file the server refuses (missing, outside
/// the allowed key directories, not a regular file: the registry's 422) is left out rather
/// than failing the host, and `warnings` says why: the device then uses the configured keys
/// (a new one), or keeps its own (an update). `changes` loses the field too.
fn without_refused_key<T>(
    fields: &DeviceFields,
    changes: &mut Value,
    warnings: &mut Vec<String>,
    write: impl Fn(&DeviceFields) -> Result<T, Error>,
) -> Result<T, Error> {
    match write(fields) {
        Err(Error::Invalid(m)) if m.starts_with("ssh_identity_file:") => {
            let fewer = DeviceFields {
                ssh_identity_file: None,
                ..fields.clone()
            };
            warnings.push(format!("{m}; imported without it"));
            if let Some(map) = changes.as_object_mut() {
                map.remove("ssh_identity_file");
            }
            write(&fewer)
        }
        other => other,
    }
}

/// What an import did (or, with `dry_run`, would do) to one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportAction {
    /// A device was registered.
    Created,
    /// The device's connection settings were changed.
    Updated,
    /// The device was left alone (up to date, or `update_existing=false`).
    Skipped,
    /// The host could not be imported (`error_message` says why).
    Error,
    /// `dry_run`: a device would be registered.
    WouldCreate,
    /// `dry_run`: the device's connection settings would change.
    WouldUpdate,
    /// `dry_run`: the device would be left alone.
    WouldSkip,
}

/// What happened to one host of the configuration.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HostResult {
    /// The hostname (the `Host` alias).
    pub hostname: String,
    /// The alias as written.
    pub alias: String,
    /// `HostName`, when given.
    pub address: Option<String>,
    /// Where the `Host` block is (`file:line`).
    pub declared_at: String,
    /// The device's id (none for a new device in a dry run, or an error).
    pub device_id: Option<String>,
    /// Why the host could not be imported.
    pub error_message: Option<String>,
    /// What changed (or would): the new device's fields, `{field: {from, to}}` of an
    /// update, or `{reason}` of a skip.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub changes: Value,
    /// What the parse or the import noticed about this host.
    pub warnings: Vec<String>,
    /// What happened.
    pub action: ImportAction,
    /// The device as written (created or updated only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceView>,
}

/// How many hosts had each outcome.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImportSummary {
    /// Devices registered.
    pub created: usize,
    /// Devices changed.
    pub updated: usize,
    /// Devices left alone.
    pub skipped: usize,
    /// Hosts that failed.
    pub errors: usize,
    /// `dry_run`: devices that would be registered.
    pub would_create: usize,
    /// `dry_run`: devices that would change.
    pub would_update: usize,
    /// `dry_run`: devices that would be left alone.
    pub would_skip: usize,
}

/// Where the configuration came from.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImportSource {
    /// The request body's `ssh_config`.
    Body,
    /// A file of the import directory.
    Path {
        /// Its path relative to the import directory.
        path: String,
    },
}

/// The answer of `POST /import`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ImportReport {
    /// Distinct hosts found.
    pub total_hosts_found: usize,
    /// What happened to each.
    pub results: Vec<HostResult>,
    /// The counts of each outcome.
    pub summary: ImportSummary,
    /// What the parse noticed about the file (`Match` blocks, skipped includes…).
    pub warnings: Vec<String>,
    /// Where the configuration came from.
    pub source: ImportSource,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// RFC 3339 time of the import.
    pub import_timestamp: String,
}

/// What happened to one host.
fn import_host(host: &SshHost, req: &ImportRequest) -> HostResult {
    let mut result = HostResult {
        hostname: host.hostname.clone(),
        alias: host.alias.clone(),
        address: host.address.clone(),
        declared_at: host.declared_at.clone(),
        device_id: None,
        error_message: None,
        changes: json!({}),
        warnings: host.warnings.clone(),
        action: ImportAction::Error,
        device: None,
    };
    let mut key_warnings = Vec::new();
    let outcome: Result<(ImportAction, Option<Device>, Value), Error> = (|| {
        let existing = registry::get(&host.hostname)?;
        match existing {
            None => {
                let fields = new_device_fields(host, req);
                // The fields the device gets (unset ones left out).
                let mut changes = serde_json::to_value(&fields).unwrap_or(Value::Null);
                if let Some(map) = changes.as_object_mut() {
                    map.retain(|_, v| !v.is_null());
                }
                if req.dry_run {
                    return Ok((ImportAction::WouldCreate, None, changes));
                }
                let device = without_refused_key(&fields, &mut changes, &mut key_warnings, |f| {
                    registry::create(f)
                })?;
                queue_probe(&device);
                Ok((ImportAction::Created, Some(device), changes))
            }
            Some(device) if !req.update_existing => {
                let why = json!({"reason": "device already exists and update_existing=false"});
                Ok((
                    if req.dry_run {
                        ImportAction::WouldSkip
                    } else {
                        ImportAction::Skipped
                    },
                    Some(device),
                    why,
                ))
            }
            Some(device) => {
                let wanted = connection_fields(host);
                let changes = diff(&device, &wanted);
                if changes.is_empty() {
                    let why = json!({"reason": "already up to date"});
                    return Ok((
                        if req.dry_run {
                            ImportAction::WouldSkip
                        } else {
                            ImportAction::Skipped
                        },
                        Some(device),
                        why,
                    ));
                }
                if req.dry_run {
                    return Ok((
                        ImportAction::WouldUpdate,
                        Some(device),
                        Value::Object(changes),
                    ));
                }
                let fields = changed_fields(wanted, &changes);
                let mut changes = Value::Object(changes);
                let updated = without_refused_key(&fields, &mut changes, &mut key_warnings, |f| {
                    registry::update(&host.hostname, f)
                })?;
                Ok((ImportAction::Updated, Some(updated), changes))
            }
        }
    })();
    result.warnings.extend(key_warnings);
    match outcome {
        Ok((action, device, changes)) => {
            result.action = action;
            result.device_id = device.as_ref().map(|d| d.id.clone());
            result.changes = changes;
            if matches!(action, ImportAction::Created | ImportAction::Updated) {
                result.device = device.as_ref().map(DeviceView::of);
            }
        }
        Err(e) => {
            result.action = ImportAction::Error;
            result.error_message = Some(e.message().to_owned());
        }
    }
    result
}

/// `POST /import`.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let body: ImportRequest = req.body()?;
    let dir = import_dir()?;
    let (text, source) = match (&body.ssh_config, &body.ssh_config_path) {
        (Some(text), None) => (text.clone(), ImportSource::Body),
        (None, Some(path)) => {
            let Some(dir) = dir.as_deref() else {
                return Err(Error::bad_request(
                    "ssh_config_path needs plugins.devices.config.import_dir to be configured; \
                     or send the configuration text as `ssh_config`",
                ));
            };
            // A path outside the import directory names no file in it: 404, as a missing
            // one (only `.`/`..` segments, which the schema's pattern refuses, are 400).
            let rel = relative_to_import_dir(path, dir).map_err(|why| match why {
                PathRefused::Outside { .. } => Error::not_found(why.to_string()),
                PathRefused::DotSegment { .. } => Error::bad_request(why.to_string()),
            })?;
            let text = read_text(&rel).map_err(|e| match e {
                FileError::NotFound | FileError::NotADirectory => {
                    Error::not_found(format!("{path}: no such file in the import directory"))
                }
                _ => Error::bad_request(format!(
                    "{path}: cannot be read from the import directory: {e}"
                )),
            })?;
            (text, ImportSource::Path { path: rel })
        }
        _ => {
            return Err(Error::bad_request(
                "send exactly one of `ssh_config` (the text) and `ssh_config_path`",
            ));
        }
    };
    let mut include_warnings = Vec::new();
    let parsed = parse_ssh_config_with_includes(&text, |p: &str| {
        load_include(p, dir.as_deref(), &mut include_warnings)
    })
    .map_err(|e| Error::bad_request(e.to_string()))?;
    let mut seen = BTreeSet::new();
    let results: Vec<HostResult> = parsed
        .hosts
        .iter()
        .filter(|h| seen.insert(h.hostname.clone()))
        .map(|h| import_host(h, &body))
        .collect();
    let count = |a: ImportAction| results.iter().filter(|r| r.action == a).count();
    let mut warnings = parsed.warnings;
    warnings.extend(include_warnings);
    let summary = ImportSummary {
        created: count(ImportAction::Created),
        updated: count(ImportAction::Updated),
        skipped: count(ImportAction::Skipped),
        errors: count(ImportAction::Error),
        would_create: count(ImportAction::WouldCreate),
        would_update: count(ImportAction::WouldUpdate),
        would_skip: count(ImportAction::WouldSkip),
    };
    Ok(Json(ImportReport {
        total_hosts_found: results.len(),
        results,
        summary,
        warnings,
        source,
        dry_run: body.dry_run,
        import_timestamp: crate::clock::now_rfc3339(),
    })
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_elsewhere_is_outside_and_dot_segments_are_refused() {
        let dir = "/srv/import";
        for outside in ["/etc/passwd", "/srv/importer/x", "~/x", "~root/.ssh/config"] {
            assert!(
                matches!(
                    relative_to_import_dir(outside, dir),
                    Err(PathRefused::Outside { .. })
                ),
                "{outside}"
            );
        }
        for dots in [
            "../etc/passwd",
            "a/../../etc",
            "./config",
            "/srv/import/./x",
        ] {
            assert!(
                matches!(
                    relative_to_import_dir(dots, dir),
                    Err(PathRefused::DotSegment { .. })
                ),
                "{dots}"
            );
        }
    }

    #[test]
    fn paths_stay_inside_the_import_directory() {
        let dir = "/srv/import";
        assert_eq!(relative_to_import_dir("config", dir), Ok("config".into()));
        assert_eq!(
            relative_to_import_dir("/srv/import/a/b", dir),
            Ok("a/b".into())
        );
        assert_eq!(
            relative_to_import_dir("~/.ssh/config.d/x", dir),
            Ok("config.d/x".into())
        );
        for bad in [
            "/etc/passwd",
            "/srv/importer/x",
            "../etc/passwd",
            "a/../../etc",
            "~/x",
            "~root/.ssh/config",
            "/srv/import",
            "./config",
        ] {
            assert!(relative_to_import_dir(bad, dir).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_schema_wants_exactly_one_source() {
        let s = schema();
        assert_eq!(s["oneOf"].as_array().map(Vec::len), Some(2));
    }
}
