//! Test plugin exercising the host's remote imports: `ssh.exec` with arbitrary argv and
//! stdin, `ssh.run-script`, the collector (single-flight, cache, parameters), streamed
//! responses (argv and script), long-running routes (jobs with progress, log lines and
//! cancel), host-to-host pipes and streamed request bodies.

use infrastructor_sdk::prelude::*;
use serde::Deserialize;

const HOST: &str = "^[a-zA-Z0-9._:-]+$";

fn app() -> App {
    App::new("remote", env!("CARGO_PKG_VERSION"))
        .description("Remote execution test plugin")
        .mount("/remote")
        .capability("exec:printf **")
        .capability("exec:sh -c * sh **")
        .capability("exec:cat")
        .capability("exec:sleep *")
        .capability("exec:hostname")
        // Declared, never granted by the tests: the `forbidden` script needs it, so running
        // that script must be refused at run time (plugin API 0.2.0 requires every script
        // program to be declared; the operator's grant decides).
        .capability("exec:tee **")
        .capability("collector")
        .script("args", "printf '%s\\0' \"$@\"", &["printf"])
        // Runs `cat` (declared and granted) and `tee` (never declared): always refused. Were it
        // run, it would create the file named by its argument.
        .script("forbidden", "cat /dev/null | tee \"$1\"", &["cat", "tee"])
        // Runs `printf` and `cat`: allowed only while both are granted.
        .script("pair", "printf '%s\\0' \"$@\" | cat", &["printf", "cat"])
        // A streamed script: a line every 200 ms tagged with `$1`.
        .script(
            "ticker",
            "i=0; while true; do echo \"$1 $i\"; i=$((i+1)); sleep 0.2; done",
            &["sleep"],
        )
        .parser("first_line", first_line)
        .parser("stdout", stdout)
        .collector(
            Collector::new("hostname", "hostname", Duration::from_secs(1), "first_line")
                .step(Step::argv("hostname", &["hostname"])),
        )
        .route(
            Route::post("/{host}/exec", "exec")
                .summary("Runs argv (echoes exit code and both outputs as bytes)")
                .param(Param::path("host").pattern(HOST))
                .body_schema(json!({
                    "type": "object",
                    "required": ["argv"],
                    "properties": {
                        "argv": {"type": "array", "items": {"type": "string"}},
                        "stdin": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}},
                        "timeout_ms": {"type": "integer", "minimum": 1}
                    }
                }))
                .mutates(false),
            exec,
        )
        .route(
            Route::post("/{host}/script", "script")
                .summary("Runs the `args` script with the given arguments")
                .param(Param::path("host").pattern(HOST))
                .body_schema(json!({
                    "type": "object",
                    "required": ["args"],
                    "properties": {
                        "name": {"type": "string"},
                        "args": {"type": "array", "items": {"type": "string"}}
                    }
                }))
                .mutates(false),
            script,
        )
        .route(
            collect_params(Route::get("/{host}/collect", "collect"))
                .summary("Collects `hostname` through the collector"),
            collect,
        )
        .route(
            collect_params(Route::get("/{host}/cached", "cached"))
                .cacheable()
                .summary("`collect`, declared cacheable (the host may replay its answer)"),
            collect,
        )
        .route(
            Route::get("/{host}/cached-exec", "cached_exec")
                .cacheable()
                .summary("Declared cacheable, but also runs a command: never replayed")
                .param(Param::path("host").pattern(HOST))
                .param(Param::query("max_age").integer().min(0.0).default("300")),
            cached_exec,
        )
        .route(
            Route::post("/{host}/collect-script", "collect_script")
                .summary("Collects a declared script's output through the collector")
                .param(Param::path("host").pattern(HOST))
                .body_schema(json!({
                    "type": "object",
                    "required": ["name", "args"],
                    "properties": {
                        "name": {"type": "string"},
                        "args": {"type": "array", "items": {"type": "string"}}
                    }
                }))
                .mutates(false),
            collect_script,
        )
        .route(
            Route::get("/{host}/follow", "follow")
                .summary("Streams a line every 200 ms as Server-Sent Events")
                .param(Param::path("host").pattern(HOST)),
            follow,
        )
        .route(
            Route::get("/{host}/follow-script", "follow_script")
                .summary("Streams the `ticker` script's lines as Server-Sent Events")
                .param(Param::path("host").pattern(HOST))
                .param(Param::query("tag").pattern("^[a-z0-9-]{1,32}$").default("tick")),
            follow_script,
        )
        .route(
            Route::post("/jobs/steps", "job_steps")
                .summary("A job of N steps, each a remote `sleep`, with progress and log lines")
                .long_running()
                .body_schema(json!({
                    "type": "object",
                    "required": ["host", "steps"],
                    "properties": {
                        "host": {"type": "string", "pattern": HOST},
                        "steps": {"type": "integer", "minimum": 0, "maximum": 100},
                        "sleep": {"type": "string", "pattern": "^[0-9.]{1,8}$"},
                        "fail_at": {"type": "integer", "minimum": 0}
                    }
                })),
            job_steps,
        )
        .route(
            Route::post("/{host}/jobs/hold", "job_hold")
                .summary("A job that runs `sleep SECONDS` remotely until it ends or is cancelled")
                .param(Param::path("host").pattern(HOST))
                .long_running()
                .body_schema(json!({
                    "type": "object",
                    "required": ["seconds"],
                    "properties": {"seconds": {"type": "string", "pattern": "^[0-9.]{1,12}$"}}
                })),
            job_hold,
        )
        .route(
            Route::post("/jobs/pipe", "job_pipe")
                .summary("A job piping one host's command into another's")
                .long_running()
                .body_schema(json!({
                    "type": "object",
                    "required": ["source", "sink"],
                    "properties": {
                        "source": {"$ref": "#/$defs/end"},
                        "sink": {"$ref": "#/$defs/end"},
                        "expected_bytes": {"type": "integer", "minimum": 0},
                        "timeout_ms": {"type": "integer", "minimum": 0}
                    },
                    "$defs": {"end": {
                        "type": "object",
                        "required": ["host", "argv"],
                        "properties": {
                            "host": {"type": "string", "pattern": HOST},
                            "argv": {"type": "array", "items": {"type": "string"}, "minItems": 1}
                        }
                    }}
                })),
            job_pipe,
        )
        .route(
            Route::put("/{host}/upload", "upload")
                .summary("Streams the body into `sha256sum` (or into the file `to`, whole or not at all)")
                .param(Param::path("host").pattern(HOST))
                .param(Param::query("to").pattern("^/[A-Za-z0-9._/-]{1,200}$"))
                .stream_body(),
            upload,
        )
}

fn follow_script(req: &Request) -> Result<Response, Error> {
    let tag = req.query_str("tag").unwrap_or("tick");
    Ok(Response::stream_script(
        req.path("host")?,
        "ticker",
        &[tag],
        true,
    ))
}

#[derive(Deserialize)]
struct StepsBody {
    host: String,
    steps: u64,
    sleep: Option<String>,
    fail_at: Option<u64>,
}

fn job_steps(req: &Request) -> Result<Response, Error> {
    let body: StepsBody = req.body()?;
    let sleep = body.sleep.as_deref().unwrap_or("0.2");
    for i in 0..body.steps {
        if jobs::is_cancelled() {
            return Err(Error::conflict("cancelled"));
        }
        jobs::progress(i, Some(body.steps), "steps", &format!("step {i}"));
        jobs::log(log::Level::Info, &format!("step {i} of {}", body.steps));
        if body.fail_at == Some(i) {
            return Err(Error::upstream(format!("step {i} failed on purpose")));
        }
        ssh::exec(&body.host, &["sleep", sleep], None, Duration::from_secs(60))?.check("sleep")?;
    }
    jobs::progress(body.steps, Some(body.steps), "steps", "done");
    Ok(Json(json!({"steps": body.steps, "host": body.host})).into())
}

#[derive(Deserialize)]
struct HoldBody {
    seconds: String,
}

fn job_hold(req: &Request) -> Result<Response, Error> {
    let body: HoldBody = req.body()?;
    jobs::log(log::Level::Info, "holding");
    let out = ssh::exec(
        req.path("host")?,
        &["sleep", &body.seconds],
        None,
        Duration::from_secs(3600),
    )?;
    Ok(Json(json!({"exit_code": out.exit_code})).into())
}

#[derive(Deserialize)]
struct PipeEndBody {
    host: String,
    argv: Vec<String>,
}

#[derive(Deserialize)]
struct PipeBody {
    source: PipeEndBody,
    sink: PipeEndBody,
    expected_bytes: Option<u64>,
    timeout_ms: Option<u64>,
}

fn job_pipe(req: &Request) -> Result<Response, Error> {
    let body: PipeBody = req.body()?;
    let end = |e: &PipeEndBody| {
        let argv: Vec<&str> = e.argv.iter().map(String::as_str).collect();
        ssh::PipeEnd::argv(&e.host, &argv)
    };
    let out = ssh::pipe(
        end(&body.source),
        end(&body.sink),
        body.expected_bytes,
        body.timeout_ms.map(Duration::from_millis),
    )?
    .check("pipe")?;
    Ok(Json(json!({
        "bytes": out.bytes,
        "source_exit": out.source.exit_code,
        "sink_exit": out.sink.exit_code,
        "duration_ms": out.duration.as_millis() as u64,
    }))
    .into())
}

fn upload(req: &Request) -> Result<Response, Error> {
    let host = req.path("host")?;
    let command = match req.query_str("to") {
        Some(path) => Command::Argv(
            // Complete files only: a killed upload leaves at most the `.part`.
            [
                "sh",
                "-c",
                "cat > \"$1.part\" && mv \"$1.part\" \"$1\"",
                "sh",
                path,
            ]
            .map(String::from)
            .to_vec(),
        ),
        None => Command::Argv(
            ["sh", "-c", "sha256sum | cut -c1-64", "sh"]
                .map(String::from)
                .to_vec(),
        ),
    };
    let out = ssh::exec_with_body(host, command, None)?;
    Ok(Json(json!({
        "exit_code": out.exit_code,
        "stdout": out.stdout_str().trim(),
        "stderr": out.stderr_str(),
    }))
    .into())
}

#[derive(Deserialize)]
struct ExecBody {
    argv: Vec<String>,
    stdin: Option<Vec<u8>>,
    timeout_ms: Option<u64>,
}

fn exec(req: &Request) -> Result<Response, Error> {
    let body: ExecBody = req.body()?;
    let argv: Vec<&str> = body.argv.iter().map(String::as_str).collect();
    let timeout = Duration::from_millis(body.timeout_ms.unwrap_or(30_000));
    let out = ssh::exec(req.path("host")?, &argv, body.stdin.as_deref(), timeout)?;
    Ok(Json(json!({
        "exit_code": out.exit_code,
        "stdout": out.stdout,
        "stderr": out.stderr_str(),
    }))
    .into())
}

#[derive(Deserialize)]
struct ScriptBody {
    name: Option<String>,
    args: Vec<String>,
}

fn script(req: &Request) -> Result<Response, Error> {
    let body: ScriptBody = req.body()?;
    let args: Vec<&str> = body.args.iter().map(String::as_str).collect();
    let name = body.name.as_deref().unwrap_or("args");
    let out = ssh::run_script(
        req.path("host")?,
        name,
        &args,
        None,
        Duration::from_secs(30),
    )?;
    Ok(Json(json!({"exit_code": out.exit_code, "stdout": out.stdout})).into())
}

fn collect(req: &Request) -> Result<Response, Error> {
    let host = req.path("host")?;
    let variant = req.query_str("variant").unwrap_or("a");
    let max_age: u64 = req.query_as("max_age")?;
    let collected = collector::collect(
        CollectRequest::new("hostname", host, "first_line")
            .param("variant", variant)
            .step(Step::argv("hostname", &["hostname"]))
            .max_age(Duration::from_secs(max_age))
            .force_refresh(req.query_bool("force")?),
    )?;
    Ok(Json(json!({
        "data": collected.data,
        "collection_metadata": {
            "cache_key": collected.cache_key,
            "collected_at": collected.collected_at,
            "cache_hit": collected.cache_hit,
            "duration_ms": collected.duration.as_millis() as u64,
        }
    }))
    .into())
}

/// The parameters of the `collect` handler.
fn collect_params(route: Route) -> Route {
    route
        .param(Param::path("host").pattern(HOST))
        .param(Param::query("variant").default("a"))
        .param(Param::query("force").boolean().default("false"))
        .param(Param::query("max_age").integer().min(0.0).default("300"))
}

/// A cached collection plus a fresh command run: the answer changes on every call.
fn cached_exec(req: &Request) -> Result<Response, Error> {
    let host = req.path("host")?;
    let max_age: u64 = req.query_as("max_age")?;
    let collected = collector::collect(
        CollectRequest::new("hostname", host, "first_line")
            .param("variant", "exec")
            .step(Step::argv("hostname", &["hostname"]))
            .max_age(Duration::from_secs(max_age)),
    )?;
    let now = ssh::exec(
        host,
        &["sh", "-c", "date +%s%N", "sh"],
        None,
        Duration::from_secs(30),
    )?;
    Ok(Json(json!({"data": collected.data, "now": now.stdout_str().trim()})).into())
}

fn collect_script(req: &Request) -> Result<Response, Error> {
    let body: ScriptBody = req.body()?;
    let name = body.name.as_deref().unwrap_or("args");
    let args: Vec<&str> = body.args.iter().map(String::as_str).collect();
    let collected = collector::collect(
        CollectRequest::new("script", req.path("host")?, "stdout")
            .param("name", name)
            .step(Step::script("out", name, &args))
            .force_refresh(true),
    )?;
    Ok(Json(json!({ "data": collected.data })).into())
}

fn follow(req: &Request) -> Result<Response, Error> {
    Ok(Response::stream(
        req.path("host")?,
        &[
            "sh",
            "-c",
            "i=0; while true; do echo \"line $i\"; i=$((i+1)); sleep 0.2; done",
            "sh",
            "follow-marker",
        ],
        true,
    ))
}

fn first_line(outputs: &[StepOutput], _args: &Value) -> Result<Value, Error> {
    let out = StepOutput::find(outputs, "hostname")?;
    out.check()?;
    let line = out
        .stdout_str()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    Ok(json!({ "value": line }))
}

fn stdout(outputs: &[StepOutput], _args: &Value) -> Result<Value, Error> {
    let out = StepOutput::find(outputs, "out")?;
    Ok(json!({ "exit_code": out.exit_code, "stdout": out.stdout }))
}

infrastructor_sdk::export_plugin!(app);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_is_valid() {
        assert!(app().validate().is_ok());
    }

    #[test]
    fn parser_takes_the_first_line() {
        let out = [StepOutput::new("hostname", 0, "box\nrest\n")];
        assert_eq!(
            first_line(&out, &Value::Null).expect("parse")["value"],
            "box"
        );
    }
}
