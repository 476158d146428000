//! The one door to a plugin's grants. Every host import, streamed response, collector step
//! and poller run asks the [`Granter`] before anything happens remotely; a refusal is logged
//! (plugin, request id, capability) and answered as `forbidden`.
//!
//! The decision itself is [`infrastructor_manifest::Grants`] (declared ∩ granted); this
//! module turns a plugin's wishes (an argv, a script name, a collection step) into the
//! command the host will run, or into the refusal.

use infrastructor_manifest::{self as model, Capability};
use infrastructor_ssh::RemoteCommand;

use super::instance::PluginIdentity;
use crate::collector;
use crate::fault::Fault;

/// A plugin's grants, seen from one call.
pub struct Granter<'a> {
    plugin: &'a PluginIdentity,
    request_id: &'a str,
}

impl<'a> Granter<'a> {
    /// The granter of `plugin` for the call `request_id`.
    pub fn new(plugin: &'a PluginIdentity, request_id: &'a str) -> Granter<'a> {
        Granter { plugin, request_id }
    }

    /// Logs and returns the `forbidden` fault for an ungranted capability.
    fn denied(&self, what: &str) -> Fault {
        tracing::warn!(
            plugin = %self.plugin.name,
            request_id = %self.request_id,
            capability = what,
            "plugin call denied: capability not granted"
        );
        Fault::forbidden(format!(
            "plugin `{}` is not granted `{what}`",
            self.plugin.name
        ))
    }

    /// Allows a non-exec capability (`storage`, `collector`, `registry-read`…).
    pub fn require(&self, capability: &Capability) -> Result<(), Fault> {
        if self.plugin.grants.has(capability) {
            Ok(())
        } else {
            Err(self.denied(&capability.to_string()))
        }
    }

    /// Allows running `argv` (an `exec` import or a streamed response): bad-request when
    /// empty, forbidden unless an `exec` capability in force matches it.
    pub fn argv(&self, argv: &[String]) -> Result<(), Fault> {
        if argv.is_empty() {
            return Err(Fault::bad_request("empty argv"));
        }
        if !self.plugin.grants.allows_exec(argv) {
            return Err(self.denied(&format!("exec:{}", argv.join(" "))));
        }
        Ok(())
    }

    /// [`Granter::argv`], as the command to run.
    pub fn exec(&self, argv: Vec<String>) -> Result<RemoteCommand, Fault> {
        self.argv(&argv)?;
        Ok(RemoteCommand::Argv(argv))
    }

    /// Allows running the declared script `name` with `args`: bad-request when the plugin
    /// declares no such script, forbidden unless every program it declares is covered by an
    /// `exec` capability in force.
    pub fn script(&self, name: &str, args: Vec<String>) -> Result<RemoteCommand, Fault> {
        let Some(script) = self.plugin.manifest.as_ref().and_then(|m| m.script(name)) else {
            return Err(Fault::bad_request(format!("no script named `{name}`")));
        };
        if let Some(program) = self.plugin.grants.first_refused_program(&script.programs) {
            return Err(self.denied(&format!("exec:{program}")));
        }
        Ok(RemoteCommand::Script {
            body: script.body.clone(),
            args,
        })
    }

    /// Allows a command, argv or declared script (as above).
    pub fn command(&self, command: model::Command) -> Result<RemoteCommand, Fault> {
        match command {
            model::Command::Argv(argv) => self.exec(argv),
            model::Command::Script { name, args } => self.script(&name, args),
        }
    }

    /// Allows one collection step (argv or script, as above).
    pub fn step(&self, step: model::Step) -> Result<collector::Step, Fault> {
        let command = self.command(step.command)?;
        Ok(collector::Step {
            name: step.name,
            command,
            timeout_ms: step.timeout_ms,
        })
    }
}
