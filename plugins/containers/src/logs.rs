//! `GET /api/containers/{hostname}/{container}/logs`: `docker logs` with both streams kept
//! apart (`stdout`, `stderr`) and merged in time order (`lines`, each tagged with its
//! stream), or, with `follow=true`, streamed as Server-Sent Events (stdout lines as `data:`,
//! stderr lines as `event: stderr`) until the client disconnects, which stops the remote
//! `docker logs -f`.

use infrastructor_sdk::prelude::*;

use crate::docker::failure;
use crate::inventory::require_container;
use crate::parse::logs::{LogLine, parse_logs};
use serde::Serialize;

/// Which stream a log line came from.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// A log line of the merged list, tagged with its stream.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TaggedLine {
    /// The stream.
    pub stream: Stream,
    /// RFC 3339 time docker stamped (with `timestamps`); `null` otherwise.
    pub timestamp: Option<String>,
    /// The line.
    pub message: String,
}

/// The options a logs answer was read with.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LogOptions {
    /// `--since`, when given.
    pub since: Option<String>,
    /// `--until`, when given.
    pub until: Option<String>,
    /// `--tail`.
    pub tail: u32,
    /// `--timestamps`.
    pub timestamps: bool,
}

/// A container's logs (`GET /{hostname}/{container}/logs` without `follow`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContainerLogs {
    /// Standard output's lines.
    #[schemars(with = "Vec<LogLine>")]
    pub stdout: Value,
    /// Standard error's lines.
    #[schemars(with = "Vec<LogLine>")]
    pub stderr: Value,
    /// Both streams' lines, each tagged, in time order with `timestamps`.
    #[schemars(with = "Vec<TaggedLine>")]
    pub lines: Value,
    /// How many lines there are in all.
    pub line_count: usize,
    /// The device.
    pub hostname: String,
    /// The container as named in the path.
    pub container_name: String,
    /// The options the logs were read with.
    pub options: LogOptions,
    /// How the logs were collected.
    pub collection_metadata: CollectionMetadata,
}

/// Data type of log collections.
pub const CONTAINER_LOGS: &str = "container_logs";

/// The options of one logs request.
struct Options<'a> {
    since: Option<&'a str>,
    until: Option<&'a str>,
    tail: u32,
    timestamps: bool,
}

impl Options<'_> {
    /// `docker logs` argv for `container` (without `--follow`).
    fn argv(&self, container: &str, follow: bool) -> Vec<String> {
        let mut argv = vec!["docker".to_string(), "logs".to_string()];
        if follow {
            argv.push("--follow".into());
        }
        argv.push(format!("--tail={}", self.tail));
        if self.timestamps {
            argv.push("--timestamps".into());
        }
        if let Some(s) = self.since {
            argv.push(format!("--since={s}"));
        }
        if let Some(u) = self.until {
            argv.push(format!("--until={u}"));
        }
        argv.push("--".into());
        argv.push(container.to_string());
        argv
    }
}

/// Parser `container_logs`: both streams → `{stdout, stderr, lines}`.
pub fn parse(outputs: &[StepOutput], args: &Value) -> Result<Value, Error> {
    let out = StepOutput::find(outputs, "logs")?;
    let name = args["container"].as_str().unwrap_or("");
    if out.exit_code != 0 {
        return Err(failure("logs", name, out.exit_code, &out.stderr_str()));
    }
    let timestamps = args["timestamps"].as_bool().unwrap_or(false);
    let upstream = |e: crate::parse::ParseError| Error::upstream(e.to_string());
    let stdout = parse_logs(&out.stdout_str(), timestamps).map_err(upstream)?;
    let stderr = parse_logs(&out.stderr_str(), timestamps).map_err(upstream)?;
    let mut lines: Vec<TaggedLine> = stdout
        .iter()
        .map(|l| (l, Stream::Stdout))
        .chain(stderr.iter().map(|l| (l, Stream::Stderr)))
        .map(|(l, stream)| TaggedLine {
            stream,
            timestamp: l.timestamp.clone(),
            message: l.message.clone(),
        })
        .collect();
    if timestamps {
        // RFC 3339 with the same zone and precision sorts as text; stable keeps arrival order.
        lines.sort_by(|a, b| {
            a.timestamp
                .as_deref()
                .unwrap_or("")
                .cmp(b.timestamp.as_deref().unwrap_or(""))
        });
    }
    Ok(json!({
        "stdout": stdout,
        "stderr": stderr,
        "lines": lines,
        "line_count": lines.len(),
    }))
}

/// `GET /{hostname}/{container}/logs`.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let hostname = req.path("hostname")?;
    let container = req.path("container")?;
    let opts = Options {
        since: req.query_str("since").filter(|s| !s.is_empty()),
        until: req.query_str("until").filter(|s| !s.is_empty()),
        tail: req.query_as("tail")?,
        timestamps: req.query_bool("timestamps")?,
    };
    if req.query_bool("follow")? {
        require_container(hostname, container)?;
        let argv = opts.argv(container, true);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        return Ok(Response::stream(hostname, &argv, true));
    }
    let live = req.query_bool("live")?;
    let timeout: u64 = req.query_as("timeout")?;
    let argv = opts.argv(container, false);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let collected = collector::collect(
        CollectRequest::new(CONTAINER_LOGS, hostname, CONTAINER_LOGS)
            .param("container", container)
            .param("since", opts.since.unwrap_or(""))
            .param("until", opts.until.unwrap_or(""))
            .param("tail", opts.tail)
            .param("timestamps", opts.timestamps)
            .step(Step::argv("logs", &argv).timeout(Duration::from_secs(timeout)))
            .parser_args(json!({"container": container, "timestamps": opts.timestamps}))
            .max_age(Duration::from_secs(5))
            .force_refresh(live),
    )?;
    let metadata = collected.metadata(CONTAINER_LOGS, live);
    let mut data = collected.data;
    Ok(Json(ContainerLogs {
        stdout: data["stdout"].take(),
        stderr: data["stderr"].take(),
        lines: data["lines"].take(),
        line_count: data["line_count"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0),
        hostname: hostname.to_owned(),
        container_name: container.to_owned(),
        options: LogOptions {
            since: opts.since.map(str::to_owned),
            until: opts.until.map(str::to_owned),
            tail: opts.tail,
            timestamps: opts.timestamps,
        },
        collection_metadata: metadata,
    })
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_single_arguments_before_the_name() {
        let o = Options {
            since: Some("10m"),
            until: None,
            tail: 50,
            timestamps: true,
        };
        assert_eq!(
            o.argv("web", true),
            [
                "docker",
                "logs",
                "--follow",
                "--tail=50",
                "--timestamps",
                "--since=10m",
                "--",
                "web"
            ]
        );
    }

    #[test]
    fn both_streams_are_kept_and_merged_in_time_order() {
        let out = StepOutput::new(
            "logs",
            0,
            "2024-01-01T00:00:01.000000000Z out one\n2024-01-01T00:00:03.000000000Z out two\n",
        )
        .with_stderr("2024-01-01T00:00:02.000000000Z err one\n");
        let v = parse(&[out], &json!({"container": "c", "timestamps": true})).expect("parse");
        let order: Vec<&str> = v["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .filter_map(|l| l["message"].as_str())
            .collect();
        assert_eq!(order, ["out one", "err one", "out two"]);
        assert_eq!(v["stderr"].as_array().map(Vec::len), Some(1));
        let missing = StepOutput::new("logs", 1, "").with_stderr("Error: No such container: c");
        let e = parse(&[missing], &json!({"container": "c"})).expect_err("404");
        assert_eq!(e.status(), 404);
    }
}
