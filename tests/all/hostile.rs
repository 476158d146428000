//! The hostile-value corpus, permanent: every path and query parameter and every string
//! body field of every plugin operation in `/api/openapi.json` (so a new route is swept
//! without touching this file) gets values built to break out of an argv element: shell
//! metacharacters, command substitution, newlines, NUL, option injection, path traversal,
//! globs, very long values and unicode. Each value tries to create its own canary file
//! (`CANARY_<n>`) in a directory the device can write, or in the remote command's working
//! directory. After the sweep (and after every job it started has ended) no canary exists
//! anywhere the test controls, the server never answered 500, every request was answered,
//! and every error is the error envelope the document describes (statuses an operation
//! answers without listing them are printed; their conformance is schemathesis' job).
//!
//! Host routes (no `x-plugin` in the document: status, plugins, jobs, docs) are skipped:
//! they read the server's own state and never run a remote command.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use infrastructor_tests::testbed::{Sshd, SshdOptions, ssh_command};
use infrastructor_tests::{TestServer, server_with_devices, url_escape};
use serde_json::{Map, Value, json};

/// The device every operation is pointed at.
const DEVICE: &str = "dev";
/// A second name for the same device, for the registry's own writes (update, delete), so
/// that a request that succeeds there cannot take the device away from the rest.
const SPARE: &str = "spare";
/// Requests in flight at once (sshd's `MaxSessions` is 10 per connection).
const CONCURRENCY: usize = 6;
/// The most requests one sweep makes: the (operation, field) × corpus product is sampled
/// down to this, deterministically, every field still getting several values.
const MAX_REQUESTS: usize = 4000;
/// Values per (operation, field) at least, whatever the product.
const MIN_PER_FIELD: usize = 6;
/// How long one answer may take (a command that hangs is a failure too).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The canary token of value `n`.
fn canary(n: usize) -> String {
    format!("CANARY_{n}")
}

/// The corpus: each template's `{T}` becomes a command creating the value's canary in
/// `dir` (absolute), `{R}` its canary in the working directory (relative), `{D}` the
/// directory and `{C}` the bare canary name.
fn corpus(dir: &Path) -> Vec<String> {
    const TEMPLATES: &[&str] = &[
        "$({T})",
        "`{T}`",
        ";{T}",
        "x;{T};#",
        "|{T}",
        "x|{T}",
        "&{T}",
        "x&&{T}",
        "x||{T}",
        "\n{T}",
        "x\n{T}\n",
        "\r\n{T}",
        "x\0;{T}",
        "'$({T})'",
        "\"$({T})\"",
        "x'; {T}; echo '",
        "x\"; {T}; echo \"",
        "x${IFS}&&${IFS}{T}",
        "$({R})",
        "`{R}`",
        ";{R}",
        ">{D}/{C}",
        "x >{D}/{C}",
        ">>{D}/{C}",
        "-o{D}/{C}",
        "--output={D}/{C}",
        "--log-file={D}/{C}",
        "-o ProxyCommand={T}",
        "-oProxyCommand={T}",
        "--help",
        "-h",
        "--version",
        "../../../../../..{D}/{C}",
        "../../etc/passwd",
        "/etc/passwd",
        "*",
        "{D}/*",
        "?",
        "[a-z]*",
        "~",
        "$HOME",
        "${PATH}",
        "%0a{T}",
        "\\\n{T}",
        "ü$({T})",
        "\u{202e}$({T})",
        "😀;{T}",
        "\u{ff1b}{T}",
        "{\"a\":\"$({T})\"}",
        "",
        " ",
        "LONG$({T})",
    ];
    let dir = dir.display().to_string();
    TEMPLATES
        .iter()
        .enumerate()
        .map(|(n, t)| {
            let c = canary(n);
            let v = t
                .replace("{T}", &format!("touch {dir}/{c}"))
                .replace("{R}", &format!("touch {c}"))
                .replace("{D}", &dir)
                .replace("{C}", &c);
            match v.strip_prefix("LONG") {
                Some(rest) => format!("{}{rest}", "A".repeat(10_000)),
                None => v,
            }
        })
        .collect()
}

/// A harmless value for a field that is not under attack: the device for anything naming a
/// host, else the first candidate the field's schema accepts.
fn benign_string(name: &str, schema: &Value, device: &str) -> String {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first
            .as_str()
            .map_or_else(|| first.to_string(), str::to_string);
    }
    if let Some(default) = schema["default"].as_str() {
        return default.to_string();
    }
    let lower = name.to_ascii_lowercase();
    let hosty = ["host", "device", "source", "target", "destination"]
        .iter()
        .any(|h| lower.contains(h));
    let mut candidates = vec![];
    if hosty {
        candidates.push(device.to_string());
    }
    candidates.extend(
        [
            "web",
            "x",
            "test",
            "tank",
            "tank/data",
            "tank/data@s1",
            "tank@s1",
            "a1",
            "1",
            "_template",
            "sonarr",
            "127.0.0.1",
            "/tmp",
            "/srv",
            "2026-01-01",
            "1h",
            "root",
            "sonarr.subdomain.conf",
            "busybox",
            "echo hi",
            "sda",
            "/srv/app/docker-compose.yml",
        ]
        .map(str::to_string),
    );
    let pattern = schema["pattern"]
        .as_str()
        .and_then(|p| regex::Regex::new(p).ok());
    let fits = |v: &str| {
        let len = v.chars().count() as u64;
        pattern.as_ref().is_none_or(|p| p.is_match(v))
            && schema["minLength"].as_u64().is_none_or(|m| len >= m)
            && schema["maxLength"].as_u64().is_none_or(|m| len <= m)
    };
    candidates
        .into_iter()
        .find(|c| fits(c))
        .unwrap_or_else(|| "x".to_string())
}

/// A harmless JSON value of `schema`'s type (objects: their required properties).
fn benign_value(name: &str, schema: &Value, root: &Value, device: &str, depth: usize) -> Value {
    let schema = resolve(schema, root);
    if depth > 6 {
        return Value::Null;
    }
    if let Some(v) = schema.get("const") {
        return v.clone();
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    if let Some(v) = schema.get("default").filter(|v| !v.is_null()) {
        return v.clone();
    }
    // The first alternative that is not null: a whole schema, or (beside `properties`)
    // the `required` list it adds.
    let alternative = ["anyOf", "oneOf"].iter().find_map(|key| {
        schema[*key].as_array().and_then(|a| {
            a.iter()
                .find(|s| resolve(s, root)["type"] != "null")
                .or(a.first())
        })
    });
    let kind = type_of(schema);
    if let Some(first) = alternative
        && kind.is_empty()
    {
        return benign_value(name, first, root, device, depth + 1);
    }
    match kind {
        "integer" | "number" => json!(schema["minimum"].as_f64().map_or(1, |m| m.max(1.0) as i64)),
        "boolean" => json!(false),
        "array" => json!([]),
        "object" => {
            let mut out = Map::new();
            let required: BTreeSet<&str> = [Some(schema), alternative.map(|a| resolve(a, root))]
                .into_iter()
                .flatten()
                .filter_map(|s| s["required"].as_array())
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if let Some(props) = schema["properties"].as_object() {
                for (k, s) in props {
                    if required.contains(k.as_str()) {
                        out.insert(k.clone(), benign_value(k, s, root, device, depth + 1));
                    }
                }
            }
            Value::Object(out)
        }
        "null" => Value::Null,
        _ => json!(benign_string(name, schema, device)),
    }
}

/// The schema's type (the first non-null one of a list).
fn type_of(schema: &Value) -> &str {
    match &schema["type"] {
        Value::String(t) => t,
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "",
    }
}

/// `schema` with a local `$ref` (`#/$defs/X`, `#/definitions/X`) followed.
fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..8 {
        match s["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => s = root.pointer(pointer).unwrap_or(&Value::Null),
            None => break,
        }
    }
    s
}

/// Every string-typed field of a body schema, as a path of property names and `[]` for
/// array items (to a bounded depth).
fn string_fields(schema: &Value, root: &Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
    let schema = resolve(schema, root);
    if at.len() > 4 {
        return;
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for s in schema[key].as_array().into_iter().flatten() {
            string_fields(s, root, at.clone(), out);
        }
    }
    match type_of(schema) {
        "string" if !out.contains(&at) => out.push(at),
        "array" => {
            let mut item = at;
            item.push("[]".into());
            string_fields(&schema["items"], root, item, out);
        }
        "object" => {
            for (k, s) in schema["properties"].as_object().into_iter().flatten() {
                let mut next = at.clone();
                next.push(k.clone());
                string_fields(s, root, next, out);
            }
        }
        _ => {}
    }
}

/// `body` with `value` put at `path` (creating objects and one-element arrays on the way).
fn put_at(body: &mut Value, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *body = value;
        return;
    };
    if first == "[]" {
        if !body.is_array() || body.as_array().is_some_and(Vec::is_empty) {
            *body = json!([null]);
        }
        if let Some(item) = body.as_array_mut().and_then(|a| a.first_mut()) {
            put_at(item, rest, value);
        }
        return;
    }
    if !body.is_object() {
        *body = json!({});
    }
    if let Some(obj) = body.as_object_mut() {
        put_at(obj.entry(first.clone()).or_insert(Value::Null), rest, value);
    }
}

/// Where one request puts its hostile value.
#[derive(Debug, Clone)]
enum Field {
    Path(String),
    Query(String),
    Body(Vec<String>),
}

/// One operation of the document.
#[derive(Debug, Clone)]
struct Operation {
    method: reqwest::Method,
    path: String,
    params: Vec<(String, String, Value)>,
    body: Option<Value>,
    stream_body: bool,
    documented: BTreeSet<String>,
}

impl Operation {
    /// The fields under attack: every parameter and string body field.
    fn fields(&self) -> Vec<Field> {
        let mut out: Vec<Field> = self
            .params
            .iter()
            .map(|(name, location, _)| match location.as_str() {
                "path" => Field::Path(name.clone()),
                _ => Field::Query(name.clone()),
            })
            .collect();
        if let Some(schema) = &self.body {
            let mut paths = Vec::new();
            string_fields(schema, schema, Vec::new(), &mut paths);
            out.extend(paths.into_iter().map(Field::Body));
        }
        out
    }

    /// The device name this operation's benign host fields get.
    fn device(&self) -> &'static str {
        let registry_write = self.path.starts_with("/api/devices/{")
            && !matches!(self.method, reqwest::Method::GET | reqwest::Method::POST);
        if registry_write { SPARE } else { DEVICE }
    }

    /// The request with `value` in `field` (none: the baseline) and benign values everywhere
    /// else.
    fn request(
        &self,
        s: &TestServer,
        field: Option<&Field>,
        value: &str,
    ) -> reqwest::RequestBuilder {
        let device = self.device();
        let mut path = self.path.clone();
        let mut query: Vec<(String, String)> = Vec::new();
        for (name, location, schema) in &self.params {
            let hostile = matches!(field, Some(Field::Path(n) | Field::Query(n)) if n == name);
            let v = if hostile {
                value.to_string()
            } else if location == "path" || schema.get("default").is_none() {
                match type_of(schema) {
                    "integer" | "number" => schema["minimum"]
                        .as_f64()
                        .map_or(1, |m| m.max(1.0) as i64)
                        .to_string(),
                    "boolean" => "false".into(),
                    _ => benign_string(name, schema, device),
                }
            } else {
                continue;
            };
            if location == "path" {
                path = path.replace(&format!("{{{name}}}"), &url_escape(&v));
            } else {
                query.push((name.clone(), v));
            }
        }
        let mut request = s
            .client
            .request(self.method.clone(), s.url(&path))
            .query(&query)
            .timeout(REQUEST_TIMEOUT);
        if self.stream_body {
            request = request
                .header("content-type", "application/octet-stream")
                .body(Vec::<u8>::new());
        } else if let Some(schema) = &self.body {
            let mut body = benign_value("body", schema, schema, device, 0);
            if let Some(Field::Body(at)) = field {
                put_at(&mut body, at, json!(value));
            }
            request = request.json(&body);
        }
        request
    }
}

/// What a request got: (status, content type, JSON body or null), or why there was no
/// answer.
type Answer = Result<(u16, String, Value), String>;

/// The plugin operations of the server's document.
async fn operations(s: &TestServer) -> Vec<Operation> {
    let (status, doc) = s.get("/api/openapi.json").await;
    assert_eq!(status, 200, "{doc}");
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            // Host routes (no `x-plugin`) never reach a device.
            if op.get("x-plugin").is_none() {
                continue;
            }
            let method: reqwest::Method = method.to_uppercase().parse().expect("method");
            let params = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    (
                        p["name"].as_str().expect("name").to_string(),
                        p["in"].as_str().expect("in").to_string(),
                        p["schema"].clone(),
                    )
                })
                .collect();
            let content = &op["requestBody"]["content"];
            out.push(Operation {
                method,
                path: path.clone(),
                params,
                body: content.get("application/json").map(|c| c["schema"].clone()),
                stream_body: content.get("application/octet-stream").is_some(),
                documented: op["responses"]
                    .as_object()
                    .map(|r| r.keys().cloned().collect())
                    .unwrap_or_default(),
            });
        }
    }
    out
}

/// Every file under `dir` whose name starts with `CANARY_`.
fn canaries_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if e.file_name().to_string_lossy().starts_with("CANARY_") {
                found.push(path.clone());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            }
        }
    }
    found
}

/// Every file directly in `dir` whose name starts with `CANARY_`.
fn canaries_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("CANARY_"))
        .map(|e| e.path())
        .collect()
}

/// The device itself can create canaries where the test looks (so an empty result below
/// means something): by absolute path in the canary directory, and by relative path in the
/// remote commands' working directory, which it returns.
fn control(device: &Sshd, canary_dir: &Path) -> PathBuf {
    let out = ssh_command(device)
        .arg(format!(
            "touch {}/CANARY_control && touch CANARY_control_relative && pwd",
            canary_dir.display()
        ))
        .output()
        .expect("ssh runs");
    assert!(out.status.success(), "the control command failed: {out:?}");
    let cwd = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let found: Vec<PathBuf> = canaries_under(canary_dir)
        .into_iter()
        .chain(canaries_in(&cwd))
        .collect();
    assert_eq!(
        found.len(),
        2,
        "the controls are not where the test looks: {found:?}"
    );
    for f in found {
        std::fs::remove_file(&f).expect("remove control");
    }
    cwd
}

/// Waits (bounded) until no job of the server is queued or running.
async fn jobs_settle(s: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let mut busy = 0;
        for state in ["queued", "running"] {
            let (_, jobs) = s.get(&format!("/api/jobs?state={state}&limit=1")).await;
            busy += jobs["total"].as_u64().unwrap_or(0);
        }
        if busy == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_hostile_value_reaches_a_shell() {
    let started = Instant::now();
    let device = Sshd::start(SshdOptions::default()).expect("sshd");
    let canary_dir = tempfile::tempdir().expect("canary dir");
    let remote_cwd = control(&device, canary_dir.path());

    let dir = tempfile::tempdir().expect("server dir");
    let s = server_with_devices(
        &[],
        &[(DEVICE, &device, false), (SPARE, &device, false)],
        dir.path(),
        |_| {},
    )
    .await;
    let values = corpus(canary_dir.path());
    let ops = operations(&s).await;
    assert!(!ops.is_empty(), "no plugin operation in the document");

    // The baseline: every operation with benign values only. An operation whose baseline is
    // refused by validation (422) cannot show whether a hostile value in one field reaches
    // a command, so the benign values must pass wherever the route allows.
    let mut refused = Vec::new();
    for op in &ops {
        let (status, body) = s.send(op.request(&s, None, "")).await;
        if status == 422 {
            refused.push(format!(
                "{} {}: {}",
                op.method, op.path, body["error"]["message"]
            ));
        }
    }
    println!(
        "hostile sweep: {} of {} operations pass validation with benign values; refused: {refused:#?}",
        ops.len() - refused.len(),
        ops.len()
    );

    // (operation, field) pairs × values, sampled deterministically: each pair gets a run of
    // consecutive corpus values starting at a different place, so every value is sent many
    // times and every field gets several.
    let pairs: Vec<(usize, Field)> = ops
        .iter()
        .enumerate()
        .flat_map(|(i, op)| op.fields().into_iter().map(move |f| (i, f)))
        .collect();
    let n_values = values.len();
    let per_pair = (MAX_REQUESTS / pairs.len().max(1)).clamp(MIN_PER_FIELD, n_values);
    let plan: Vec<(usize, Field, usize)> = pairs
        .iter()
        .enumerate()
        .flat_map(|(k, (op, field))| {
            let start = k * 7 % n_values;
            (0..per_pair).map(move |j| (*op, field.clone(), (start + j) % n_values))
        })
        .collect();
    println!(
        "hostile sweep: {} operations, {} fields, {} values, {} requests ({per_pair} per field)",
        ops.len(),
        pairs.len(),
        values.len(),
        plan.len()
    );

    let answers: Vec<(usize, Field, usize, Answer)> = futures::stream::iter(plan)
        .map(|(op, field, v)| {
            let request = ops[op].request(&s, Some(&field), &values[v]);
            async move {
                let answer = match request.send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let kind = r
                            .headers()
                            .get("content-type")
                            .and_then(|c| c.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        let bytes = r.bytes().await.unwrap_or_default();
                        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                        Ok((status, kind, body))
                    }
                    Err(e) => Err(e.to_string()),
                };
                (op, field, v, answer)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    jobs_settle(&s).await;

    // The error envelope as the document describes it: every error carries its required
    // fields.
    let (_, doc) = s.get("/api/openapi.json").await;
    let envelope_fields: Vec<String> = doc
        .pointer("/components/schemas/ErrorEnvelope/properties/error/required")
        .and_then(Value::as_array)
        .expect("the document describes the error envelope")
        .iter()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut problems: Vec<String> = Vec::new();
    // Statuses an operation answered without listing them; reported, not failed: status
    // conformance is the schemathesis sweep's job.
    let mut undocumented: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    for (op, field, v, answer) in &answers {
        let o = &ops[*op];
        let what = || format!("{} {} {field:?} = value #{v}", o.method, o.path);
        match answer {
            Err(e) => problems.push(format!("{}: no answer: {e}", what())),
            Ok((status, kind, body)) => {
                *statuses.entry(*status).or_default() += 1;
                if *status == 500 {
                    problems.push(format!("{}: 500 {body}", what()));
                }
                if !o.documented.contains(&status.to_string()) {
                    undocumented
                        .entry(format!("{} {}", o.method, o.path))
                        .or_default()
                        .insert(*status);
                }
                if *status >= 400 {
                    let e = &body["error"];
                    let missing: Vec<&String> = envelope_fields
                        .iter()
                        .filter(|f| e.get(f.as_str()).is_none_or(Value::is_null))
                        .collect();
                    if !missing.is_empty() || !e["code"].is_string() || !e["message"].is_string() {
                        problems.push(format!(
                            "{}: {status} without the error envelope (missing {missing:?}): {body}",
                            what()
                        ));
                    }
                } else if kind.starts_with("application/json") && body.is_null() {
                    problems.push(format!(
                        "{}: {status} with JSON that does not parse",
                        what()
                    ));
                }
            }
        }
    }
    println!("hostile sweep: statuses not listed by their operation: {undocumented:#?}");
    let canaries: Vec<PathBuf> = canaries_under(canary_dir.path())
        .into_iter()
        .chain(canaries_under(device.dir()))
        .chain(canaries_under(dir.path()))
        .chain(canaries_in(&remote_cwd))
        .collect();
    println!(
        "hostile sweep: {} answers {statuses:?} in {:.1} s",
        answers.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        canaries.is_empty(),
        "canaries created (a value reached a shell): {canaries:?}"
    );
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "{} problems, first 40:\n{}",
        problems.len(),
        problems
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
