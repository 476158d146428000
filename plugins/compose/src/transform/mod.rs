//! Rewriting a compose file for a target device: appdata host paths moved under the device's
//! appdata directory, host ports moved to free ports of a range, services joined to a shared
//! (reverse-proxy) network, and a SWAG subdomain conf for each published service.
//!
//! # How the YAML is edited
//!
//! The file is parsed with [`yaml_edit`] (a lossless rowan syntax tree) and edited in place:
//! a changed scalar is rewritten in its own quoting style (`"8080:80"` → `"8001:80"`, plain
//! stays plain), list items and mapping keys are inserted in the style of the collection
//! around them (block or flow, same indentation), and everything no transform touches — key
//! order, comments, blank lines, anchors and aliases, merge keys, `x-*` extension fields,
//! quoting, `${VAR}` interpolations — is the original text byte for byte. An unchanged file
//! comes back identical.
//!
//! `yaml-edit` was chosen over a span-reporting parser with hand-made text patches because
//! it already knows where a new list item or mapping key goes in every layout (block lists
//! at or beyond the key's indentation, flow lists and mappings, empty values, trailing
//! comments, files without a final newline); it reads every fixture in `tests/fixtures/compose`
//! and gives each back unchanged. Its weak point is that it recovers from syntax errors
//! instead of refusing them, so the text is first parsed with [`serde_norway`], which
//! refuses invalid YAML with a line and column and gives the plain value tree the
//! transforms read. The same plain tree is the safety net: every edit is also applied to it
//! (module `verify`), and the edited text must parse back to exactly that tree, or [`modify`]
//! fails rather than hand out a file the editor laid out wrongly.
//!
//! Anchors: a node carrying an anchor that an alias or merge key reuses (`ports: &p [...]`
//! reused as `*p`, a service merged into another) is never edited, since the edit would
//! silently change the other place too; a warning says so. Keys a service merges in from
//! an anchor (`<<: *defaults`) are read, not edited: a service whose networks come from the
//! anchor gets its own list (the merged names plus the new one), appdata volumes and ports
//! that come from it are left with a warning.
//!
//! # The transforms
//!
//! - Volumes (`volumes.rs`): a bind whose host path has an `appdata` directory component
//!   followed by more path (`./appdata/web`, `../appdata/web`, `/srv/appdata/web/cfg`,
//!   `/mnt/appdata/web`) is moved to `<appdata_base>/<the rest>`; short syntax keeps the
//!   container path and mode exactly as written, long syntax (`type: bind`) has its `source`
//!   rewritten. Named volumes and other binds are left alone.
//! - Ports (`ports.rs`): a host port outside the range, used on the device or already taken
//!   in the file is moved to the next free port of the range (ranges as a block, a TCP/UDP
//!   pair together, `ip:` prefixes and `/udp` kept); `custom_port_mappings` set the first
//!   entry's host port; `${VAR}` host ports are left with a warning, as are entries when the
//!   range is exhausted.
//! - Networks (`networks.rs`): each service (except those with `network_mode`) joins the
//!   network next to the networks it has; one without `networks` gets `[default, <network>]`
//!   so it stays on the project network; the network is declared `external: true` at the
//!   top level unless defined there.
//! - Proxy confs (`proxies.rs`): one SWAG subdomain conf per service publishing a TCP port,
//!   reaching the service at `upstream_app` on the published host port.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

mod networks;
mod ports;
mod proxies;
mod verify;
mod volumes;
mod yaml;

pub use ports::{PortSpan, PortSpec};
pub use volumes::appdata_host_path;

use verify::ExpectedTree;
use yaml::{ComposeFile, SharedAnchors};

/// Why a compose file was refused: invalid YAML, a top level that is not a mapping, or
/// `services` (or one service) that is not a mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct YamlError {
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column of the problem (in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for YamlError {}

/// What [`modify`] should do.
#[derive(Debug, Clone, Default)]
pub struct ModifyOptions {
    /// Limit every transform to this service (`None`: all services).
    pub service_name: Option<String>,
    /// Move appdata host paths under `appdata_base`.
    pub update_appdata_paths: bool,
    /// The device's appdata directory, an absolute path (`/mnt/appdata`).
    pub appdata_base: String,
    /// Move host ports that are outside `port_range`, used on the device or taken twice in
    /// the file to free ports of the range.
    pub auto_assign_ports: bool,
    /// The range new host ports come from, inclusive.
    pub port_range: (u16, u16),
    /// A host port per service for the service's first `ports` entry; honoured even when
    /// `auto_assign_ports` is off.
    pub custom_port_mappings: BTreeMap<String, u16>,
    /// Host ports the device already uses (listeners and published container ports). It
    /// must not hold the ports this same stack publishes when it is already deployed, or
    /// those are moved too: the caller leaves out the ports of the project's own containers.
    pub used_ports: BTreeSet<u16>,
    /// Join services to `network`.
    pub update_networks: bool,
    /// The network to join (`None`: leave networks alone).
    pub network: Option<String>,
    /// Generate a SWAG subdomain conf per published service.
    pub generate_proxy_configs: bool,
    /// The device's host name or address: the SWAG upstream.
    pub upstream_app: String,
}

impl ModifyOptions {
    /// Whether the transforms apply to `service` (all services, or the one named).
    pub(crate) fn selects(&self, service: &str) -> bool {
        self.service_name
            .as_deref()
            .is_none_or(|name| name == service)
    }
}

/// What [`modify`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ModifyOutcome {
    /// The new file text (`==` the input when nothing changed).
    pub modified: String,
    /// One line per real change, e.g. `web: port 8080:80 -> 8001:80`.
    pub changes: Vec<String>,
    /// For each service whose ports changed: all its fixed host-port bindings afterwards.
    pub port_assignments: BTreeMap<String, Vec<PortAssignment>>,
    /// For each service whose volumes changed: the binds that moved.
    pub volume_updates: BTreeMap<String, Vec<VolumeUpdate>>,
    /// For each service that joined the network: its networks afterwards.
    pub network_configs: BTreeMap<String, Vec<String>>,
    /// The SWAG confs generated for published services.
    pub proxy_configs: Vec<ProxyConfig>,
    /// What could not be done, and why (a variable host port, an exhausted range, …).
    pub warnings: Vec<String>,
}

/// A host port bound to a container port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PortAssignment {
    /// The host address the port is bound to, as written (`127.0.0.1`, `[::1]`); `None`
    /// for all addresses.
    pub host_ip: Option<String>,
    /// The host port.
    pub host_port: u16,
    /// The container port.
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

/// A bind mount whose host path moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct VolumeUpdate {
    /// The host path before (`./appdata/web`).
    pub from: String,
    /// The host path after (`/mnt/appdata/web`).
    pub to: String,
    /// The path inside the container.
    pub container_path: String,
    /// The access mode as written (`ro`, `rw,z`); `ro` for a long-syntax `read_only: true`;
    /// `None` when none is given.
    pub mode: Option<String>,
}

/// A generated SWAG subdomain conf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ProxyConfig {
    /// The compose service.
    pub service: String,
    /// `<service>.subdomain.conf`.
    pub filename: String,
    /// The host SWAG proxies to (the device).
    pub upstream_app: String,
    /// The host port the service publishes.
    pub upstream_port: u16,
    /// The conf text.
    pub content: String,
}

/// Checks that `text` is a compose file the transforms can work on: valid YAML (one
/// document) whose top level is a mapping, with `services` (when present) a mapping of
/// mappings.
pub fn validate(text: &str) -> Result<(), YamlError> {
    ComposeFile::parse(text).map(|_| ())
}

/// The service names of `text` in file order (after [`validate`]'s checks).
pub fn service_names(text: &str) -> Result<Vec<String>, YamlError> {
    Ok(ComposeFile::parse(text)?.service_names())
}

/// Applies the transforms `opts` asks for to the compose file `text`. Order: volumes, ports,
/// networks, then proxy confs (from the ports as they are after the port transform).
pub fn modify(text: &str, opts: &ModifyOptions) -> Result<ModifyOutcome, YamlError> {
    let file = ComposeFile::parse(text)?;
    let services = file.services();
    let mut run = Run {
        opts,
        outcome: ModifyOutcome::default(),
        expected: ExpectedTree::new(&file.plain),
        shared: SharedAnchors::of(&file.doc),
        edited: false,
    };
    if let Some(name) = &opts.service_name
        && !services.iter().any(|s| &s.name == name)
    {
        run.warn(format!("no service `{name}` in this file; nothing to do"));
    }
    if opts.update_appdata_paths {
        volumes::apply(&services, &mut run);
    }
    ports::apply(&services, &mut run);
    if opts.update_networks
        && let Some(network) = &opts.network
    {
        networks::apply(&file, &services, network, &mut run);
    }
    if opts.generate_proxy_configs {
        proxies::apply(&services, &mut run);
    }
    let mut outcome = run.outcome;
    if !run.edited {
        outcome.modified = text.to_string();
        return Ok(outcome);
    }
    let modified = keep_line_endings(text, file.doc.to_string());
    run.expected.check(&modified).map_err(|e| {
        YamlError::at_start(format!(
            "internal error, nothing was changed: {e}; please report this file"
        ))
    })?;
    outcome.modified = modified;
    Ok(outcome)
}

/// The state of one [`modify`] call that the transforms share.
pub(crate) struct Run<'a> {
    /// The options of the call.
    pub opts: &'a ModifyOptions,
    /// The outcome so far (`modified` is filled at the end).
    pub outcome: ModifyOutcome,
    /// The plain tree the edited file must parse to.
    pub expected: ExpectedTree,
    /// The anchored nodes that aliases reuse (not edited).
    pub shared: SharedAnchors,
    /// Whether the syntax tree was edited at all.
    pub edited: bool,
}

impl Run<'_> {
    /// Whether the transforms apply to `service`.
    pub fn is_selected(&self, service: &str) -> bool {
        self.opts.selects(service)
    }

    /// Records a change made to the file.
    pub fn change(&mut self, text: String) {
        self.edited = true;
        self.outcome.changes.push(text);
    }

    /// Records something that could not be done.
    pub fn warn(&mut self, text: String) {
        self.outcome.warnings.push(text);
    }

    /// Whether `node` may be edited: not when it lies in an anchored node that an alias
    /// reuses (the edit would change the other place too); then a warning names `what`.
    pub fn may_edit(&mut self, node: &impl yaml_edit::AsYaml, what: &str) -> bool {
        match self.shared.around(node) {
            None => true,
            Some(anchor) => {
                let warning = format!(
                    "{what} is inside the anchor &{anchor}, which is reused elsewhere; left as it is"
                );
                self.warn(warning);
                false
            }
        }
    }
}

/// The editor writes `\n` for the lines it adds; a file written with `\r\n` everywhere gets
/// `\r\n` on those too.
fn keep_line_endings(original: &str, edited: String) -> String {
    let crlf = original.matches("\r\n").count();
    if crlf == 0 || crlf != original.matches('\n').count() {
        return edited;
    }
    edited.replace("\r\n", "\n").replace('\n', "\r\n")
}

#[cfg(test)]
mod tests;
