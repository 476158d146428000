//! A well-behaved test plugin exercising every part of the SDK the end-to-end tests need:
//! typed and defaulted parameters, a validated body, config, storage, the registry, per-route
//! rate limits, every error kind, logging and a parser.

use infrastructor_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// The storage collection `/docs/{id}` uses.
const DOCS: &str = "docs";

fn app() -> App {
    App::new("hello", env!("CARGO_PKG_VERSION"))
        .description("Says hello (end-to-end test plugin)")
        .mount("/hello")
        .capability("storage")
        .capability("registry-read")
        .route(
            Route::get("/ping", "ping")
                .summary("Answers pong")
                .response_schema(
                    json!({"type": "object", "properties": {"pong": {"type": "boolean"}}}),
                ),
            ping,
        )
        .route(
            Route::get("/version", "version")
                .summary("The plugin's own version")
                .description(
                    "Tells which build answered (the reload tests swap builds under load).",
                )
                .response_schema(json!({
                    "type": "object",
                    "properties": {"version": {"type": "string"}},
                    "required": ["version"]
                })),
            version,
        )
        .route(
            Route::get("/greet/{name}", "greet")
                .summary("Greets someone")
                .description("Echoes every parameter after the host's validation and defaults.")
                .param(
                    Param::path("name")
                        .pattern("^[a-z]+$")
                        .description("who to greet"),
                )
                .param(
                    Param::query("times")
                        .integer()
                        .min(1.0)
                        .max(5.0)
                        .default("1")
                        .description("how many greetings"),
                )
                .param(
                    Param::query("loud")
                        .boolean()
                        .default("false")
                        .description("shout"),
                )
                .param(
                    Param::query("style")
                        .allowed(&["plain", "fancy"])
                        .default("plain")
                        .description("greeting style"),
                )
                .param(
                    Param::query("ratio")
                        .number()
                        .min(0.0)
                        .max(1.0)
                        .description("a ratio"),
                ),
            greet,
        )
        .route(
            Route::post("/items", "create_item")
                .summary("Creates an item (echoes it)")
                .body_schema(json!({
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "count": {"type": "integer", "minimum": 0}
                    }
                }))
                .status(201),
            create_item,
        )
        .route(
            Route::get("/config", "get_config").summary("Returns the plugin's configuration"),
            get_config,
        )
        .route(
            Route::put("/docs/{id}", "put_doc")
                .summary("Stores a JSON document")
                .param(doc_id())
                .body_schema(json!({"type": "object", "additionalProperties": true})),
            put_doc,
        )
        .route(
            Route::get("/docs/{id}", "get_doc")
                .summary("Reads a stored JSON document")
                .param(doc_id()),
            get_doc,
        )
        .route(
            Route::delete("/docs/{id}", "delete_doc")
                .summary("Deletes a stored JSON document")
                .param(doc_id()),
            delete_doc,
        )
        .route(
            Route::get("/limited", "limited")
                .summary("A route limited to two calls a minute")
                .rate_limit("2/minute"),
            |_: &Request| Ok(Json(json!({"limited": true}))),
        )
        .route(
            Route::get("/devices/{hostname}", "get_device")
                .summary("Reads a device from the registry")
                .param(Param::path("hostname").description("registered hostname")),
            get_device,
        )
        .route(
            Route::get("/fail/{kind}", "fail")
                .summary("Returns the error named by `kind`")
                .param(Param::path("kind").allowed(&Error::KINDS)),
            fail,
        )
        .parser("words", parse_words)
}

fn doc_id() -> Param {
    Param::path("id")
        .pattern("^[A-Za-z0-9_-]+$")
        .max_len(64)
        .description("document id")
}

fn version(_: &Request) -> Result<Response, Error> {
    Ok(Json(json!({"version": env!("CARGO_PKG_VERSION")})).into())
}

fn ping(_: &Request) -> Result<Response, Error> {
    Ok(Response::bytes(
        "application/json",
        br#"{"pong":true}"#.to_vec(),
    ))
}

fn greet(req: &Request) -> Result<Response, Error> {
    let name = req.path("name")?;
    let times: i64 = req.query_as("times")?;
    let loud = req.query_bool("loud")?;
    let style = req.query_str("style").unwrap_or("plain");
    let ratio: Option<f64> = req.query_opt_as("ratio")?;
    let mut greeting = match style {
        "fancy" => format!("Salutations, {name}!"),
        _ => format!("Hello, {name}!"),
    };
    if loud {
        greeting = greeting.to_uppercase();
    }
    let greetings: Vec<&str> = (0..times).map(|_| greeting.as_str()).collect();
    log::info("greeting", &[("name", name), ("times", &times.to_string())]);
    Ok(Json(json!({
        "name": name,
        "times": times,
        "loud": loud,
        "style": style,
        "ratio": ratio,
        "greetings": greetings,
    }))
    .into())
}

/// The body of `POST /items`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
}

fn create_item(req: &Request) -> Result<Response, Error> {
    let item: Item = req.body()?;
    Ok(Json(item).with_status(201))
}

fn get_config(_: &Request) -> Result<Response, Error> {
    Ok(Json(config::value()?).into())
}

fn put_doc(req: &Request) -> Result<Response, Error> {
    let body: Value = req.body()?;
    let doc = storage::put_json(DOCS, req.path("id")?, &body)?;
    Ok(Json(json!({
        "id": doc.id,
        "body": doc.body,
        "created_at": doc.created_at,
        "updated_at": doc.updated_at,
    }))
    .into())
}

fn get_doc(req: &Request) -> Result<Response, Error> {
    let id = req.path("id")?;
    match storage::get_json::<Value>(DOCS, id)? {
        Some(doc) => Ok(Json(doc.body).into()),
        None => Err(Error::not_found(format!("no document `{id}`"))),
    }
}

fn delete_doc(req: &Request) -> Result<Response, Error> {
    let id = req.path("id")?;
    if storage::delete(DOCS, id)? {
        Ok(Response::empty(204))
    } else {
        Err(Error::not_found(format!("no document `{id}`")))
    }
}

fn get_device(req: &Request) -> Result<Response, Error> {
    let hostname = req.path("hostname")?;
    match registry::get(hostname)? {
        Some(device) => Ok(Json(device).into()),
        None => Err(Error::not_found(format!(
            "device `{hostname}` is not registered"
        ))),
    }
}

fn fail(req: &Request) -> Result<Response, Error> {
    let kind = req.path("kind")?;
    Err(Error::from_kind(kind, format!("asked to fail with {kind}"))
        .unwrap_or_else(|| Error::bad_request(format!("unknown error kind `{kind}`"))))
}

/// Counts the words of the first step's standard output: `{"words": n}`.
fn parse_words(outputs: &[StepOutput], _args: &Value) -> Result<Value, Error> {
    let first = outputs
        .first()
        .ok_or_else(|| Error::internal("words: no step output to count"))?
        .check()?;
    Ok(json!({"words": first.stdout_str().split_whitespace().count()}))
}

infrastructor_sdk::export_plugin!(app);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_is_valid() {
        assert_eq!(app().validate(), Ok(()));
        let m = app().manifest();
        assert_eq!(m.mount, "/hello");
        let (model, problems) = app().model();
        assert!(problems.is_empty(), "{problems:?}");
        let caps: Vec<String> = model.capabilities.iter().map(ToString::to_string).collect();
        assert_eq!(caps, ["storage", "registry-read"]);
        assert_eq!(m.capabilities.len(), 2);
        assert_eq!(m.parsers, ["words"]);
    }

    #[test]
    fn ping_pongs() {
        let r = app()
            .dispatch(&Request::new("ping", Method::Get, "/ping"))
            .expect("ok");
        assert_eq!(r.json::<Value>(), Ok(json!({"pong": true})));
    }

    #[test]
    fn greet_echoes_parsed_values() {
        let req = Request::new("greet", Method::Get, "/greet/bob")
            .with_path_param("name", "bob")
            .with_query("times", "2")
            .with_query("loud", "true")
            .with_query("style", "fancy")
            .with_query("ratio", "0.25");
        let r = app().dispatch(&req).expect("ok");
        assert_eq!(
            r.json::<Value>(),
            Ok(json!({
                "name": "bob", "times": 2, "loud": true, "style": "fancy", "ratio": 0.25,
                "greetings": ["SALUTATIONS, BOB!", "SALUTATIONS, BOB!"],
            }))
        );
    }

    #[test]
    fn items_are_echoed_with_201() {
        let req = Request::new("create_item", Method::Post, "/items")
            .with_body(r#"{"name":"a","count":3}"#);
        let r = app().dispatch(&req).expect("ok");
        assert_eq!(r.status(), 201);
        assert_eq!(r.json::<Value>(), Ok(json!({"name": "a", "count": 3})));
        let unknown = Request::new("create_item", Method::Post, "/items")
            .with_body(r#"{"name":"a","extra":1}"#);
        assert_eq!(
            app().dispatch(&unknown).expect_err("rejected").kind(),
            "bad_request"
        );
        let schema = app()
            .route_by_id("create_item")
            .and_then(|r| r.request_body_schema())
            .expect("schema");
        assert_eq!(schema["additionalProperties"], json!(false));
    }

    #[test]
    fn fail_returns_each_kind() {
        for kind in Error::KINDS {
            let req = Request::new("fail", Method::Get, "/fail").with_path_param("kind", kind);
            assert_eq!(app().dispatch(&req).expect_err("fails").kind(), kind);
        }
    }

    #[test]
    fn words_parser() {
        let outs = [StepOutput::new("uptime", 0, " one two\tthree\nfour ")];
        assert_eq!(parse_words(&outs, &Value::Null), Ok(json!({"words": 4})));
        assert_eq!(
            parse_words(&[StepOutput::new("e", 0, "")], &Value::Null),
            Ok(json!({"words": 0}))
        );
        assert_eq!(
            parse_words(&[], &Value::Null).expect_err("none").kind(),
            "internal"
        );
        let failed = [StepOutput::new("x", 1, "").with_stderr("nope")];
        assert_eq!(
            parse_words(&failed, &Value::Null)
                .expect_err("failed")
                .kind(),
            "upstream"
        );
        let via_app = app().parse("words", &outs, &Value::Null);
        assert_eq!(via_app, Ok(json!({"words": 4})));
    }
}
