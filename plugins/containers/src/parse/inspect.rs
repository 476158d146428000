//! `docker inspect [--type container] <container>`: a JSON array of objects. The first
//! object is returned whole (as docker printed it) with a small typed summary of its
//! identity and `State`. Docker prints `[]` (and an error on stderr) for an unknown name:
//! that is `Ok(None)`, "no such container".
//!
//! Without `--type container`, a name that matches an image, network or volume inspects
//! that instead; an object without a `State` is therefore rejected as not a container.

use serde::Serialize;
use serde_json::Value;

use super::ParseError;

const CMD: &str = "docker inspect";

/// Go's zero `time.Time`, which docker prints for "never" (`FinishedAt` of a running
/// container, `StartedAt` of one never started).
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The fields of a container's inspect output most callers need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct InspectSummary {
    /// The full container id (`Id`).
    pub id: String,
    /// The name without docker's leading `/` (`Name`).
    pub name: String,
    /// The image as the container was created from (`Config.Image`, `nginx:1.27`); the
    /// image id when there is no `Config.Image`.
    pub image: String,
    /// The image id (`Image`, `sha256:…`).
    pub image_id: String,
    /// When the container was created (`Created`, RFC 3339).
    pub created: Option<String>,
    /// `State.Status`: `created`, `running`, `paused`, `restarting`, `removing`, `exited`,
    /// `dead` (derived from the booleans on old dockers that lack it).
    pub status: String,
    /// `State.Running` (also true while paused or restarting).
    pub running: bool,
    /// `State.Paused`.
    pub paused: bool,
    /// `State.Restarting`.
    pub restarting: bool,
    /// `State.OOMKilled`.
    pub oom_killed: bool,
    /// `State.Dead`.
    pub dead: bool,
    /// `State.ExitCode` (0 while running).
    pub exit_code: Option<i64>,
    /// `State.Pid` of the main process; `None` when not running (docker prints 0).
    pub pid: Option<u32>,
    /// `State.StartedAt`; `None` when never started.
    pub started_at: Option<String>,
    /// `State.FinishedAt`; `None` when it never stopped.
    pub finished_at: Option<String>,
    /// `RestartCount`.
    pub restart_count: u64,
}

/// One container's `docker inspect` output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerInspect {
    /// The typed summary.
    pub summary: InspectSummary,
    /// The whole object as docker printed it.
    pub raw: Value,
}

fn string_at(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn flag(v: &Value, pointer: &str) -> bool {
    v.pointer(pointer).and_then(Value::as_bool).unwrap_or(false)
}

fn time(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && *t != ZERO_TIME)
        .map(str::to_string)
}

/// Parses `docker inspect` of a container. `[]` (no such container) is `Ok(None)`; empty
/// output, output that is not a JSON array, a first element that is not an object with an
/// `Id`, or one without a `State` object (an image, network or volume) are errors.
pub fn parse_inspect(text: &str) -> Result<Option<ContainerInspect>, ParseError> {
    if text.trim().is_empty() {
        return Err(ParseError::new(CMD, "empty output"));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| ParseError::new(CMD, format!("not JSON: {e}")))?;
    let Value::Array(mut items) = value else {
        return Err(ParseError::new(CMD, "not a JSON array"));
    };
    if items.is_empty() {
        return Ok(None);
    }
    let raw = items.swap_remove(0);
    if !raw.is_object() {
        return Err(ParseError::new(CMD, "the first element is not an object"));
    }
    let id = string_at(&raw, "/Id");
    if id.is_empty() {
        return Err(ParseError::new(CMD, "the object has no \"Id\""));
    }
    let Some(state) = raw.get("State").filter(|s| s.is_object()) else {
        return Err(ParseError::new(
            CMD,
            format!(
                "`{}` is not a container (no \"State\"; an image, network or volume?)",
                raw.get("Name")
                    .or_else(|| raw.get("RepoTags"))
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| id.clone())
            ),
        ));
    };
    let running = flag(state, "/Running");
    let paused = flag(state, "/Paused");
    let restarting = flag(state, "/Restarting");
    let dead = flag(state, "/Dead");
    let started_at = time(state, "/StartedAt");
    let status = match string_at(state, "/Status") {
        s if !s.is_empty() => s,
        _ if restarting => "restarting".into(),
        _ if running && paused => "paused".into(),
        _ if running => "running".into(),
        _ if dead => "dead".into(),
        _ if started_at.is_none() => "created".into(),
        _ => "exited".into(),
    };
    let image_id = string_at(&raw, "/Image");
    let image = match string_at(&raw, "/Config/Image") {
        s if s.is_empty() => image_id.clone(),
        s => s,
    };
    let summary = InspectSummary {
        name: string_at(&raw, "/Name").trim_start_matches('/').to_string(),
        created: time(&raw, "/Created"),
        image,
        image_id,
        status,
        running,
        paused,
        restarting,
        oom_killed: flag(state, "/OOMKilled"),
        dead,
        exit_code: state.get("ExitCode").and_then(Value::as_i64),
        pid: state
            .get("Pid")
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok())
            .filter(|p| *p != 0),
        started_at,
        finished_at: time(state, "/FinishedAt"),
        restart_count: raw.get("RestartCount").and_then(Value::as_u64).unwrap_or(0),
        id,
    };
    Ok(Some(ContainerInspect { summary, raw }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{fixture, fixture_dir};

    #[test]
    fn flask_fixture() {
        let c = parse_inspect(&fixture("docker/docker-inspect_container_flask.json"))
            .expect("inspect")
            .expect("a container");
        assert_eq!(
            c.summary,
            InspectSummary {
                id: "66fc6b8bd9cd30fe42b8eb2b16c5f07745e18f273dba17ea7463de6f4c1de35f".into(),
                name: "modest_goodall".into(),
                image: "it4lik/meow-api:arm".into(),
                image_id: "sha256:aa62b5955aa84ac21143ef9294108b06701d36d3e90ad49896e811066542a107"
                    .into(),
                created: Some("2025-06-23T08:11:28.275360263Z".into()),
                status: "running".into(),
                running: true,
                paused: false,
                restarting: false,
                oom_killed: false,
                dead: false,
                exit_code: Some(0),
                pid: Some(34799),
                started_at: Some("2025-06-23T08:11:28.316022888Z".into()),
                finished_at: None,
                restart_count: 0,
            }
        );
        assert_eq!(
            c.raw["NetworkSettings"]["Ports"]["8000/tcp"][0]["HostPort"],
            "8000"
        );
        assert_eq!(c.raw["Config"]["Cmd"][1], "app.py");
        let json = serde_json::to_value(&c).expect("serialise");
        assert_eq!(json["summary"]["name"], "modest_goodall");
        assert_eq!(json["summary"]["finished_at"], Value::Null);
    }

    /// Every `docker inspect` fixture of a container parses; those of networks are
    /// rejected as not containers.
    #[test]
    fn every_inspect_fixture() {
        let mut containers = 0;
        for f in fixture_dir("docker") {
            let text = fixture(&format!("docker/{f}"));
            if f.starts_with("docker-inspect_container") {
                containers += 1;
                let c = parse_inspect(&text)
                    .unwrap_or_else(|e| panic!("{f}: {e}"))
                    .unwrap_or_else(|| panic!("{f}: empty"));
                assert!(!c.summary.name.is_empty() && !c.summary.status.is_empty());
            } else if f.starts_with("docker-network-inspect") {
                let e = parse_inspect(&text).expect_err(&f);
                assert!(e.message.contains("is not a container"), "{f}: {e}");
            }
        }
        assert!(containers >= 1);
        let e = parse_inspect(&fixture("docker/docker-network-inspect_bridge.json"))
            .expect_err("network");
        assert_eq!(
            e.to_string(),
            "docker inspect: `\"bridge\"` is not a container (no \"State\"; an image, network or volume?)"
        );
    }

    #[test]
    fn no_such_container() {
        assert_eq!(parse_inspect("[]"), Ok(None));
        assert_eq!(parse_inspect("[]\n"), Ok(None));
    }

    #[test]
    fn old_docker_without_status() {
        let obj = |state: &str| {
            format!(r#"[{{"Id":"abc","Name":"/web","Image":"sha256:1","State":{state}}}]"#)
        };
        let status = |state: &str| {
            parse_inspect(&obj(state))
                .expect("inspect")
                .expect("container")
                .summary
                .status
        };
        assert_eq!(status(r#"{"Running":true}"#), "running");
        assert_eq!(status(r#"{"Running":true,"Paused":true}"#), "paused");
        assert_eq!(
            status(r#"{"Running":true,"Restarting":true}"#),
            "restarting"
        );
        assert_eq!(status(r#"{"Dead":true}"#), "dead");
        assert_eq!(
            status(r#"{"StartedAt":"0001-01-01T00:00:00Z","FinishedAt":"0001-01-01T00:00:00Z"}"#),
            "created"
        );
        assert_eq!(
            status(
                r#"{"StartedAt":"2024-01-01T00:00:00Z","FinishedAt":"2024-01-01T01:00:00Z","ExitCode":137,"OOMKilled":true}"#
            ),
            "exited"
        );
        let s = parse_inspect(&obj(r#"{"ExitCode":137,"OOMKilled":true,"Pid":0}"#))
            .expect("inspect")
            .expect("container")
            .summary;
        assert_eq!(s.name, "web");
        assert_eq!(s.image, "sha256:1");
        assert_eq!(s.exit_code, Some(137));
        assert!(s.oom_killed);
        assert_eq!(s.pid, None);
        assert_eq!(s.restart_count, 0);
    }

    #[test]
    fn errors() {
        let err = |t: &str| parse_inspect(t).expect_err(t).to_string();
        assert_eq!(err(""), "docker inspect: empty output");
        assert_eq!(err(" \n"), "docker inspect: empty output");
        assert!(err("Error: No such object: x").starts_with("docker inspect: not JSON"));
        assert!(err("[{\"Id\": \"a\"").starts_with("docker inspect: not JSON"));
        assert_eq!(err("{}"), "docker inspect: not a JSON array");
        assert_eq!(
            err("[1]"),
            "docker inspect: the first element is not an object"
        );
        assert_eq!(err("[{}]"), "docker inspect: the object has no \"Id\"");
        assert_eq!(
            err(r#"[{"Id":"sha256:1","RepoTags":["nginx:latest"]}]"#),
            "docker inspect: `[\"nginx:latest\"]` is not a container (no \"State\"; an image, network or volume?)"
        );
        assert!(err(r#"[{"Id":"a","State":"running"}]"#).contains("is not a container"));
        let full = fixture("docker/docker-inspect_container_flask.json");
        assert!(parse_inspect(&full[..full.len() - 10]).is_err());
    }
}
