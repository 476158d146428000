//! The plugin description: routes with their parameters, scripts, parsers, collectors and
//! capabilities, and the dispatch of requests to handlers.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::bindings::exports::infrastructor::plugin::plugin as wit;
use crate::collector::Step;
use crate::{Error, Request, Response, StepOutput};

/// An HTTP method a route may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: reads; never mutates unless said otherwise.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// The method's name in upper case (`"GET"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Method> for wit::Method {
    fn from(m: Method) -> Self {
        match m {
            Method::Get => Self::Get,
            Method::Post => Self::Post,
            Method::Put => Self::Put,
            Method::Patch => Self::Patch,
            Method::Delete => Self::Delete,
        }
    }
}

impl From<wit::Method> for Method {
    fn from(m: wit::Method) -> Self {
        match m {
            wit::Method::Get => Self::Get,
            wit::Method::Post => Self::Post,
            wit::Method::Put => Self::Put,
            wit::Method::Patch => Self::Patch,
            wit::Method::Delete => Self::Delete,
        }
    }
}

/// The scope a caller's API key needs for a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Read-only access (the default for `GET`).
    Read,
    /// Changes (the default for every other method).
    Write,
    /// Administrative operations.
    Admin,
}

impl From<Scope> for wit::Scope {
    fn from(s: Scope) -> Self {
        match s {
            Scope::Read => Self::Read,
            Scope::Write => Self::Write,
            Scope::Admin => Self::Admin,
        }
    }
}

/// Where a parameter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamLocation {
    /// A `{name}` segment of the path template.
    Path,
    /// A query-string parameter.
    Query,
}

/// A parameter's type; the host converts and checks values before `handle` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// Any text (the default).
    String,
    /// A signed integer.
    Integer,
    /// A floating-point number.
    Number,
    /// `true` or `false`.
    Boolean,
}

/// A declared path or query parameter. The host validates it (type, bounds, length, pattern,
/// allowed values) and applies its default before the handler runs, and documents it in the
/// OpenAPI document.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    name: String,
    location: ParamLocation,
    kind: ParamKind,
    required: bool,
    description: String,
    default: Option<String>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    min_length: Option<u32>,
    max_length: Option<u32>,
    pattern: Option<String>,
    allowed: Vec<String>,
}

impl Param {
    fn new(name: &str, location: ParamLocation) -> Self {
        Self {
            name: name.to_owned(),
            location,
            kind: ParamKind::String,
            required: location == ParamLocation::Path,
            description: String::new(),
            default: None,
            minimum: None,
            maximum: None,
            min_length: None,
            max_length: None,
            pattern: None,
            allowed: Vec::new(),
        }
    }

    /// A path parameter (a `{name}` segment of the route's template); always required.
    pub fn path(name: &str) -> Self {
        Self::new(name, ParamLocation::Path)
    }

    /// A query parameter; optional unless [`Param::required`] is called.
    pub fn query(name: &str) -> Self {
        Self::new(name, ParamLocation::Query)
    }

    /// Sets the type to text (the default).
    pub fn string(mut self) -> Self {
        self.kind = ParamKind::String;
        self
    }

    /// Sets the type to integer.
    pub fn integer(mut self) -> Self {
        self.kind = ParamKind::Integer;
        self
    }

    /// Sets the type to number.
    pub fn number(mut self) -> Self {
        self.kind = ParamKind::Number;
        self
    }

    /// Sets the type to boolean.
    pub fn boolean(mut self) -> Self {
        self.kind = ParamKind::Boolean;
        self
    }

    /// Makes a query parameter required (path parameters always are).
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The value used when a query parameter is absent, in its text form (`"1"`, `"false"`).
    pub fn default(mut self, value: impl Into<String>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// The smallest allowed value of an integer or number parameter.
    pub fn min(mut self, minimum: f64) -> Self {
        self.minimum = Some(minimum);
        self
    }

    /// The largest allowed value of an integer or number parameter.
    pub fn max(mut self, maximum: f64) -> Self {
        self.maximum = Some(maximum);
        self
    }

    /// The shortest allowed text, in characters.
    pub fn min_len(mut self, min_length: u32) -> Self {
        self.min_length = Some(min_length);
        self
    }

    /// The longest allowed text, in characters.
    pub fn max_len(mut self, max_length: u32) -> Self {
        self.max_length = Some(max_length);
        self
    }

    /// A regular expression (Rust `regex` syntax) the whole value must match.
    pub fn pattern(mut self, pattern: &str) -> Self {
        self.pattern = Some(pattern.to_owned());
        self
    }

    /// Closes the set of allowed values.
    pub fn allowed(mut self, values: &[&str]) -> Self {
        self.allowed = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    /// A description for the API documentation.
    pub fn description(mut self, description: &str) -> Self {
        self.description = description.to_owned();
        self
    }

    /// The parameter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the parameter comes from.
    pub fn location(&self) -> ParamLocation {
        self.location
    }

    /// The parameter's type.
    pub fn kind(&self) -> ParamKind {
        self.kind
    }

    /// Whether the parameter must be present.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// The default, in text form.
    pub fn default_value(&self) -> Option<&str> {
        self.default.as_deref()
    }

    fn validate(&self, problems: &mut Vec<String>, route: &str) {
        let p = format!("route `{route}`, parameter `{}`", self.name);
        if self.name.is_empty() {
            problems.push(format!("route `{route}`: a parameter has an empty name"));
        }
        if self.location == ParamLocation::Path && self.default.is_some() {
            problems.push(format!("{p}: path parameters cannot have a default"));
        }
        if self.required && self.default.is_some() {
            problems.push(format!("{p}: a required parameter cannot have a default"));
        }
        let numeric = matches!(self.kind, ParamKind::Integer | ParamKind::Number);
        if !numeric && (self.minimum.is_some() || self.maximum.is_some()) {
            problems.push(format!("{p}: min/max need an integer or number parameter"));
        }
        if self.kind != ParamKind::String
            && (self.min_length.is_some() || self.max_length.is_some() || self.pattern.is_some())
        {
            problems.push(format!(
                "{p}: min_len/max_len/pattern need a string parameter"
            ));
        }
        if let (Some(lo), Some(hi)) = (self.minimum, self.maximum)
            && lo > hi
        {
            problems.push(format!("{p}: min {lo} is greater than max {hi}"));
        }
        if let (Some(lo), Some(hi)) = (self.min_length, self.max_length)
            && lo > hi
        {
            problems.push(format!("{p}: min_len {lo} is greater than max_len {hi}"));
        }
        if let Some(default) = &self.default
            && let Err(why) = self.check_value(default)
        {
            problems.push(format!("{p}: default `{default}` {why}"));
        }
        for value in &self.allowed {
            if let Err(why) = self.check_value_type(value) {
                problems.push(format!("{p}: allowed value `{value}` {why}"));
            }
        }
    }

    fn check_value_type(&self, value: &str) -> Result<Option<f64>, String> {
        match self.kind {
            ParamKind::String => Ok(None),
            ParamKind::Integer => value
                .parse::<i64>()
                .map(|v| Some(v as f64))
                .map_err(|_| "is not an integer".to_owned()),
            ParamKind::Number => value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Some)
                .ok_or_else(|| "is not a number".to_owned()),
            ParamKind::Boolean => match value {
                "true" | "false" => Ok(None),
                _ => Err("is not `true` or `false`".to_owned()),
            },
        }
    }

    /// Checks a value against type, bounds, lengths and the allowed set (not the pattern,
    /// which the host checks with a real regex engine).
    fn check_value(&self, value: &str) -> Result<(), String> {
        if let Some(n) = self.check_value_type(value)?
            && (self.minimum.is_some_and(|lo| n < lo) || self.maximum.is_some_and(|hi| n > hi))
        {
            return Err("is out of range".to_owned());
        }
        let chars = value.chars().count();
        if self.min_length.is_some_and(|lo| chars < lo as usize)
            || self.max_length.is_some_and(|hi| chars > hi as usize)
        {
            return Err("has the wrong length".to_owned());
        }
        if !self.allowed.is_empty() && !self.allowed.iter().any(|a| a == value) {
            return Err("is not one of the allowed values".to_owned());
        }
        Ok(())
    }

    fn to_wit(&self) -> wit::Param {
        wit::Param {
            name: self.name.clone(),
            location: match self.location {
                ParamLocation::Path => wit::ParamLocation::Path,
                ParamLocation::Query => wit::ParamLocation::Query,
            },
            kind: match self.kind {
                ParamKind::String => wit::ParamKind::String,
                ParamKind::Integer => wit::ParamKind::Integer,
                ParamKind::Number => wit::ParamKind::Number,
                ParamKind::Boolean => wit::ParamKind::Boolean,
            },
            required: self.required || self.location == ParamLocation::Path,
            description: self.description.clone(),
            default: self.default.clone(),
            minimum: self.minimum,
            maximum: self.maximum,
            min_length: self.min_length,
            max_length: self.max_length,
            pattern: self.pattern.clone(),
            allowed: self.allowed.clone(),
        }
    }
}

/// A route the plugin serves, relative to its mount (`/greet/{name}`).
///
/// `{name}` segments of the template that are not declared with [`Param::path`] are declared
/// as plain string path parameters automatically.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    method: Method,
    path: String,
    operation_id: String,
    summary: String,
    description: String,
    params: Vec<Param>,
    body_schema: Option<Value>,
    response_schema: Option<Value>,
    status: u16,
    rate_limit: Option<String>,
    mutates: Option<bool>,
    scope: Option<Scope>,
    internal: bool,
}

impl Route {
    /// A route with `method`, path template and operation id (unique within the plugin).
    pub fn new(method: Method, path: &str, operation_id: &str) -> Self {
        let mut route = Self {
            method,
            path: path.to_owned(),
            operation_id: operation_id.to_owned(),
            summary: String::new(),
            description: String::new(),
            params: Vec::new(),
            body_schema: None,
            response_schema: None,
            status: 200,
            rate_limit: None,
            mutates: None,
            scope: None,
            internal: false,
        };
        for name in template_params(path) {
            route.params.push(Param::path(name));
        }
        route
    }

    /// A `GET` route.
    pub fn get(path: &str, operation_id: &str) -> Self {
        Self::new(Method::Get, path, operation_id)
    }

    /// A `POST` route.
    pub fn post(path: &str, operation_id: &str) -> Self {
        Self::new(Method::Post, path, operation_id)
    }

    /// A `PUT` route.
    pub fn put(path: &str, operation_id: &str) -> Self {
        Self::new(Method::Put, path, operation_id)
    }

    /// A `PATCH` route.
    pub fn patch(path: &str, operation_id: &str) -> Self {
        Self::new(Method::Patch, path, operation_id)
    }

    /// A `DELETE` route.
    pub fn delete(path: &str, operation_id: &str) -> Self {
        Self::new(Method::Delete, path, operation_id)
    }

    /// One line for the API documentation (required: [`App::validate`] checks it).
    pub fn summary(mut self, summary: &str) -> Self {
        self.summary = summary.to_owned();
        self
    }

    /// A longer description for the API documentation.
    pub fn description(mut self, description: &str) -> Self {
        self.description = description.to_owned();
        self
    }

    /// Declares a parameter. A path parameter replaces the automatic declaration of the same
    /// name; declaring the same query parameter twice keeps the last.
    pub fn param(mut self, param: Param) -> Self {
        if let Some(existing) = self
            .params
            .iter_mut()
            .find(|p| p.name == param.name && p.location == param.location)
        {
            *existing = param;
        } else {
            self.params.push(param);
        }
        self
    }

    /// The JSON Schema the request body must match; the host rejects other bodies with 400.
    ///
    /// Object schemas that do not say otherwise get `"additionalProperties": false` (at every
    /// nesting level reached through `properties`, `items`, `prefixItems` and `$defs`), so
    /// unknown fields are rejected. Object schemas combining subschemas (`allOf`, `anyOf`,
    /// `oneOf`, `$ref`) or setting `unevaluatedProperties` are left alone.
    pub fn body_schema(mut self, mut schema: Value) -> Self {
        close_objects(&mut schema);
        self.body_schema = Some(schema);
        self
    }

    /// The JSON Schema of a success response, for the OpenAPI document.
    pub fn response_schema(mut self, schema: Value) -> Self {
        self.response_schema = Some(schema);
        self
    }

    /// The status of a success response (default 200).
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// A per-route quota such as `"60/minute"`, on top of the global one.
    pub fn rate_limit(mut self, quota: &str) -> Self {
        self.rate_limit = Some(quota.to_owned());
        self
    }

    /// Whether the route changes state (never retried, audited). Defaults to `true` for every
    /// method but `GET`.
    pub fn mutates(mut self, mutates: bool) -> Self {
        self.mutates = Some(mutates);
        self
    }

    /// The scope a caller's key needs; by default `read` for `GET` and `write` otherwise.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Not mounted over HTTP: the route runs only as a background job queued with
    /// [`crate::jobs::enqueue`].
    pub fn internal(mut self) -> Self {
        self.internal = true;
        self
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The path template.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The operation id.
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }

    /// The declared parameters, path parameters first in template order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The request body schema, after [`Route::body_schema`]'s closing of objects.
    pub fn request_body_schema(&self) -> Option<&Value> {
        self.body_schema.as_ref()
    }

    /// Whether the route mutates state (explicit, or derived from the method).
    pub fn is_mutating(&self) -> bool {
        self.mutates.unwrap_or(self.method != Method::Get)
    }

    fn validate(&self, problems: &mut Vec<String>) {
        let id = &self.operation_id;
        if id.is_empty() {
            problems.push(format!(
                "route {} {}: empty operation id",
                self.method, self.path
            ));
        }
        if !(self.path.is_empty() || self.path.starts_with('/')) {
            problems.push(format!(
                "route `{id}`: path `{}` must start with `/`",
                self.path
            ));
        }
        if self.summary.trim().is_empty() {
            problems.push(format!("route `{id}`: missing summary"));
        }
        if !(100..=599).contains(&self.status) {
            problems.push(format!(
                "route `{id}`: status {} is not an HTTP status",
                self.status
            ));
        }
        let placeholders: Vec<&str> = template_params(&self.path).collect();
        for p in &self.params {
            if p.location == ParamLocation::Path && !placeholders.contains(&p.name.as_str()) {
                problems.push(format!(
                    "route `{id}`: path parameter `{}` is not in the template `{}`",
                    p.name, self.path
                ));
            }
            p.validate(problems, id);
        }
        for (i, a) in self.params.iter().enumerate() {
            if self.params[..i].iter().any(|b| b.name == a.name) {
                problems.push(format!(
                    "route `{id}`: parameter `{}` declared twice",
                    a.name
                ));
            }
        }
        if self.method == Method::Get && self.body_schema.is_some() {
            problems.push(format!("route `{id}`: GET routes take no body"));
        }
        if let Some(quota) = &self.rate_limit
            && !valid_quota(quota)
        {
            problems.push(format!(
                "route `{id}`: rate limit `{quota}` is not `N/second|minute|hour|day`"
            ));
        }
    }

    fn to_wit(&self) -> wit::Route {
        wit::Route {
            method: self.method.into(),
            path: self.path.clone(),
            operation_id: self.operation_id.clone(),
            summary: self.summary.clone(),
            description: self.description.clone(),
            params: self.params.iter().map(Param::to_wit).collect(),
            request_body: self.body_schema.as_ref().map(Value::to_string),
            response: self.response_schema.as_ref().map(Value::to_string),
            success_status: self.status,
            rate_limit: self.rate_limit.clone(),
            mutates: self.is_mutating(),
            scope: self.scope.map(Into::into),
            internal: self.internal,
        }
    }
}

/// The `{name}` placeholders of a path template, in order.
fn template_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|segment| {
        segment
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .filter(|s| !s.is_empty())
    })
}

fn valid_quota(quota: &str) -> bool {
    let Some((count, unit)) = quota.split_once('/') else {
        return false;
    };
    count.parse::<u32>().is_ok_and(|n| n > 0)
        && matches!(unit, "second" | "minute" | "hour" | "day")
}

/// Adds `"additionalProperties": false` to object schemas that say nothing about extra
/// properties; see [`Route::body_schema`].
fn close_objects(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let is_object = match obj.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
        None => obj.contains_key("properties"),
        Some(_) => false,
    };
    let composed = ["allOf", "anyOf", "oneOf", "$ref", "unevaluatedProperties"]
        .iter()
        .any(|k| obj.contains_key(*k));
    if is_object && !composed && !obj.contains_key("additionalProperties") {
        obj.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    for key in ["properties", "$defs", "definitions"] {
        if let Some(Value::Object(children)) = obj.get_mut(key) {
            children.values_mut().for_each(close_objects);
        }
    }
    match obj.get_mut("items") {
        Some(Value::Array(items)) => items.iter_mut().for_each(close_objects),
        Some(items) => close_objects(items),
        None => {}
    }
    if let Some(Value::Array(items)) = obj.get_mut("prefixItems") {
        items.iter_mut().for_each(close_objects);
    }
    if let Some(extra @ Value::Object(_)) = obj.get_mut("additionalProperties") {
        close_objects(extra);
    }
}

/// A constant POSIX `sh` script the plugin may run with [`crate::ssh::run_script`] or as a
/// collector step; user input reaches it only as `$1…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    name: String,
    body: String,
    programs: Vec<String>,
}

impl Script {
    /// The script's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The script's text.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The programs it runs, each checked against the plugin's grant.
    pub fn programs(&self) -> &[String] {
        &self.programs
    }
}

/// A collection the host runs periodically for every device with monitoring enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collector {
    name: String,
    data_type: String,
    interval: Duration,
    steps: Vec<Step>,
    parser: String,
}

impl Collector {
    /// A collector `name` producing `data_type` every `interval` with the plugin's parser
    /// `parser`; add steps with [`Collector::step`].
    pub fn new(name: &str, data_type: &str, interval: Duration, parser: &str) -> Self {
        Self {
            name: name.to_owned(),
            data_type: data_type.to_owned(),
            interval,
            steps: Vec::new(),
            parser: parser.to_owned(),
        }
    }

    /// Adds a remote step.
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    fn to_wit(&self) -> wit::PeriodicCollector {
        wit::PeriodicCollector {
            name: self.name.clone(),
            data_type: self.data_type.clone(),
            interval_secs: u32::try_from(self.interval.as_secs()).unwrap_or(u32::MAX),
            steps: self.steps.iter().map(Step::to_manifest_step).collect(),
            parser: self.parser.clone(),
        }
    }
}

/// A request handler, as [`App::route`] stores it.
type Handler = Box<dyn Fn(&Request) -> Result<Response, Error> + Send + Sync>;

/// An output parser, as [`App::parser`] stores it.
type Parser = Box<dyn Fn(&[StepOutput], &Value) -> Result<Value, Error> + Send + Sync>;

/// A plugin: its identity, routes and their handlers, scripts, parsers, periodic collectors and
/// the capabilities it needs. Build one in a function and hand that function to
/// [`export_plugin!`](crate::export_plugin).
pub struct App {
    name: String,
    version: String,
    description: String,
    mount: Option<String>,
    routes: Vec<(Route, Handler)>,
    scripts: Vec<Script>,
    parsers: Vec<(String, Parser)>,
    collectors: Vec<Collector>,
    capabilities: Vec<String>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("mount", &self.mount_path())
            .field(
                "routes",
                &self.routes.iter().map(|(r, _)| r).collect::<Vec<_>>(),
            )
            .field("scripts", &self.scripts)
            .field(
                "parsers",
                &self.parsers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("collectors", &self.collectors)
            .field("capabilities", &self.capabilities)
            .finish()
    }
}

impl App {
    /// A plugin called `name` (unique on the server) at `version` (usually
    /// `env!("CARGO_PKG_VERSION")`).
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            description: String::new(),
            mount: None,
            routes: Vec::new(),
            scripts: Vec::new(),
            parsers: Vec::new(),
            collectors: Vec::new(),
            capabilities: Vec::new(),
        }
    }

    /// One line for `/api/plugins` and the OpenAPI tag.
    pub fn description(mut self, description: &str) -> Self {
        self.description = description.to_owned();
        self
    }

    /// The default mount under `/api` (`/devices`); `/{name}` when not set.
    pub fn mount(mut self, mount: &str) -> Self {
        self.mount = Some(mount.to_owned());
        self
    }

    /// Adds a route and its handler. A handler may return anything that converts into a
    /// [`Response`], such as [`Json`](crate::Json).
    pub fn route<F, R>(mut self, route: Route, handler: F) -> Self
    where
        F: Fn(&Request) -> Result<R, Error> + Send + Sync + 'static,
        R: Into<Response>,
    {
        let handler: Handler = Box::new(move |req| handler(req).map(Into::into));
        self.routes.push((route, handler));
        self
    }

    /// Declares a constant script runnable with [`crate::ssh::run_script`]; `programs` lists
    /// every program it runs (each is checked against the grant like an `exec` argv).
    pub fn script(mut self, name: &str, body: &str, programs: &[&str]) -> Self {
        self.scripts.push(Script {
            name: name.to_owned(),
            body: body.to_owned(),
            programs: programs.iter().map(|p| (*p).to_owned()).collect(),
        });
        self
    }

    /// Registers an output parser the host calls (in a separate instance) on collected
    /// outputs; `args` is the collect request's `parser_args` (`null` when empty).
    pub fn parser<F>(mut self, name: &str, parser: F) -> Self
    where
        F: Fn(&[StepOutput], &Value) -> Result<Value, Error> + Send + Sync + 'static,
    {
        self.parsers.push((name.to_owned(), Box::new(parser)));
        self
    }

    /// Declares a capability the plugin needs: `storage`, `registry-read`, `registry-write`,
    /// `collector`, `clock`, or `exec:PROGRAM ARG-PATTERN…` (`*` one argument, `**` the rest).
    pub fn capability(mut self, capability: &str) -> Self {
        if !self.capabilities.iter().any(|c| c == capability) {
            self.capabilities.push(capability.to_owned());
        }
        self
    }

    /// Adds a periodic collector.
    pub fn collector(mut self, collector: Collector) -> Self {
        self.collectors.push(collector);
        self
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The default mount (`/{name}` when not set).
    pub fn mount_path(&self) -> String {
        self.mount
            .clone()
            .unwrap_or_else(|| format!("/{}", self.name))
    }

    /// The routes, in declaration order.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter().map(|(r, _)| r)
    }

    /// The route with this operation id.
    pub fn route_by_id(&self, operation_id: &str) -> Option<&Route> {
        self.routes().find(|r| r.operation_id == operation_id)
    }

    /// The declared scripts.
    pub fn scripts(&self) -> &[Script] {
        &self.scripts
    }

    /// The declared capabilities.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// Checks the description for mistakes the host would reject or that make a poor API:
    /// duplicate operation ids, routes or names, undeclared or misplaced path parameters,
    /// contradictory parameter constraints or defaults, missing summaries, GET bodies, bad
    /// quotas, collectors naming unknown parsers or scripts. Returns every problem found.
    ///
    /// [`export_plugin!`](crate::export_plugin) calls it when the host asks for the manifest
    /// and traps (with the problems in the host's log) if it fails; call it in a unit test to
    /// find out earlier.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            problems.push(format!(
                "plugin name `{}` must be non-empty lower-case ASCII, digits, `-` or `_`",
                self.name
            ));
        }
        if self.version.is_empty() {
            problems.push("empty plugin version".to_owned());
        }
        let mount = self.mount_path();
        if !mount.starts_with('/') || (mount.len() > 1 && mount.ends_with('/')) {
            problems.push(format!(
                "mount `{mount}` must start with `/` and not end with one"
            ));
        }
        for (i, (route, _)) in self.routes.iter().enumerate() {
            route.validate(&mut problems);
            for (other, _) in &self.routes[..i] {
                if other.operation_id == route.operation_id {
                    problems.push(format!("operation id `{}` used twice", route.operation_id));
                }
                if other.method == route.method
                    && normalise_template(&other.path) == normalise_template(&route.path)
                {
                    problems.push(format!(
                        "routes `{}` and `{}` both serve {} {}",
                        other.operation_id, route.operation_id, route.method, route.path
                    ));
                }
            }
        }
        for (i, script) in self.scripts.iter().enumerate() {
            if self.scripts[..i].iter().any(|s| s.name == script.name) {
                problems.push(format!("script `{}` declared twice", script.name));
            }
            if script.programs.is_empty() {
                problems.push(format!("script `{}` declares no programs", script.name));
            }
        }
        for (i, (name, _)) in self.parsers.iter().enumerate() {
            if self.parsers[..i].iter().any(|(n, _)| n == name) {
                problems.push(format!("parser `{name}` registered twice"));
            }
        }
        for c in &self.collectors {
            if !self.parsers.iter().any(|(n, _)| *n == c.parser) {
                problems.push(format!(
                    "collector `{}`: unknown parser `{}`",
                    c.name, c.parser
                ));
            }
            if c.steps.is_empty() {
                problems.push(format!("collector `{}` has no steps", c.name));
            }
            if c.interval.is_zero() {
                problems.push(format!("collector `{}` has a zero interval", c.name));
            }
            for step in &c.steps {
                if let Some(script) = step.script_name()
                    && !self.scripts.iter().any(|s| s.name == script)
                {
                    problems.push(format!("collector `{}`: unknown script `{script}`", c.name));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The manifest the host reads at load, in its WIT form.
    pub fn manifest(&self) -> wit::PluginManifest {
        wit::PluginManifest {
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            mount: self.mount_path(),
            routes: self.routes().map(Route::to_wit).collect(),
            scripts: self
                .scripts
                .iter()
                .map(|s| wit::Script {
                    name: s.name.clone(),
                    body: s.body.clone(),
                    programs: s.programs.clone(),
                })
                .collect(),
            parsers: self.parsers.iter().map(|(n, _)| n.clone()).collect(),
            collectors: self.collectors.iter().map(Collector::to_wit).collect(),
            capabilities: self.capabilities.clone(),
        }
    }

    /// Runs the handler of the request's operation id. Usable natively in unit tests with a
    /// [`Request`] built by [`Request::new`].
    pub fn dispatch(&self, request: &Request) -> Result<Response, Error> {
        let op = request.operation_id();
        match self.routes.iter().find(|(r, _)| r.operation_id == op) {
            Some((_, handler)) => handler(request),
            None => Err(Error::internal(format!(
                "plugin `{}` has no operation `{op}`",
                self.name
            ))),
        }
    }

    /// Runs the parser `name` on step outputs with JSON arguments.
    pub fn parse(&self, name: &str, outputs: &[StepOutput], args: &Value) -> Result<Value, Error> {
        match self.parsers.iter().find(|(n, _)| n == name) {
            Some((_, parser)) => parser(outputs, args),
            None => Err(Error::internal(format!(
                "plugin `{}` has no parser `{name}`",
                self.name
            ))),
        }
    }
}

/// A template with parameter names erased, so `/a/{x}` and `/a/{y}` compare equal.
fn normalise_template(path: &str) -> String {
    path.trim_end_matches('/')
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                "{}"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Json;
    use serde_json::json;

    fn ok(_: &Request) -> Result<Response, Error> {
        Ok(Response::empty(204))
    }

    #[test]
    fn path_params_are_declared_automatically_and_replaceable() {
        let r = Route::get("/a/{x}/b/{y}", "op")
            .param(Param::path("y").integer().description("why"))
            .param(Param::query("q"));
        let names: Vec<_> = r
            .params()
            .iter()
            .map(|p| (p.name(), p.location()))
            .collect();
        assert_eq!(
            names,
            [
                ("x", ParamLocation::Path),
                ("y", ParamLocation::Path),
                ("q", ParamLocation::Query)
            ]
        );
        assert_eq!(r.params()[1].kind(), ParamKind::Integer);
        assert!(r.params()[0].is_required() && r.params()[1].is_required());
        assert!(!r.params()[2].is_required());
    }

    #[test]
    fn mutates_and_scope_defaults() {
        assert!(!Route::get("/", "a").is_mutating());
        assert!(Route::post("/", "b").is_mutating());
        assert!(Route::delete("/", "c").is_mutating());
        assert!(!Route::post("/", "d").mutates(false).is_mutating());
        assert!(Route::get("/", "e").mutates(true).is_mutating());
        let w = Route::put("/", "f").scope(Scope::Admin).to_wit();
        assert_eq!(w.scope, Some(wit::Scope::Admin));
        assert_eq!(Route::put("/", "g").to_wit().scope, None);
    }

    #[test]
    fn body_schemas_are_closed() {
        let r = Route::post("/items", "create").body_schema(json!({
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "meta": {"type": "object", "properties": {"x": {"type": "integer"}}},
                "tags": {"type": "array", "items": {"type": "object"}},
                "open": {"type": "object", "additionalProperties": true},
                "mixed": {"allOf": [{"type": "object"}]}
            }
        }));
        let s = r.request_body_schema().expect("schema");
        assert_eq!(s["additionalProperties"], json!(false));
        assert_eq!(
            s["properties"]["meta"]["additionalProperties"],
            json!(false)
        );
        assert_eq!(
            s["properties"]["tags"]["items"]["additionalProperties"],
            json!(false)
        );
        assert_eq!(s["properties"]["open"]["additionalProperties"], json!(true));
        assert!(
            s["properties"]["mixed"]
                .get("additionalProperties")
                .is_none()
        );
        assert!(
            s["properties"]["name"]
                .get("additionalProperties")
                .is_none()
        );
    }

    #[test]
    fn manifest_carries_everything() {
        let app =
            App::new("hello", "1.2.3")
                .description("Says hello")
                .capability("storage")
                .capability("storage")
                .route(
                    Route::get("/greet/{name}", "greet")
                        .summary("Greets")
                        .param(Param::path("name").pattern("^[a-z]+$"))
                        .param(
                            Param::query("times")
                                .integer()
                                .min(1.0)
                                .max(5.0)
                                .default("1"),
                        )
                        .rate_limit("60/minute"),
                    ok,
                )
                .route(
                    Route::post("/items", "create")
                        .summary("Creates")
                        .body_schema(json!({"type": "object"}))
                        .response_schema(json!({"type": "object"}))
                        .status(201),
                    |_: &Request| Ok(Json(json!({}))),
                )
                .script("probe", "echo \"$1\"", &["echo"])
                .parser("words", |_, _| Ok(json!(0)))
                .collector(
                    Collector::new("c", "words", Duration::from_secs(60), "words")
                        .step(Step::script("s", "probe", &["x"])),
                );
        assert_eq!(app.validate(), Ok(()));
        let m = app.manifest();
        assert_eq!(m.name, "hello");
        assert_eq!(m.version, "1.2.3");
        assert_eq!(m.mount, "/hello");
        assert_eq!(m.capabilities, ["storage"]);
        assert_eq!(m.parsers, ["words"]);
        assert_eq!(m.scripts.len(), 1);
        assert_eq!(m.scripts[0].programs, ["echo"]);
        let greet = &m.routes[0];
        assert_eq!(greet.method, wit::Method::Get);
        assert_eq!(greet.operation_id, "greet");
        assert!(!greet.mutates);
        assert_eq!(greet.rate_limit.as_deref(), Some("60/minute"));
        assert_eq!(greet.params.len(), 2);
        assert_eq!(greet.params[0].pattern.as_deref(), Some("^[a-z]+$"));
        assert!(greet.params[0].required);
        assert_eq!(greet.params[1].kind, wit::ParamKind::Integer);
        assert_eq!(greet.params[1].default.as_deref(), Some("1"));
        assert_eq!(greet.params[1].minimum, Some(1.0));
        let create = &m.routes[1];
        assert_eq!(create.success_status, 201);
        assert!(create.mutates);
        let body: Value =
            serde_json::from_str(create.request_body.as_deref().expect("body")).expect("json");
        assert_eq!(
            body,
            json!({"type": "object", "additionalProperties": false})
        );
        assert_eq!(create.response.as_deref(), Some(r#"{"type":"object"}"#));
        assert_eq!(m.collectors[0].interval_secs, 60);
        assert_eq!(m.collectors[0].steps[0].script.as_deref(), Some("probe"));
        assert_eq!(m.collectors[0].steps[0].argv, ["x"]);
    }

    #[test]
    fn validation_finds_mistakes() {
        let app = App::new("Bad Name", "")
            .mount("nope/")
            .route(Route::get("/a/{x}", "dup").summary("s"), ok)
            .route(
                Route::get("/a/{y}", "dup")
                    .param(Param::path("z"))
                    .param(Param::query("n").integer().default("zero"))
                    .param(Param::query("m").min(1.0))
                    .param(Param::query("r").integer().min(5.0).max(1.0))
                    .param(Param::query("k").allowed(&["a", "b"]).default("c"))
                    .param(Param::query("req").required().default("1"))
                    .rate_limit("lots"),
                ok,
            )
            .route(
                Route::get("/b", "body").summary("s").body_schema(json!({})),
                ok,
            )
            .script("s", "true", &[])
            .collector(Collector::new("c", "t", Duration::ZERO, "missing"));
        let problems = app.validate().expect_err("invalid");
        let text = problems.join("\n");
        for needle in [
            "plugin name",
            "empty plugin version",
            "mount",
            "operation id `dup` used twice",
            "both serve GET",
            "missing summary",
            "path parameter `z` is not in the template",
            "default `zero` is not an integer",
            "min/max need an integer",
            "min 5 is greater than max 1",
            "default `c` is not one of the allowed",
            "required parameter cannot have a default",
            "rate limit `lots`",
            "GET routes take no body",
            "declares no programs",
            "unknown parser `missing`",
            "has no steps",
            "zero interval",
        ] {
            assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
        }
    }

    #[test]
    fn dispatch_and_parse_by_name() {
        let app = App::new("t", "0")
            .route(Route::get("/x", "x").summary("x"), |req: &Request| {
                Ok(Json(json!({"op": req.operation_id()})))
            })
            .parser("count", |outs, args| {
                Ok(json!({"n": outs.len(), "args": args.clone()}))
            });
        let resp = app
            .dispatch(&Request::new("x", Method::Get, "/x"))
            .expect("ok");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.json::<Value>().expect("json"), json!({"op": "x"}));
        let err = app
            .dispatch(&Request::new("nope", Method::Get, "/"))
            .expect_err("unknown");
        assert_eq!(err.kind(), "internal");
        let out = app
            .parse("count", &[StepOutput::new("a", 0, "hi")], &json!({"k": 1}))
            .expect("parsed");
        assert_eq!(out, json!({"n": 1, "args": {"k": 1}}));
        assert!(app.parse("nope", &[], &Value::Null).is_err());
    }
}
