//! `POST /deploy`, a long-running route: the compose file is written to a temp file next to
//! its destination (content through stdin, never a here-document), validated on the device
//! by compose itself, and only then renamed over the destination after a timestamped backup;
//! then stop, pull, up and ps. Every step is a job progress step and a job log line; the
//! result lists each step's exit status, timing and output tail. `success` is true only when
//! every step succeeded; a failure after the file was replaced restores the backup (or
//! removes the new file) and brings the previous stack back when `rollback_on_failure`.

use infrastructor_sdk::prelude::*;
use infrastructor_sdk::ssh::ExecOutput;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cli::Flavour;
use crate::paths;

/// Largest compose file accepted, in bytes.
pub const MAX_COMPOSE_BYTES: usize = 1024 * 1024;
/// Output kept per step, in bytes (the end of it).
const OUTPUT_TAIL: usize = 4096;

/// What to deploy where.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// A registered device's hostname.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"))]
    pub device: String,
    /// The compose file's content.
    #[schemars(length(min = 1, max = 1048576))]
    pub compose_content: String,
    /// The compose file to write: absolute, normalised, plain characters, ending in `.yml`
    /// or `.yaml`.
    #[schemars(
        length(min = 2, max = 255),
        regex(
            pattern = r"^(/\.?[A-Za-z0-9_-][A-Za-z0-9._-]*)+/[A-Za-z0-9_-][A-Za-z0-9._-]*\.ya?ml$"
        )
    )]
    pub deployment_path: String,
    /// Run `up -d` after writing (default true).
    #[serde(default = "crate::defaults::yes")]
    pub start_services: bool,
    /// Run `pull` first (default true).
    #[serde(default = "crate::defaults::yes")]
    pub pull_images: bool,
    /// `up --force-recreate`.
    #[serde(default)]
    pub recreate_containers: bool,
    /// Keep a timestamped copy of the file being replaced (default true).
    #[serde(default = "crate::defaults::yes")]
    pub backup_existing: bool,
    /// On a failed step after the file was replaced, restore it and bring the previous
    /// stack back (default true).
    #[serde(default = "crate::defaults::yes")]
    pub rollback_on_failure: bool,
    /// Only these services are started (default all).
    #[serde(default)]
    #[schemars(inner(regex(pattern = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")))]
    pub services_to_start: Vec<String>,
    /// These services are stopped before `up`.
    #[serde(default)]
    #[schemars(inner(regex(pattern = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")))]
    pub services_to_stop: Vec<String>,
}

/// One step as it ran.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StepReport {
    /// `detect`, `write`, `validate`, `replace`, `stop`, `pull`, `up`, `ps`, `rollback…`.
    pub step: String,
    /// Its exit status.
    pub exit_code: i32,
    /// Its wall-clock time.
    pub duration_ms: u64,
    /// The end of its stdout and stderr.
    pub output: String,
}

/// What a deploy did (the job's result; a failed deploy is the job's error, with this
/// report).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DeployResult {
    /// The device.
    pub device: String,
    /// The compose file.
    pub deployment_path: String,
    /// `v2` or `v1`.
    pub compose: Option<Flavour>,
    /// Every step succeeded.
    pub success: bool,
    /// The file was replaced (and, after a rollback, restored).
    pub file_written: bool,
    /// The copy of the previous version, when there was one.
    pub backup_file_path: Option<String>,
    /// A failure was rolled back.
    pub rolled_back: bool,
    /// The steps in order.
    pub steps: Vec<StepReport>,
    /// Services after the deploy (`ps`).
    #[schemars(with = "Vec<infrastructor_parsers::compose_ps::ComposeService>")]
    pub services: Vec<Value>,
    /// What failed, when something did.
    pub error: Option<String>,
    /// Total time.
    pub execution_time_ms: u64,
}

fn tail(out: &ExecOutput) -> String {
    let mut text = out.stdout_str().into_owned();
    let err = out.stderr_str();
    if !err.trim().is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&err);
    }
    if text.len() > OUTPUT_TAIL {
        let mut start = text.len() - OUTPUT_TAIL;
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text = format!("…{}", &text[start..]);
    }
    text
}

/// Checks the request before anything runs: path, services, size.
pub fn check(req: &DeployRequest) -> Result<(), Error> {
    paths::compose_file_path(&req.deployment_path)
        .map_err(|e| Error::bad_request(format!("deployment_path {e}")))?;
    if req.compose_content.len() > MAX_COMPOSE_BYTES {
        return Err(Error::bad_request(format!(
            "compose_content is larger than {MAX_COMPOSE_BYTES} bytes"
        )));
    }
    crate::transform::validate(&req.compose_content).map_err(|e| {
        Error::bad_request(format!(
            "compose_content is not valid YAML: line {}, column {}: {}",
            e.line, e.column, e.message
        ))
    })?;
    for name in req.services_to_start.iter().chain(&req.services_to_stop) {
        if !crate::swag::is_service_name(name) {
            return Err(Error::bad_request(format!(
                "`{name}` is not a compose service name"
            )));
        }
    }
    Ok(())
}

/// A timestamp for file names (`YYYYmmdd_HHMMSS`, UTC), from the real clock.
fn stamp() -> String {
    let secs = infrastructor_sdk::clock::unix_now().as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = infrastructor_sdk::text::civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}_{:02}{:02}{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Removes the temp file of a deploy that stopped before the replace (best effort: a left
/// temp file is hidden and never read by compose).
fn discard(device: &str, temp: &str) {
    if let Err(e) = ssh::run_script(device, "discard", &[temp], None, Duration::from_secs(30)) {
        jobs::log(log::Level::Warn, &format!("cannot remove `{temp}`: {e}"));
    }
}

/// The steps of one deploy, reported as they run.
struct Run<'a> {
    req: &'a DeployRequest,
    result: DeployResult,
    total_steps: u64,
    done: u64,
}

impl Run<'_> {
    fn record(&mut self, step: &str, out: &ExecOutput) -> bool {
        self.done += 1;
        let ok = out.success();
        jobs::progress(
            self.done,
            Some(self.total_steps),
            "steps",
            &format!("{step} {}", if ok { "done" } else { "failed" }),
        );
        jobs::log(
            if ok {
                log::Level::Info
            } else {
                log::Level::Error
            },
            &format!(
                "{step}: exit {} in {} ms",
                out.exit_code,
                out.duration.as_millis()
            ),
        );
        self.result.steps.push(StepReport {
            step: step.to_owned(),
            exit_code: out.exit_code,
            duration_ms: out.duration.as_millis() as u64,
            output: tail(out),
        });
        ok
    }

    fn fail(&mut self, message: String) {
        self.result.success = false;
        jobs::log(log::Level::Error, &message);
        self.result.error = Some(message);
    }

    fn compose(
        &mut self,
        flavour: Flavour,
        step: &str,
        args: &[&str],
        secs: u64,
    ) -> Result<bool, Error> {
        let argv = flavour.argv(&self.req.deployment_path, args);
        jobs::progress(
            self.done,
            Some(self.total_steps),
            "steps",
            &format!("{step}…"),
        );
        let out = ssh::exec(&self.req.device, &argv, None, Duration::from_secs(secs))?;
        Ok(self.record(step, &out))
    }

    fn script(
        &mut self,
        step: &str,
        script: &str,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<bool, Error> {
        jobs::progress(
            self.done,
            Some(self.total_steps),
            "steps",
            &format!("{step}…"),
        );
        let out = ssh::run_script(
            &self.req.device,
            script,
            args,
            stdin,
            Duration::from_secs(60),
        )?;
        Ok(self.record(step, &out))
    }
}

/// Deploys `req` (already checked with [`check`]) and says what happened.
pub fn deploy(req: &DeployRequest) -> Result<DeployResult, Error> {
    let started = infrastructor_sdk::clock::Stopwatch::start();
    let path = req.deployment_path.as_str();
    let dir = paths::dir_of(path);
    let stamp = stamp();
    let temp = paths::temp_path(path, &stamp);
    let backup = paths::backup_path(path, &stamp);
    let mut run = Run {
        req,
        total_steps: 4
            + u64::from(!req.services_to_stop.is_empty())
            + u64::from(req.pull_images)
            + 2 * u64::from(req.start_services),
        done: 0,
        result: DeployResult {
            device: req.device.clone(),
            deployment_path: path.to_owned(),
            compose: None,
            success: true,
            file_written: false,
            backup_file_path: None,
            rolled_back: false,
            steps: Vec::new(),
            services: Vec::new(),
            error: None,
            execution_time_ms: 0,
        },
    };
    jobs::progress(0, Some(run.total_steps), "steps", "detecting compose");
    let flavour = Flavour::of(&req.device)?;
    run.result.compose = Some(flavour);
    run.done += 1;

    // 1. The new version goes to a temp file next to the destination.
    if !run.script(
        "write",
        "write_temp",
        &[dir, &temp],
        Some(req.compose_content.as_bytes()),
    )? {
        discard(&req.device, &temp);
        run.fail(format!("cannot write `{temp}` on {}", req.device));
        return Ok(finish(run, started));
    }
    // 2. Compose itself checks it there; a refusal leaves the destination untouched.
    let argv = flavour.argv(&temp, &["config", "-q"]);
    let validated = ssh::exec(&req.device, &argv, None, Duration::from_secs(60))?;
    if !run.record("validate", &validated) {
        discard(&req.device, &temp);
        let why = tail(&validated);
        run.fail(format!("compose refused the file: {}", why.trim()));
        return Ok(finish(run, started));
    }
    // 3. Backup, then an atomic rename over the destination.
    let backup_arg = if req.backup_existing {
        backup.as_str()
    } else {
        ""
    };
    let replaced = ssh::run_script(
        &req.device,
        "replace",
        &[path, &temp, backup_arg],
        None,
        Duration::from_secs(60),
    )?;
    let had_previous = replaced.stdout_str().contains("backed-up");
    if !run.record("replace", &replaced) {
        discard(&req.device, &temp);
        run.fail(format!("cannot replace `{path}`"));
        return Ok(finish(run, started));
    }
    run.result.file_written = true;
    if had_previous {
        run.result.backup_file_path = Some(backup.clone());
    }
    // 4. stop, pull, up.
    let mut ok = true;
    if !req.services_to_stop.is_empty() {
        let mut args = vec!["stop"];
        args.extend(req.services_to_stop.iter().map(String::as_str));
        ok = run.compose(flavour, "stop", &args, 120)?;
    }
    if ok && req.pull_images {
        ok = run.compose(flavour, "pull", &["pull"], 600)?;
    }
    let mut up_ran = false;
    if ok && req.start_services {
        let mut args = vec!["up", "-d"];
        if req.recreate_containers {
            args.push("--force-recreate");
        }
        args.extend(req.services_to_start.iter().map(String::as_str));
        up_ran = true;
        ok = run.compose(flavour, "up", &args, 600)?;
    }
    if !ok {
        let failed = run
            .result
            .steps
            .last()
            .map(|s| s.step.clone())
            .unwrap_or_default();
        let why = run
            .result
            .steps
            .last()
            .map(|s| s.output.trim().to_owned())
            .unwrap_or_default();
        run.fail(format!("`{failed}` failed: {why}"));
        if req.rollback_on_failure {
            rollback(
                &mut run,
                flavour,
                had_previous.then_some(backup.as_str()),
                up_ran,
            )?;
        }
        return Ok(finish(run, started));
    }
    if req.start_services {
        services(&mut run, flavour)?;
    }
    Ok(finish(run, started))
}

/// Puts the previous state back: with a backup, the old file and (when `up` ran) its stack;
/// without one, the new stack down (when `up` ran) and the new file removed.
fn rollback(
    run: &mut Run<'_>,
    flavour: Flavour,
    backup: Option<&str>,
    up_ran: bool,
) -> Result<(), Error> {
    let path = run.req.deployment_path.clone();
    jobs::log(log::Level::Warn, "rolling back");
    match backup {
        Some(backup) => {
            run.script("rollback-restore", "restore", &[&path, backup], None)?;
            if up_ran {
                run.compose(
                    flavour,
                    "rollback-up",
                    &["up", "-d", "--remove-orphans"],
                    600,
                )?;
            }
        }
        None => {
            if up_ran {
                run.compose(flavour, "rollback-down", &["down", "--remove-orphans"], 300)?;
            }
            run.script("rollback-remove", "discard", &[&path], None)?;
        }
    }
    run.result.rolled_back = true;
    run.result.file_written = false;
    Ok(())
}

/// `ps` after `up`: JSON for v2, the table for v1.
fn services(run: &mut Run<'_>, flavour: Flavour) -> Result<(), Error> {
    let args: &[&str] = match flavour {
        Flavour::V2 => &["ps", "-a", "--format", "json"],
        Flavour::V1 => &["ps"],
    };
    let argv = flavour.argv(&run.req.deployment_path, args);
    let out = ssh::exec(&run.req.device, &argv, None, Duration::from_secs(60))?;
    if !run.record("ps", &out) {
        run.fail("`ps` failed after a successful `up`".into());
        return Ok(());
    }
    let project = paths::dir_of(&run.req.deployment_path)
        .rsplit('/')
        .next()
        .map(str::to_ascii_lowercase);
    let parsed = match flavour {
        Flavour::V2 => infrastructor_parsers::compose_ps::parse_compose_ps_json(&out.stdout_str()),
        Flavour::V1 => infrastructor_parsers::compose_ps::parse_compose_ps_table(
            &out.stdout_str(),
            project.as_deref(),
        ),
    };
    match parsed {
        Ok(list) => run.result.services = list.iter().map(|s| json!(s)).collect(),
        Err(e) => run.fail(format!("cannot read `ps`: {e}")),
    }
    Ok(())
}

fn finish(mut run: Run<'_>, started: infrastructor_sdk::clock::Stopwatch) -> DeployResult {
    run.result.execution_time_ms = started.elapsed_ms();
    jobs::progress(
        run.total_steps,
        Some(run.total_steps),
        "steps",
        if run.result.success {
            "deployed"
        } else {
            "failed"
        },
    );
    run.result
}

/// The answer of a deploy: 200 with the result when it succeeded; otherwise the result with
/// 502 (a step failed on the device) or 422 (compose refused the file), so the job fails and
/// keeps the per-step report.
pub fn answer(result: &DeployResult) -> Response {
    let status = if result.success {
        200
    } else if result
        .steps
        .iter()
        .any(|s| s.step == "validate" && s.exit_code != 0)
    {
        422
    } else {
        502
    };
    Json(result).with_status(status)
}

/// `POST /deploy`.
pub fn handler(req: &Request) -> Result<Response, Error> {
    let body: DeployRequest = req.body()?;
    check(&body)?;
    crate::device::require(&body.device)?;
    let result = deploy(&body)?;
    Ok(answer(&result))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(code: i32, stdout: &str, stderr: &str) -> ExecOutput {
        ExecOutput {
            exit_code: code,
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            duration: Duration::from_millis(5),
        }
    }

    fn request(path: &str) -> DeployRequest {
        serde_json::from_value(json!({
            "device": "nas", "compose_content": "services:\n  web:\n    image: busybox\n",
            "deployment_path": path,
        }))
        .expect("request")
    }

    #[test]
    fn tails_keep_the_end_of_both_streams() {
        assert_eq!(tail(&out(0, "a\n", "b\n")), "a\nb\n");
        let long = "x".repeat(5000);
        let t = tail(&out(1, &long, ""));
        assert!(t.starts_with('…') && t.len() <= OUTPUT_TAIL + 3);
    }

    #[test]
    fn requests_are_checked_before_anything_runs() {
        assert!(check(&request("/opt/stacks/web/compose.yaml")).is_ok());
        for bad in [
            "/etc/passwd",
            "relative.yml",
            "/opt/../x.yml",
            "/opt/a b.yml",
        ] {
            assert!(check(&request(bad)).is_err(), "{bad}");
        }
        let mut r = request("/opt/s/c.yml");
        r.services_to_start = vec!["web; rm -rf /".into()];
        assert!(check(&r).is_err());
        let mut r = request("/opt/s/c.yml");
        r.compose_content = "services: [unclosed".into();
        let e = check(&r).expect_err("bad yaml");
        assert!(e.to_string().contains("line"), "{e}");
        let defaults = request("/opt/s/c.yml");
        assert!(defaults.start_services && defaults.pull_images && defaults.rollback_on_failure);
        assert!(defaults.backup_existing && !defaults.recreate_containers);
    }

    #[test]
    fn stamps_are_file_name_safe() {
        let s = stamp();
        assert_eq!(s.len(), 15);
        assert!(s.chars().all(|c| c.is_ascii_digit() || c == '_'));
    }
}
