//! The answers of the host's common routes (`/api/status`, `/api/system-info`,
//! `/api/plugins`) as Rust types: the handlers serialise them and the OpenAPI document
//! derives their schemas from them, so the two cannot drift apart.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::Serialize;
use serde_json::Value;

use crate::plugins::loader::{DisabledPlugin, FailedPlugin};
use crate::plugins::runtime::{LoadedPlugin, PluginSource};

/// The JSON Schema (2020-12) of `T` with every subschema inlined and no `$schema` keyword,
/// ready to embed in the OpenAPI document.
pub fn schema_of<T: JsonSchema>() -> Value {
    let mut value = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if let Some(obj) = value.as_object_mut() {
        obj.remove("$schema");
    }
    value
}

/// `GET /api/status`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Status {
    /// Always `operational` while the server runs.
    pub status: String,
    /// A human message.
    pub message: String,
    /// Now, RFC 3339.
    pub timestamp: String,
}

/// A loaded plugin as `/api/system-info` lists it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PluginBrief {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Where its routes are (`/api/devices`).
    pub mount: String,
}

/// `GET /api/system-info`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SystemInfo {
    /// The server's host name.
    pub hostname: String,
    /// `linux`.
    pub platform: String,
    /// The OS's pretty name.
    pub os: String,
    /// The kernel release, when readable.
    pub kernel: Option<String>,
    /// CPU architecture.
    pub architecture: String,
    /// This server's version.
    pub app_version: String,
    /// The compiler that built it.
    pub rust_version: String,
    /// When the server started, RFC 3339.
    pub startup_time: String,
    /// Now, RFC 3339.
    pub current_time: String,
    /// Seconds since start-up.
    pub uptime_seconds: f64,
    /// Loaded plugins.
    pub plugins: Vec<PluginBrief>,
}

/// Where a plugin came from.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "kind", content = "path", rename_all = "lowercase")]
pub enum SourceView {
    /// Compiled into the server binary.
    Builtin,
    /// A `.wasm` file in the plugin directory.
    File(String),
}

impl From<&PluginSource> for SourceView {
    fn from(s: &PluginSource) -> Self {
        match s {
            PluginSource::Builtin => SourceView::Builtin,
            PluginSource::File(p) => SourceView::File(p.display().to_string()),
        }
    }
}

/// A route of a plugin as `/api/plugins` lists it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RouteView {
    /// `GET`, `POST`…
    pub method: String,
    /// Full path template.
    pub path: String,
    /// Operation id within the plugin.
    pub operation_id: String,
    /// Summary.
    pub summary: String,
    /// `read`, `write` or `admin`.
    pub scope: String,
    /// Whether it changes state.
    pub mutates: bool,
    /// Its own quota (`60/minute`).
    pub rate_limit: Option<String>,
    /// Runs only as a queued job.
    pub internal: bool,
    /// Answers 202 with a job.
    pub long_running: bool,
    /// Its body streams to a remote command.
    pub stream_body: bool,
}

/// Declared, granted and effective capabilities.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CapabilitiesView {
    /// What the manifest declares.
    pub declared: Vec<String>,
    /// What the operator granted.
    pub granted: Vec<String>,
    /// Both.
    pub effective: Vec<String>,
}

/// A plugin's sandbox limits.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LimitsView {
    /// Memory cap per instance.
    pub memory_limit_mb: u32,
    /// CPU deadline per call.
    pub timeout_secs: u64,
}

/// A loaded plugin as `/api/plugins` lists it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LoadedView {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The plugin API version it was built against (`0.2.0`).
    pub api_version: String,
    /// One line.
    pub description: String,
    /// Always true here.
    pub enabled: bool,
    /// Where it came from.
    pub source: SourceView,
    /// Where its routes are.
    pub mount: String,
    /// Its routes.
    pub routes: Vec<RouteView>,
    /// Its parsers' names.
    pub parsers: Vec<String>,
    /// Its periodic collectors (name, data type, interval, steps, parser).
    pub collectors: Vec<serde_json::Map<String, Value>>,
    /// Capabilities.
    pub capabilities: CapabilitiesView,
    /// Sandbox limits.
    pub limits: LimitsView,
    /// `loaded`.
    pub status: String,
    /// SHA-256 (hex) of its component (what `plugins.NAME.sha256` pins).
    pub sha256: String,
    /// When it was loaded, RFC 3339.
    pub loaded_at: String,
    /// Milliseconds to load it.
    pub load_time_ms: f64,
    /// Whether its compiled artifact came from the cache.
    pub compiled_from_cache: bool,
    /// Whether its manifest came from the cache (no guest code ran to load it).
    pub manifest_from_cache: bool,
    /// Whether its initialiser ran once at load, so every call starts from the state it left
    /// (the plugin's routes already built) instead of building it again.
    pub preinitialized: bool,
    /// The WASI interfaces its component imports (`wasi:clocks/wall-clock@0.2.12`, …): none
    /// for a guest built without WASI's standard library that reads no clock and no file.
    pub wasi_imports: Vec<String>,
    /// Why the last reload refused a newer component or section for it (this load keeps
    /// running); absent when nothing was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload_error: Option<String>,
}

/// A disabled plugin as `/api/plugins` lists it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DisabledView {
    /// Name.
    pub name: String,
    /// Always false here.
    pub enabled: bool,
    /// Where it came from.
    pub source: SourceView,
    /// Always empty.
    pub routes: Vec<RouteView>,
    /// `disabled`.
    pub status: String,
}

/// A third-party plugin skipped because it could not be loaded, as `/api/plugins` lists it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FailedView {
    /// Name (its config section or file stem; the file name when that is no plugin name).
    pub name: String,
    /// Always false here.
    pub enabled: bool,
    /// `failed`.
    pub status: String,
    /// Where it came from.
    pub source: SourceView,
    /// SHA-256 (hex) of its file, when it could be read.
    pub sha256: Option<String>,
    /// Why it was skipped.
    pub error: String,
    /// Always empty.
    pub routes: Vec<RouteView>,
}

impl FailedView {
    /// The view of a failed plugin.
    pub fn of(f: &FailedPlugin) -> FailedView {
        FailedView {
            name: f.name.clone(),
            enabled: false,
            status: "failed".into(),
            source: (&f.source).into(),
            sha256: f.sha256.clone(),
            error: f.error.clone(),
            routes: Vec::new(),
        }
    }
}

/// One plugin, loaded, disabled or failed.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum PluginView {
    /// Loaded.
    Loaded(Box<LoadedView>),
    /// Disabled in config.
    Disabled(DisabledView),
    /// Skipped: it could not be loaded.
    Failed(FailedView),
}

/// `GET /api/plugins`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PluginList {
    /// Every plugin.
    pub plugins: Vec<PluginView>,
    /// How many.
    pub total: usize,
    /// The plugin generation serving (0 = as started; one more per reload that changed
    /// something).
    pub generation: u64,
}

impl LoadedView {
    /// The view of a loaded plugin, with what the last reload refused for it.
    pub fn of(p: &LoadedPlugin, refused: Option<&FailedPlugin>) -> LoadedView {
        let m = &p.manifest;
        LoadedView {
            name: m.name.clone(),
            version: m.version.clone(),
            api_version: serde_json::to_value(m.api_version)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            description: m.description.clone(),
            enabled: true,
            source: (&p.source).into(),
            mount: format!("/api{}", p.mount),
            routes: m
                .routes
                .iter()
                .map(|r| RouteView {
                    method: r.method.as_str().to_owned(),
                    path: format!("/api{}{}", p.mount, r.path),
                    operation_id: r.operation_id.clone(),
                    summary: r.summary.clone(),
                    scope: r.scope.as_str().to_owned(),
                    mutates: r.mutates,
                    rate_limit: r.rate_limit.map(|l| l.to_string()),
                    internal: r.internal,
                    long_running: r.long_running,
                    stream_body: r.stream_body,
                })
                .collect(),
            parsers: m.parsers.clone(),
            collectors: m
                .collectors
                .iter()
                .filter_map(|c| match serde_json::to_value(c) {
                    Ok(Value::Object(o)) => Some(o),
                    _ => None,
                })
                .collect(),
            capabilities: CapabilitiesView {
                declared: m.capabilities.iter().map(ToString::to_string).collect(),
                granted: p.granted.clone(),
                effective: p.effective.clone(),
            },
            limits: LimitsView {
                memory_limit_mb: p.memory_limit_mb,
                timeout_secs: p.timeout_secs,
            },
            status: "loaded".into(),
            sha256: p.sha256.clone(),
            loaded_at: p.loaded_at.clone(),
            load_time_ms: p.load_time_ms,
            compiled_from_cache: p.from_cache,
            manifest_from_cache: p.manifest_from_cache,
            preinitialized: p.preinitialized,
            wasi_imports: p.wasi_imports.clone(),
            reload_error: refused.map(|r| r.error.clone()),
        }
    }
}

impl DisabledView {
    /// The view of a disabled plugin.
    pub fn of(d: &DisabledPlugin) -> DisabledView {
        DisabledView {
            name: d.name.clone(),
            enabled: false,
            source: (&d.source).into(),
            routes: Vec::new(),
            status: "disabled".into(),
        }
    }
}
