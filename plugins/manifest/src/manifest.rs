//! The whole manifest and its cross-cutting rules.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::capability::{Capability, Grants};
use crate::names::{is_plugin_name, validate_mount};
use crate::route::{Route, normalise_template};

/// Everything a plugin declares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Unique plugin name (`devices`).
    pub name: String,
    /// Semantic version of the plugin.
    pub version: String,
    /// One line for `/api/plugins` and the OpenAPI tag.
    pub description: String,
    /// Default mount under `/api` (`/devices`).
    pub mount: String,
    /// Routes relative to the mount.
    pub routes: Vec<Route>,
    /// Constant scripts.
    pub scripts: Vec<Script>,
    /// Parser names.
    pub parsers: Vec<String>,
    /// Periodic collectors.
    pub collectors: Vec<PeriodicCollector>,
    /// Capabilities the plugin needs.
    pub capabilities: Vec<Capability>,
}

/// A constant POSIX `sh` script; user input reaches it only as `$1…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    /// Name used by `run-script` and collector steps.
    pub name: String,
    /// The sh text.
    pub body: String,
    /// Programs it runs; each must be covered by a declared `exec` capability.
    pub programs: Vec<String>,
}

/// What one remote step runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Command {
    /// A program and its arguments.
    Argv(Vec<String>),
    /// A declared script and its positional arguments.
    Script {
        /// Script name.
        name: String,
        /// `$1…`.
        args: Vec<String>,
    },
}

/// One named remote step of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The name its output reaches the parser under.
    pub name: String,
    /// What it runs.
    pub command: Command,
    /// Timeout in milliseconds; 0 = the host's default.
    pub timeout_ms: u32,
}

/// A collection the host runs periodically for devices with monitoring enabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodicCollector {
    /// Name.
    pub name: String,
    /// Data type of its snapshots.
    pub data_type: String,
    /// Interval in seconds.
    pub interval_secs: u32,
    /// Steps.
    pub steps: Vec<Step>,
    /// Parser name.
    pub parser: String,
}

/// Every rule a manifest breaks, in the order found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<String>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

impl std::error::Error for Problems {}

impl Manifest {
    /// The script called `name`.
    pub fn script(&self, name: &str) -> Option<&Script> {
        self.scripts.iter().find(|s| s.name == name)
    }

    /// The route with this operation id.
    pub fn route(&self, operation_id: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.operation_id == operation_id)
    }

    /// Checks every rule and returns every problem found:
    /// - a plugin name of lower-case letters, digits, `-`, `_`; a version; a valid mount;
    /// - per route: an operation id of letters, digits, `_`, `-`; a path template of valid
    ///   segments without a trailing `/`; a summary; an HTTP success status; path parameters
    ///   declared exactly as the template names them; unique parameter names; consistent
    ///   constraints (bounds on numbers, lengths and patterns on strings, min ≤ max, defaults
    ///   only on optional query parameters and accepted by the host's own value check,
    ///   allowed values of the parameter's type); no body on GET; schemas that are JSON
    ///   objects; positive quotas;
    /// - operation ids, `METHOD path` shapes, script names and parser names unique;
    /// - every capability well formed; every program of every script covered by a declared
    ///   `exec` capability; every collector with a declared parser, steps, a non-zero
    ///   interval, declared scripts and argv steps within a declared `exec` capability.
    pub fn validate(&self) -> Result<(), Problems> {
        self.check(true)
    }

    /// The rules of plugin API 0.1.0: those of [`Manifest::validate`] except the two that
    /// API 0.2.0 added (script programs and collector argv steps covered by a declared `exec`
    /// capability), so a plugin built against 0.1.0 keeps loading. Its scripts are still
    /// refused at run time when no grant covers them.
    pub fn validate_v0_1(&self) -> Result<(), Problems> {
        self.check(false)
    }

    fn check(&self, exec_coverage: bool) -> Result<(), Problems> {
        let mut out = Vec::new();
        if !is_plugin_name(&self.name) {
            out.push(format!(
                "plugin name `{}` must be 1-64 lower-case letters, digits, `-` or `_`",
                self.name
            ));
        }
        if self.version.trim().is_empty() {
            out.push("empty plugin version".to_owned());
        }
        if let Err(e) = validate_mount(&self.mount) {
            out.push(format!("mount `{}`: {e}", self.mount));
        }
        for (i, route) in self.routes.iter().enumerate() {
            route.problems(&mut out);
            for other in &self.routes[..i] {
                if other.operation_id == route.operation_id {
                    out.push(format!("operation id `{}` used twice", route.operation_id));
                }
                if other.method == route.method
                    && normalise_template(&other.path) == normalise_template(&route.path)
                {
                    out.push(format!(
                        "routes `{}` and `{}` both serve {} {}",
                        other.operation_id, route.operation_id, route.method, route.path
                    ));
                }
            }
        }
        for (i, c) in self.capabilities.iter().enumerate() {
            if let Err(e) = c.check() {
                out.push(format!("capability `{c}`: {e}"));
            }
            if self.capabilities[..i].contains(c) {
                out.push(format!("capability `{c}` declared twice"));
            }
        }
        let declared = Grants::all(&self.capabilities);
        for (i, script) in self.scripts.iter().enumerate() {
            if script.name.is_empty() {
                out.push("a script has an empty name".to_owned());
            }
            if self.scripts[..i].iter().any(|s| s.name == script.name) {
                out.push(format!("script `{}` declared twice", script.name));
            }
            if script.programs.is_empty() {
                out.push(format!("script `{}` declares no programs", script.name));
            }
            for program in &script.programs {
                if exec_coverage && !declared.allows_program(program) {
                    out.push(format!(
                        "script `{}` runs `{program}`, but no declared `exec:{program} …` capability covers it",
                        script.name
                    ));
                }
            }
        }
        for (i, name) in self.parsers.iter().enumerate() {
            if self.parsers[..i].contains(name) {
                out.push(format!("parser `{name}` registered twice"));
            }
        }
        for c in &self.collectors {
            self.collector_problems(c, exec_coverage.then_some(&declared), &mut out);
        }
        if out.is_empty() {
            Ok(())
        } else {
            Err(Problems(out))
        }
    }

    fn collector_problems(
        &self,
        c: &PeriodicCollector,
        declared: Option<&Grants>,
        out: &mut Vec<String>,
    ) {
        if !self.parsers.contains(&c.parser) {
            out.push(format!(
                "collector `{}`: unknown parser `{}`",
                c.name, c.parser
            ));
        }
        if c.steps.is_empty() {
            out.push(format!("collector `{}` has no steps", c.name));
        }
        if c.interval_secs == 0 {
            out.push(format!("collector `{}` has a zero interval", c.name));
        }
        for (i, step) in c.steps.iter().enumerate() {
            if c.steps[..i].iter().any(|s| s.name == step.name) {
                out.push(format!(
                    "collector `{}`: step `{}` named twice",
                    c.name, step.name
                ));
            }
            match &step.command {
                Command::Script { name, .. } if self.script(name).is_none() => {
                    out.push(format!("collector `{}`: unknown script `{name}`", c.name));
                }
                Command::Argv(argv) if argv.is_empty() => {
                    out.push(format!(
                        "collector `{}`: step `{}` has an empty argv",
                        c.name, step.name
                    ));
                }
                Command::Argv(argv) if declared.is_some_and(|d| !d.allows_exec(argv)) => {
                    out.push(format!(
                        "collector `{}`: step `{}` runs `{}`, which no declared `exec:` capability covers",
                        c.name,
                        step.name,
                        argv.join(" ")
                    ));
                }
                _ => {}
            }
        }
    }
}
