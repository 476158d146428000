//! The plugin description ([`App`]): routes with their handlers, scripts, parsers, periodic
//! collectors and capabilities, checked against the shared manifest rules, and the dispatch of
//! requests to handlers.

use std::fmt;

use infrastructor_manifest as model;
use serde_json::Value;

use crate::periodic::Collector;
use crate::route::Route;
use crate::script::Script;
use crate::{Error, Request, Response, StepOutput};

/// A request handler, as [`App::route`] stores it.
type Handler = Box<dyn Fn(&Request) -> Result<Response, Error> + Send + Sync>;

/// An output parser, as [`App::parser`] and [`App::typed_parser`] store it: it answers the
/// JSON text the host receives.
type Parser = Box<dyn Fn(&[StepOutput], &Value) -> Result<String, Error> + Send + Sync>;

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
        self.scripts.push(Script(model::Script {
            name: name.to_owned(),
            body: body.to_owned(),
            programs: programs.iter().map(|p| (*p).to_owned()).collect(),
        }));
        self
    }

    /// Registers an output parser the host calls (in a separate instance) on collected
    /// outputs; `args` is the collect request's `parser_args` (`null` when empty).
    pub fn parser<F>(mut self, name: &str, parser: F) -> Self
    where
        F: Fn(&[StepOutput], &Value) -> Result<Value, Error> + Send + Sync + 'static,
    {
        let parser = move |outputs: &[StepOutput], args: &Value| {
            parser(outputs, args).map(|value| value.to_string())
        };
        self.parsers.push((name.to_owned(), Box::new(parser)));
        self
    }

    /// Registers an output parser like [`App::parser`] whose result is any serialisable
    /// type, written straight to the JSON text the host receives (in the type's field order)
    /// without building a [`Value`] first: for parsers of large outputs, where that tree
    /// costs more than the parsing.
    pub fn typed_parser<F, T>(mut self, name: &str, parser: F) -> Self
    where
        F: Fn(&[StepOutput], &Value) -> Result<T, Error> + Send + Sync + 'static,
        T: serde::Serialize,
    {
        let parser = move |outputs: &[StepOutput], args: &Value| {
            let parsed = parser(outputs, args)?;
            serde_json::to_string(&parsed)
                .map_err(|e| Error::internal(format!("the parsed output is not JSON: {e}")))
        };
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
        self.routes().find(|r| r.operation_id() == operation_id)
    }

    /// The operation ids of the mounted routes (not [`Route::internal`]) that declare no
    /// success response ([`Route::returns`], [`Route::returns_text`]): the OpenAPI document
    /// can only say "some JSON" of their answers. A unit test asserting it is empty keeps a
    /// plugin's document typed.
    pub fn untyped_routes(&self) -> Vec<String> {
        self.routes()
            .map(Route::model)
            .filter(|r| !r.internal && r.response.is_none())
            .map(|r| r.operation_id)
            .collect()
    }

    /// The declared scripts.
    pub fn scripts(&self) -> &[Script] {
        &self.scripts
    }

    /// The declared capabilities.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// The plugin as the manifest model describes it, plus the problems that keep a part of
    /// the description out of the model (a capability or quota that does not parse).
    pub fn model(&self) -> (model::Manifest, Vec<String>) {
        let mut problems = Vec::new();
        let routes = self.routes.iter().map(|(r, _)| r.model()).collect();
        problems.extend(self.routes.iter().flat_map(|(r, _)| r.build_problems()));
        let mut capabilities = Vec::with_capacity(self.capabilities.len());
        for text in &self.capabilities {
            match model::Capability::parse(text) {
                Ok(c) => capabilities.push(c),
                Err(e) => problems.push(format!("capability `{text}`: {e}")),
            }
        }
        let manifest = model::Manifest {
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            mount: self.mount_path(),
            routes,
            scripts: self.scripts.iter().map(|s| s.0.clone()).collect(),
            parsers: self.parsers.iter().map(|(n, _)| n.clone()).collect(),
            collectors: self.collectors.iter().map(Collector::model).collect(),
            capabilities,
        };
        (manifest, problems)
    }

    /// Checks the description against the manifest rules the host applies at load (the same
    /// function, [`infrastructor_manifest::Manifest::validate`]), and returns every problem
    /// found: duplicate operation ids, routes or names, undeclared or misplaced path
    /// parameters, contradictory parameter constraints or defaults, missing summaries, GET
    /// bodies, bad quotas or capabilities, scripts running programs no `exec:` capability
    /// covers, collectors naming unknown parsers or scripts.
    ///
    /// [`export_plugin!`](crate::export_plugin) calls it when the host asks for the manifest
    /// and traps (with the problems in the host's log) if it fails; call it in a unit test to
    /// find out earlier.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let (manifest, mut problems) = self.model();
        if let Err(found) = manifest.validate() {
            problems.extend(found.0);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The manifest the host reads at load, in the plugin API's types. Parts that
    /// [`App::validate`] reports as unparsable are left out.
    pub fn manifest(
        &self,
    ) -> crate::bindings::exports::infrastructor::plugin::plugin::PluginManifest {
        crate::manifest_wit::manifest(self.model().0)
    }

    /// The route serving `operation_id`.
    #[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
    pub(crate) fn route_of(&self, operation_id: &str) -> Option<&Route> {
        self.routes
            .iter()
            .find(|(r, _)| r.operation_id() == operation_id)
            .map(|(r, _)| r)
    }

    /// Runs the handler of the request's operation id, as it is, without the host's
    /// validation and defaults (use `App::call` of the `testing` feature for those). Usable natively in unit tests with a
    /// [`Request`] built by [`Request::new`].
    pub fn dispatch(&self, request: &Request) -> Result<Response, Error> {
        let op = request.operation_id();
        match self.routes.iter().find(|(r, _)| r.operation_id() == op) {
            Some((_, handler)) => handler(request),
            None => Err(Error::internal(format!(
                "plugin `{}` has no operation `{op}`",
                self.name
            ))),
        }
    }

    /// Runs the parser `name` on step outputs with JSON arguments; answers the parsed value.
    pub fn parse(&self, name: &str, outputs: &[StepOutput], args: &Value) -> Result<Value, Error> {
        let text = self.parse_to_text(name, outputs, args)?;
        serde_json::from_str(&text)
            .map_err(|e| Error::internal(format!("parser `{name}` wrote no JSON: {e}")))
    }

    /// Runs the parser `name` like [`App::parse`]; answers the JSON text the host receives.
    pub fn parse_to_text(
        &self,
        name: &str,
        outputs: &[StepOutput],
        args: &Value,
    ) -> Result<String, Error> {
        match self.parsers.iter().find(|(n, _)| n == name) {
            Some((_, parser)) => parser(outputs, args),
            None => Err(Error::internal(format!(
                "plugin `{}` has no parser `{name}`",
                self.name
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::bindings::exports::infrastructor::plugin::plugin as wit;
    use crate::bindings::infrastructor::plugin::collector as wit_collector;
    use crate::collector::Step;
    use crate::{Json, Method, Param, ParamKind, ParamLocation, Scope};
    use serde_json::json;

    fn ok(_: &Request) -> Result<Response, Error> {
        Ok(Response::empty(204))
    }

    #[test]
    fn path_params_are_declared_automatically_and_replaceable() {
        let r = Route::get("/a/{x}/b/{y}", "op")
            .param(Param::path("y").integer().description("why"))
            .param(Param::query("q"));
        let params = r.params();
        let names: Vec<_> = params.iter().map(|p| (p.name(), p.location())).collect();
        assert_eq!(
            names,
            [
                ("x", ParamLocation::Path),
                ("y", ParamLocation::Path),
                ("q", ParamLocation::Query)
            ]
        );
        assert_eq!(params[1].kind(), ParamKind::Integer);
        assert!(params[0].is_required() && params[1].is_required());
        assert!(!params[2].is_required());
    }

    #[test]
    fn mutates_and_scope_defaults() {
        assert!(!Route::get("/", "a").is_mutating());
        assert!(Route::post("/", "b").is_mutating());
        assert!(Route::delete("/", "c").is_mutating());
        assert!(!Route::post("/", "d").mutates(false).is_mutating());
        assert!(Route::get("/", "e").mutates(true).is_mutating());
        let w = Route::put("/", "f").scope(Scope::Admin).model();
        assert_eq!(w.scope, Some(Scope::Admin));
        assert_eq!(Route::put("/", "g").model().scope, None);
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
                .capability("exec:echo *")
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
        assert!(matches!(
            &m.capabilities[..],
            [wit::Capability::Storage, wit::Capability::Exec(p)] if p.program == "echo"
        ));
        assert_eq!(m.parsers, ["words"]);
        assert_eq!(m.scripts.len(), 1);
        assert_eq!(m.scripts[0].programs, ["echo"]);
        let greet = &m.routes[0];
        assert_eq!(greet.method, wit::Method::Get);
        assert_eq!(greet.operation_id, "greet");
        assert!(!greet.mutates);
        assert!(matches!(
            greet.rate_limit,
            Some(wit::Quota {
                requests: 60,
                per_secs: 60
            })
        ));
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
        assert!(matches!(
            &m.collectors[0].steps[0].command,
            wit_collector::Command::Script(c) if c.name == "probe" && c.args == ["x"]
        ));
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
            .route(
                Route::post("/j", "job")
                    .summary("s")
                    .long_running()
                    .internal()
                    .param(Param::query("wait").integer()),
                ok,
            )
            .route(
                Route::get("/u", "upload_get").summary("s").stream_body(),
                ok,
            )
            .route(
                Route::put("/u", "upload")
                    .summary("s")
                    .stream_body()
                    .long_running()
                    .body_schema(json!({"type": "object"})),
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
            "default `zero` must be an integer",
            "minimum/maximum need an integer",
            "minimum 5 is greater than maximum 1",
            "default `c` must be one of: a, b",
            "required parameter cannot have a default",
            "rate limit quota `lots`",
            "GET routes take no body",
            "`wait` is the host's query parameter on long-running routes",
            "an internal route already runs as a job",
            "GET routes take no body to stream",
            "a streamed body is bytes; it cannot also have a JSON schema",
            "a streamed body exists only while the request lasts",
            "declares no programs",
            "unknown parser `missing`",
            "has no steps",
            "zero interval",
        ] {
            assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
        }
    }

    #[test]
    fn validate_rejects_an_invalid_pattern_naming_route_and_parameter() {
        let ok = |_: &Request| Ok(Json(json!({})));
        let app = App::new("t", "0.1.0").route(
            Route::get("/x/{name}", "get_x")
                .summary("s")
                .param(Param::path("name").pattern("[a-z")),
            ok,
        );
        let problems = app.validate().expect_err("an unclosed class is no regex");
        let text = problems.join("\n");
        assert!(text.contains("get_x"), "{text}");
        assert!(text.contains("name"), "{text}");
        assert!(text.contains("bad pattern"), "{text}");
        let fine = App::new("t", "0.1.0").route(
            Route::get("/x/{name}", "get_x")
                .summary("s")
                .param(Param::path("name").pattern("[a-z]+")),
            ok,
        );
        assert_eq!(fine.validate(), Ok(()));
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

    #[test]
    fn typed_parsers_write_their_fields_in_order_and_their_errors_stay_errors() {
        #[derive(serde::Serialize)]
        struct Listed {
            zebra: Vec<u32>,
            count: usize,
        }
        let app = App::new("t", "0.1.0").typed_parser("list", |outs, _| {
            let out = StepOutput::find(outs, "ls")?;
            if out.exit_code != 0 {
                return Err(Error::upstream("ls failed"));
            }
            let zebra: Vec<u32> = out
                .stdout_str()
                .split_whitespace()
                .map(|w| w.parse().map_err(|_| Error::upstream(format!("`{w}`"))))
                .collect::<Result<_, _>>()?;
            Ok(Listed {
                count: zebra.len(),
                zebra,
            })
        });
        let outputs = [StepOutput::new("ls", 0, "3 1 2")];
        let text = app
            .parse_to_text("list", &outputs, &Value::Null)
            .expect("parsed");
        // The struct's order, not sorted keys: `zebra` before `count`.
        assert_eq!(text, r#"{"zebra":[3,1,2],"count":3}"#);
        assert_eq!(
            app.parse("list", &outputs, &Value::Null).expect("value"),
            json!({"zebra": [3, 1, 2], "count": 3})
        );
        let failed = app
            .parse_to_text("list", &[StepOutput::new("ls", 2, "")], &Value::Null)
            .expect_err("exit 2");
        assert_eq!(failed.kind(), "upstream");
        let odd = app
            .parse_to_text("list", &[StepOutput::new("ls", 0, "1 x")], &Value::Null)
            .expect_err("not a number");
        assert!(odd.to_string().contains("`x`"), "{odd}");
    }
}
