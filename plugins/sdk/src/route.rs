//! Routes: method, path template, parameters, schemas, quota, scope.

use infrastructor_manifest as model;
use serde_json::Value;

use crate::param::Param;

pub use model::{Method, Scope};

/// The largest `page` of a [`Route::paginated`] list.
pub const MAX_PAGE: u32 = 1_000_000;

/// A JSON Schema as given, or derived from a type only when the manifest is asked for.
///
/// A plugin builds its [`App`](crate::App) in every fresh instance, that is on every call;
/// deriving schemas there (with `schemars`) used to cost more than the call itself. Only
/// the `manifest` call (once, at load) and unit tests read them.
#[derive(Debug, Clone)]
enum Schema {
    Given(Value),
    Derived(fn() -> Value),
    /// A body schema built by a function, closed like [`Route::body_schema`] closes one.
    DerivedClosed(fn() -> Value),
}

impl Schema {
    fn value(&self) -> Value {
        match self {
            Schema::Given(v) => v.clone(),
            Schema::Derived(derive) => derive(),
            Schema::DerivedClosed(derive) => {
                let mut schema = derive();
                close_objects(&mut schema);
                schema
            }
        }
    }
}

/// A declared parameter, or the query parameters of a type (expanded when asked for, like
/// [`Schema::Derived`]).
#[derive(Debug, Clone)]
enum Declared {
    Param(Param),
    QueryOf(fn() -> Value),
}

/// Declares `param` in `params`: replaces the declaration of the same name and location in
/// place, or appends it.
fn declare(params: &mut Vec<Param>, param: Param) {
    match params
        .iter_mut()
        .find(|p| p.0.name == param.0.name && p.0.location == param.0.location)
    {
        Some(existing) => *existing = param,
        None => params.push(param),
    }
}

/// A route the plugin serves, relative to its mount (`/greet/{name}`).
///
/// `{name}` segments of the template that are not declared with [`Param::path`] are declared
/// as plain string path parameters automatically.
///
/// Schemas derived from types ([`Route::body`], [`Route::returns`], [`Route::query`]) are
/// derived only when the manifest is built, never when a request is dispatched.
#[derive(Debug, Clone)]
pub struct Route {
    method: Method,
    path: String,
    operation_id: String,
    summary: String,
    description: String,
    params: Vec<Declared>,
    body_schema: Option<Schema>,
    response_schema: Option<Schema>,
    status: u16,
    rate_limit: Option<String>,
    mutates: Option<bool>,
    scope: Option<Scope>,
    internal: bool,
    long_running: bool,
    stream_body: bool,
    errors: Vec<model::ErrorStatus>,
    event_stream: bool,
    cacheable: bool,
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
            long_running: false,
            stream_body: false,
            errors: Vec::new(),
            event_stream: false,
            cacheable: false,
        };
        for name in model::template_params(path) {
            route.params.push(Declared::Param(Param::path(&name)));
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

    /// One line for the API documentation (required: [`App::validate`](crate::App::validate) checks it).
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
        self.params.push(Declared::Param(param));
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
        self.body_schema = Some(Schema::Given(schema));
        self
    }

    /// Declares the page parameters of a list: `page` (1 to [`MAX_PAGE`], default 1) and
    /// `page_size` (1 to 1000, default 50).
    pub fn paginated(self) -> Self {
        self.param(
            Param::query("page")
                .integer()
                .min(1.0)
                .max(MAX_PAGE as f64)
                .default("1"),
        )
        .param(
            Param::query("page_size")
                .integer()
                .min(1.0)
                .max(1000.0)
                .default("50"),
        )
    }

    /// The request body is a `T`: its JSON Schema is derived from the type (see
    /// [`schema_of`](crate::schema::schema_of)) and closed like [`Route::body_schema`]'s;
    /// the handler reads it with [`Request::body`](crate::Request::body).
    pub fn body<T: schemars::JsonSchema>(mut self) -> Self {
        self.body_schema = Some(Schema::DerivedClosed(crate::schema::schema_of::<T>));
        self
    }

    /// Like [`Route::body_schema`], with the schema built by `schema` only when the manifest
    /// is asked for (a large hand-written schema then costs nothing on a request).
    pub fn body_schema_fn(mut self, schema: fn() -> Value) -> Self {
        self.body_schema = Some(Schema::DerivedClosed(schema));
        self
    }

    /// Declares the query parameters from `T` (a struct of strings, numbers and flags; see
    /// [`query_params`](crate::schema::query_params)); the handler reads them with
    /// [`Request::query`](crate::Request::query). A type that does not fit a query is
    /// reported by [`App::validate`](crate::App::validate).
    pub fn query<T: schemars::JsonSchema>(mut self) -> Self {
        self.params
            .push(Declared::QueryOf(crate::schema::schema_of::<T>));
        self
    }

    /// The JSON Schema of a success response, for the OpenAPI document.
    pub fn response_schema(mut self, schema: Value) -> Self {
        self.response_schema = Some(Schema::Given(schema));
        self
    }

    /// The success response is a `T` (what the handler serialises): its JSON Schema is
    /// derived from the type as it serialises (see
    /// [`response_schema_of`](crate::schema::response_schema_of)) for the OpenAPI document,
    /// only when the manifest is asked for. A long-running route's `T` is its job's result
    /// (its inline answer with `?wait=`).
    pub fn returns<T: schemars::JsonSchema>(mut self) -> Self {
        self.response_schema = Some(Schema::Derived(crate::schema::response_schema_of::<T>));
        self
    }

    /// Like [`Route::response_schema`], with the schema built by `schema` only when the
    /// manifest is asked for.
    pub fn response_schema_fn(mut self, schema: fn() -> Value) -> Self {
        self.response_schema = Some(Schema::Derived(schema));
        self
    }

    /// The success response is text of `media_type` (`text/plain`, `application/yaml`), not
    /// JSON, as [`Response::bytes`](crate::Response::bytes) or
    /// [`Response::text`](crate::Response::text) answer it: the OpenAPI document lists a
    /// string of that media type, described by `description`.
    pub fn returns_text(self, media_type: &str, description: &str) -> Self {
        self.response_schema(serde_json::json!({
            "type": "string",
            "contentMediaType": media_type,
            "description": description,
        }))
    }

    /// Declares an error status the handler answers, with when it does (`404`, "No such
    /// device"); a status declared again replaces its description. The host documents its
    /// own statuses (401, 403, 422, 413, 429, 500, and 503/504 of a busy or overrunning
    /// plugin) without a declaration.
    pub fn error(mut self, status: u16, description: &str) -> Self {
        let e = model::ErrorStatus {
            status,
            description: description.to_owned(),
        };
        match self.errors.iter_mut().find(|d| d.status == status) {
            Some(existing) => *existing = e,
            None => self.errors.push(e),
        }
        self
    }

    /// Declares the statuses of a route that runs commands on a remote host: 502 (a command
    /// failed), 503 (the host cannot be reached or authenticated to), 504 (a command timed
    /// out), 413 (a command line over `ssh.max_command_bytes`) and, unless the route declared
    /// its own, 404 (no such registered device).
    pub fn remote(mut self) -> Self {
        if !self.errors.iter().any(|e| e.status == 404) {
            self = self.error(
                404,
                "No device has this name (unregistered hosts are off: ssh.allow_unregistered_hosts)",
            );
        }
        self.error(
            413,
            "A command line is longer than the server sends to a device (ssh.max_command_bytes)",
        )
        .error(502, "A remote command failed (its stderr summarised)")
        .error(
            503,
            "The host cannot be reached or authenticated to (or the plugin is busy)",
        )
        .error(504, "A remote command (or the plugin) ran out of time")
    }

    /// The route may answer Server-Sent Events ([`Response::stream`](crate::Response::stream)
    /// with `sse`) instead of its JSON answer: the OpenAPI document lists both.
    pub fn event_stream(mut self) -> Self {
        self.event_stream = true;
        self
    }

    /// Declares 404 with `description` (the entity the path names does not exist).
    pub fn not_found(self, description: &str) -> Self {
        self.error(404, description)
    }

    /// The status of a success response (default 200).
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// A per-route quota such as `"60/minute"` (also `60/min`, `60/m`; second, minute, hour,
    /// day), on top of the global one. A quota that does not parse is reported by
    /// [`App::validate`](crate::App::validate).
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

    /// Runs as a job: the client gets `202 Accepted` with the job at once (or the answer
    /// inline when it asked `?wait=SECONDS` and the job finished in time), and the handler
    /// runs in the background, reporting progress with [`crate::jobs::progress`] and log
    /// lines with [`crate::jobs::log`]. What it returns becomes the job's result.
    pub fn long_running(mut self) -> Self {
        self.long_running = true;
        self
    }

    /// The request body is a byte stream (`application/octet-stream`), never buffered by the
    /// host: the handler feeds it to a remote command with [`crate::ssh::exec_with_body`].
    pub fn stream_body(mut self) -> Self {
        self.stream_body = true;
        self
    }

    /// The answer depends only on the request (path, validated query, the caller's key
    /// name) and the collections the handler reads with [`crate::collector`]: the host may
    /// then store it and replay it, without calling the handler, for the same request while
    /// every one of those collections is still the same cached result and within the max
    /// age the handler asked for. The host stores an answer only from a call that read
    /// nothing else (no `ssh`, `storage`, `registry`, `jobs`, clock or directory) and was
    /// served every collection from the cache, so a handler that does read something else
    /// stays correct, just uncached. `GET` routes only (checked by
    /// [`App::validate`](crate::App::validate)); a replay does not log what the handler
    /// would have logged.
    pub fn cacheable(mut self) -> Self {
        self.cacheable = true;
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
    pub fn params(&self) -> Vec<Param> {
        self.resolved_params().0
    }

    /// The declared parameters in order, and the problems of query types that do not fit a
    /// query.
    fn resolved_params(&self) -> (Vec<Param>, Vec<String>) {
        let mut params = Vec::new();
        let mut problems = Vec::new();
        for declared in &self.params {
            match declared {
                Declared::Param(p) => declare(&mut params, p.clone()),
                Declared::QueryOf(schema) => match crate::schema::query_params(&schema()) {
                    Ok(list) => list.into_iter().for_each(|p| declare(&mut params, p)),
                    Err(e) => problems.push(format!("route `{}`: {e}", self.operation_id)),
                },
            }
        }
        (params, problems)
    }

    /// The request body schema, after [`Route::body_schema`]'s closing of objects.
    pub fn request_body_schema(&self) -> Option<Value> {
        self.body_schema.as_ref().map(Schema::value)
    }

    /// The success response schema.
    pub fn success_schema(&self) -> Option<Value> {
        self.response_schema.as_ref().map(Schema::value)
    }

    /// Whether the route mutates state (explicit, or derived from the method).
    pub fn is_mutating(&self) -> bool {
        self.mutates.unwrap_or(self.method != Method::Get)
    }

    /// Mistakes the manifest model cannot carry: a quota given to [`Route::rate_limit`]
    /// that does not parse, a query type that does not fit a query.
    pub(crate) fn build_problems(&self) -> Vec<String> {
        let mut out = self.resolved_params().1;
        if let Some(quota) = self.rate_limit.as_deref()
            && let Err(e) = model::Quota::parse(quota)
        {
            out.push(format!("route `{}`: rate limit {e}", self.operation_id));
        }
        out
    }

    /// The route as the manifest model describes it (without a quota that does not parse:
    /// see [`App::validate`](crate::App::validate)).
    pub fn model(&self) -> model::Route {
        let rate_limit = self
            .rate_limit
            .as_deref()
            .and_then(|q| model::Quota::parse(q).ok());
        model::Route {
            method: self.method,
            path: self.path.clone(),
            operation_id: self.operation_id.clone(),
            summary: self.summary.clone(),
            description: self.description.clone(),
            params: self.params().into_iter().map(|p| p.0).collect(),
            request_body: self.request_body_schema().map(|s| s.to_string()),
            response: self.success_schema().map(|s| s.to_string()),
            success_status: self.status,
            rate_limit,
            mutates: self.is_mutating(),
            scope: self.scope,
            internal: self.internal,
            long_running: self.long_running,
            stream_body: self.stream_body,
            errors: self.errors.clone(),
            event_stream: self.event_stream,
            cacheable: self.cacheable,
        }
    }
}

impl PartialEq for Route {
    /// Routes are equal when they describe the same route (schemas compared by value) and
    /// report the same problems.
    fn eq(&self, other: &Self) -> bool {
        self.model() == other.model() && self.build_problems() == other.build_problems()
    }
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
