//! The unified data collector (the `collector` import): cached, single-flight, persisted
//! collections of remote data, parsed by the plugin's own parser.

use std::borrow::Cow;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;
use crate::bindings::exports::infrastructor::plugin::plugin as wit_export;
use crate::bindings::infrastructor::plugin::types::Pair;
use crate::host::collector as wit;
use crate::ssh::{millis, strings};

/// The default timeout of a [`Step`].
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(30);

pub use infrastructor_manifest::Command;

/// One named remote step; its output reaches the parser under `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    name: String,
    command: Command,
    timeout: Duration,
}

impl Step {
    /// A step running `argv`.
    pub fn argv(name: &str, argv: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            command: Command::Argv(strings(argv)),
            timeout: DEFAULT_STEP_TIMEOUT,
        }
    }

    /// A step running the declared script `script` with positional `args`.
    pub fn script(name: &str, script: &str, args: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            command: Command::Script {
                name: script.to_owned(),
                args: strings(args),
            },
            timeout: DEFAULT_STEP_TIMEOUT,
        }
    }

    /// Sets the step's timeout (default [`DEFAULT_STEP_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The step's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the step runs.
    pub fn command(&self) -> &Command {
        &self.command
    }

    /// The step as the manifest model describes it.
    pub fn model(&self) -> infrastructor_manifest::Step {
        infrastructor_manifest::Step {
            name: self.name.clone(),
            command: self.command.clone(),
            timeout_ms: millis(self.timeout),
        }
    }

    fn to_wit(&self) -> wit::Step {
        crate::manifest_wit::step(self.model())
    }
}

/// What to collect: build with [`CollectRequest::new`] and hand to [`collect`].
#[derive(Debug, Clone, PartialEq)]
pub struct CollectRequest {
    data_type: String,
    target: String,
    params: Vec<(String, String)>,
    steps: Vec<Step>,
    parser: String,
    parser_args: Value,
    max_age: Duration,
    force_refresh: bool,
}

impl CollectRequest {
    /// Collects `data_type` (`containers`, `system_metrics`…) from `target` and parses it
    /// with this plugin's parser `parser`. Defaults: no params, no parser args, max age 0
    /// (always collect), no forced refresh.
    pub fn new(data_type: &str, target: &str, parser: &str) -> Self {
        Self {
            data_type: data_type.to_owned(),
            target: target.to_owned(),
            params: Vec::new(),
            steps: Vec::new(),
            parser: parser.to_owned(),
            parser_args: Value::Null,
            max_age: Duration::ZERO,
            force_refresh: false,
        }
    }

    /// Adds a parameter that changes the output. With plugin, data type and target, the
    /// parameters form the cache key: requests with different parameters never share a
    /// result, so every input that shapes the steps or the parse must be a parameter.
    pub fn param(mut self, name: &str, value: impl ToString) -> Self {
        self.params.push((name.to_owned(), value.to_string()));
        self
    }

    /// Adds a step.
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// JSON handed to the parser unchanged (its second argument).
    pub fn parser_args(mut self, args: Value) -> Self {
        self.parser_args = args;
        self
    }

    /// Serves a cached result younger than `max_age`.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Bypasses the cache (a concurrent identical run is still shared).
    pub fn force_refresh(mut self, force: bool) -> Self {
        self.force_refresh = force;
        self
    }

    fn to_wit(&self) -> wit::CollectRequest {
        wit::CollectRequest {
            data_type: self.data_type.clone(),
            target: self.target.clone(),
            params: self
                .params
                .iter()
                .map(|(name, value)| Pair {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            steps: self.steps.iter().map(Step::to_wit).collect(),
            parser: self.parser.clone(),
            parser_args: if self.parser_args.is_null() {
                String::new()
            } else {
                self.parser_args.to_string()
            },
            max_age_secs: u32::try_from(self.max_age.as_secs()).unwrap_or(u32::MAX),
            force_refresh: self.force_refresh,
        }
    }
}

/// A collection's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Collected<T> {
    /// The parser's output.
    pub data: T,
    /// The full cache key.
    pub cache_key: String,
    /// RFC 3339 time the data was collected.
    pub collected_at: String,
    /// How long the remote steps and the parse took.
    pub duration: Duration,
    /// Whether the result came from the cache.
    pub cache_hit: bool,
}

/// The `collection_metadata` object of a route serving a collection.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct CollectionMetadata {
    /// The data type collected (`containers`, `system_metrics`…).
    pub data_type: String,
    /// The full cache key.
    pub cache_key: String,
    /// RFC 3339 time the data was collected.
    pub collected_at: String,
    /// How long the remote steps and the parse took, in milliseconds.
    pub collection_duration_ms: u64,
    /// Whether the result came from the cache.
    pub cache_hit: bool,
    /// Whether the request forced a new run.
    pub force_refresh: bool,
}

impl<T> Collected<T> {
    /// The `collection_metadata` object routes answer with: data type, cache key, collection
    /// time and duration, whether the cache served it and whether the request forced a run.
    pub fn metadata(&self, data_type: &str, force_refresh: bool) -> CollectionMetadata {
        CollectionMetadata {
            data_type: data_type.to_owned(),
            cache_key: self.cache_key.clone(),
            collected_at: self.collected_at.clone(),
            collection_duration_ms: u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
            cache_hit: self.cache_hit,
            force_refresh,
        }
    }
}

/// The JSON answer of a route serving a collection: the parser's object plus the fields the
/// route adds, the collection time as `timestamp` and a `collection_metadata` object. Build
/// it with [`Collected::answer`]; it converts into a [`Response`](crate::Response).
#[derive(Debug, Clone, PartialEq)]
pub struct CollectedAnswer {
    body: serde_json::Map<String, Value>,
}

impl CollectedAnswer {
    /// Sets a field of the answer (replacing the parser's field of that name).
    pub fn field(mut self, name: &str, value: impl serde::Serialize) -> Self {
        self.body.insert(
            name.to_owned(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    /// Drops the `timestamp` field (for answers that never carried one).
    pub fn without_timestamp(mut self) -> Self {
        self.body.remove("timestamp");
        self
    }

    /// The answer so far.
    pub fn body(&self) -> &serde_json::Map<String, Value> {
        &self.body
    }
}

impl From<CollectedAnswer> for crate::Response {
    fn from(a: CollectedAnswer) -> Self {
        crate::Json(Value::Object(a.body)).into()
    }
}

impl Collected<Value> {
    /// The answer of a route serving this collection as `data_type`: the parser's JSON
    /// object (a non-object is kept under `data`), `timestamp` (the collection time) and
    /// `collection_metadata` ([`Collected::metadata`]); add fields with
    /// [`CollectedAnswer::field`].
    pub fn answer(self, data_type: &str, force_refresh: bool) -> CollectedAnswer {
        let metadata = self.metadata(data_type, force_refresh);
        let mut body = match self.data {
            Value::Object(map) => map,
            other => {
                let mut map = serde_json::Map::new();
                map.insert("data".to_owned(), other);
                map
            }
        };
        body.insert("timestamp".to_owned(), Value::String(self.collected_at));
        body.insert(
            "collection_metadata".to_owned(),
            serde_json::to_value(metadata).unwrap_or(Value::Null),
        );
        CollectedAnswer { body }
    }

    /// Converts the data into `T`; an [`Error::Internal`] if the parser's output does not fit.
    pub fn into_typed<T: DeserializeOwned>(self) -> Result<Collected<T>, Error> {
        let data = serde_json::from_value(self.data)
            .map_err(|e| Error::internal(format!("parser output has an unexpected shape: {e}")))?;
        Ok(Collected {
            data,
            cache_key: self.cache_key,
            collected_at: self.collected_at,
            duration: self.duration,
            cache_hit: self.cache_hit,
        })
    }
}

/// Collects, or serves from the cache. Errors as [`crate::ssh::exec`], plus the parser's own.
pub fn collect(request: CollectRequest) -> Result<Collected<Value>, Error> {
    let c = collect_raw(request)?;
    let data = serde_json::from_str(&c.data)
        .map_err(|e| Error::internal(format!("collector returned invalid JSON: {e}")))?;
    Ok(Collected {
        data,
        cache_key: c.cache_key,
        collected_at: c.collected_at,
        duration: c.duration,
        cache_hit: c.cache_hit,
    })
}

/// [`collect`] without parsing the data: the parser's JSON output as text. For routes that
/// pass large results through: borrow the parts they need with
/// `serde_json::value::RawValue` instead of building a whole [`Value`] tree.
pub fn collect_raw(request: CollectRequest) -> Result<Collected<String>, Error> {
    let c = wit::collect(&request.to_wit())?;
    Ok(Collected {
        data: c.data,
        cache_key: c.cache_key,
        collected_at: c.collected_at,
        duration: Duration::from_millis(c.duration_ms),
        cache_hit: c.cache_hit,
    })
}

/// One remote step's output, as handed to a parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutput {
    /// The step's name.
    pub name: String,
    /// Its exit status.
    pub exit_code: i32,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

impl StepOutput {
    /// A step output with empty stderr, for tests.
    pub fn new(name: &str, exit_code: i32, stdout: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.to_owned(),
            exit_code,
            stdout: stdout.into(),
            stderr: Vec::new(),
        }
    }

    /// Sets standard error.
    pub fn with_stderr(mut self, stderr: impl Into<Vec<u8>>) -> Self {
        self.stderr = stderr.into();
        self
    }

    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    /// Standard error as text (invalid UTF-8 replaced).
    pub fn stderr_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }

    /// Whether the step exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// `Ok(self)` when the step succeeded, else an [`Error::Upstream`] naming the step, its
    /// exit code and a summary of its stderr.
    pub fn check(&self) -> Result<&Self, Error> {
        if self.success() {
            Ok(self)
        } else {
            Err(Error::upstream(format!(
                "step `{}` failed with exit code {}: {}",
                self.name,
                self.exit_code,
                crate::ssh::summarise(&self.stderr_str())
            )))
        }
    }

    /// The output of the step called `name`; an [`Error::Internal`] when there is none.
    pub fn find<'a>(outputs: &'a [StepOutput], name: &str) -> Result<&'a StepOutput, Error> {
        outputs
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| Error::internal(format!("no output for step `{name}`")))
    }
}

impl From<wit_export::StepOutput> for StepOutput {
    fn from(o: wit_export::StepOutput) -> Self {
        Self {
            name: o.name,
            exit_code: o.exit_code,
            stdout: o.stdout,
            stderr: o.stderr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_to_wit() {
        let r = CollectRequest::new("containers", "web1", "ps")
            .param("all", true)
            .step(Step::argv("ps", &["docker", "ps", "-a"]).timeout(Duration::from_secs(5)))
            .step(Step::script("probe", "probe", &["x"]))
            .parser_args(json!({"all": true}))
            .max_age(Duration::from_secs(30))
            .force_refresh(true)
            .to_wit();
        assert_eq!(r.params[0].name, "all");
        assert_eq!(r.params[0].value, "true");
        assert_eq!(r.steps[0].timeout_ms, 5000);
        assert!(matches!(&r.steps[0].command, wit::Command::Argv(a) if a.len() == 3));
        assert!(
            matches!(&r.steps[1].command, wit::Command::Script(c) if c.name == "probe" && c.args == ["x"])
        );
        assert_eq!(r.steps[1].timeout_ms, 30_000);
        assert_eq!(r.parser_args, r#"{"all":true}"#);
        assert_eq!(r.max_age_secs, 30);
        assert!(r.force_refresh);
        assert_eq!(CollectRequest::new("a", "b", "c").to_wit().parser_args, "");
    }

    #[test]
    fn step_outputs() {
        let outs = [
            StepOutput::new("a", 0, "x"),
            StepOutput::new("b", 1, "").with_stderr("nope"),
        ];
        assert_eq!(
            StepOutput::find(&outs, "a").map(|o| o.stdout_str().into_owned()),
            Ok("x".into())
        );
        assert!(StepOutput::find(&outs, "c").is_err());
        assert!(outs[0].check().is_ok());
        assert_eq!(
            outs[1].check().expect_err("failed").message(),
            "step `b` failed with exit code 1: nope"
        );
    }

    #[test]
    fn answers_carry_the_data_the_fields_and_the_metadata() {
        let c = Collected {
            data: json!({"a": 1, "b": 2}),
            cache_key: "k".into(),
            collected_at: "t".into(),
            duration: Duration::from_millis(7),
            cache_hit: false,
        };
        let a = c
            .clone()
            .answer("kind", true)
            .field("b", 3)
            .field("host", "h");
        let body = Value::Object(a.body().clone());
        assert_eq!(body["a"], 1);
        assert_eq!(body["b"], 3, "fields replace the parser's");
        assert_eq!(body["host"], "h");
        assert_eq!(body["timestamp"], "t");
        assert_eq!(
            body["collection_metadata"],
            serde_json::to_value(c.metadata("kind", true)).expect("metadata")
        );
        assert!(
            c.clone()
                .answer("kind", false)
                .without_timestamp()
                .body()
                .get("timestamp")
                .is_none()
        );
        let wrapped = Collected {
            data: json!([1]),
            ..c
        }
        .answer("kind", false);
        assert_eq!(wrapped.body()["data"], json!([1]));
    }

    #[test]
    fn typed_collected() {
        let c = Collected {
            data: json!([1, 2]),
            cache_key: "k".into(),
            collected_at: "t".into(),
            duration: Duration::ZERO,
            cache_hit: true,
        };
        assert_eq!(
            c.clone().into_typed::<Vec<u8>>().expect("typed").data,
            [1, 2]
        );
        assert_eq!(
            c.into_typed::<String>().expect_err("shape").kind(),
            "internal"
        );
    }
}
