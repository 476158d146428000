//! The mock host: canned answers for every host import the SDK wraps, installed for the
//! current thread, recording every call.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::Value;

use crate::Error;
use crate::bindings::infrastructor::plugin::{
    collector as wc, log as wl, registry as wr, ssh as ws, storage as wst, types,
};
use crate::host::{self, Host};
use crate::log::Level;

type E = types::Error;

/// What a canned command answers: an exit status with its output, or a host error (the
/// device unreachable, a refused grant…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canned(Result<(i32, Vec<u8>, Vec<u8>), Error>);

impl Canned {
    /// Exit status 0 with `stdout` (a fixture's text) and no stderr.
    pub fn stdout(stdout: impl Into<Vec<u8>>) -> Self {
        Self(Ok((0, stdout.into(), Vec::new())))
    }

    /// Any exit status with its stdout and stderr.
    pub fn exit(code: i32, stdout: impl Into<Vec<u8>>, stderr: impl Into<Vec<u8>>) -> Self {
        Self(Ok((code, stdout.into(), stderr.into())))
    }

    /// The host call itself fails with `error` (no command ran).
    pub fn error(error: Error) -> Self {
        Self(Err(error))
    }

    fn answer(&self) -> Result<ws::ExecOutput, E> {
        match &self.0 {
            Ok((code, stdout, stderr)) => Ok(ws::ExecOutput {
                exit_code: *code,
                stdout: stdout.clone(),
                stderr: stderr.clone(),
                duration_ms: 1,
            }),
            Err(e) => Err(e.clone().into()),
        }
    }
}

/// One host call the mock answered, in the order made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostCall {
    /// A program ran (`ssh::exec`, `exec_all`, `exec_with_body`, a pipe end).
    Exec {
        /// The device.
        target: String,
        /// The argv.
        argv: Vec<String>,
    },
    /// A declared script ran.
    Script {
        /// The device.
        target: String,
        /// The script's name.
        name: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// `collector::collect`.
    Collect {
        /// The data type asked for.
        data_type: String,
        /// The device.
        target: String,
    },
    /// A storage call.
    Storage {
        /// The import's name (`put`, `get`, `query`…).
        function: &'static str,
        /// The collection (the data type for snapshots).
        collection: String,
    },
    /// A registry call.
    Registry {
        /// The import's name (`get`, `list`, `create`…).
        function: &'static str,
        /// The hostname it names, if any.
        hostname: Option<String>,
    },
    /// `config::get`.
    Config,
    /// `jobs::enqueue`.
    Enqueue {
        /// The internal route's operation id.
        operation_id: String,
        /// Its JSON body.
        body: String,
    },
}

/// A log event or job log line the plugin wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Its level.
    pub level: Level,
    /// The message (or job log line).
    pub message: String,
    /// Its key/value fields (none for job log lines).
    pub fields: Vec<(String, String)>,
}

/// A canned script answer: target (any when `None`), script name, arguments (any when
/// `None`), answer.
type ScriptAnswer = (Option<String>, String, Option<Vec<String>>, Canned);

#[derive(Default)]
struct State {
    execs: Vec<(Option<String>, Vec<String>, Canned)>,
    scripts: Vec<ScriptAnswer>,
    collected: BTreeMap<String, Result<Value, Error>>,
    parsers: Option<&'static crate::App>,
    documents: BTreeMap<String, BTreeMap<String, wst::Document>>,
    snapshots: Vec<wst::Snapshot>,
    devices: Vec<wr::Device>,
    config: String,
    clock: u64,
    cancelled: bool,
    calls: Vec<HostCall>,
    logs: Vec<LogLine>,
    progress: Vec<(u64, Option<u64>, String)>,
}

/// A mock of the host: build it with canned answers, then [`MockHost::install`] it for the
/// current thread (each test runs on its own thread, so tests do not see each other's).
///
/// * `ssh` (exec, scripts, `exec_all`, `exec_with_body`): the canned answer for the exact
///   argv (or script name and arguments), for the target when one was given, else for any
///   target; an unmatched command answers the handler an [`Error::Internal`] naming it.
///   Pipes run both ends' canned commands and move the source's stdout length.
/// * `collector`: the canned data of the data type; else, with [`MockHost::parsers`], the
///   steps run through the canned commands and the plugin's parser; else
///   [`Error::NotFound`].
/// * `storage`: documents in memory; snapshots as canned.
/// * `registry`: the test devices, changed by create/update/delete.
/// * `config`: the plugin's configuration JSON (`{}` unless set).
/// * `jobs` and `log`: recorded; `is_cancelled` as set.
/// * The clock ([`crate::storage::unix_now_secs`]): as set (default 1 700 000 000).
pub struct MockHost {
    state: RefCell<State>,
}

impl Default for MockHost {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MockHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockHost")
            .field("calls", &self.state.borrow().calls)
            .finish_non_exhaustive()
    }
}

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl MockHost {
    /// A host with nothing canned, an empty store and registry, and the clock at
    /// 1 700 000 000 seconds.
    pub fn new() -> Self {
        Self {
            state: RefCell::new(State {
                config: "{}".into(),
                clock: 1_700_000_000,
                ..State::default()
            }),
        }
    }

    /// Answers `argv` on any target with `answer`.
    pub fn exec(self, argv: &[&str], answer: Canned) -> Self {
        self.state
            .borrow_mut()
            .execs
            .push((None, owned(argv), answer));
        self
    }

    /// Answers `argv` on `target` with `answer` (preferred over [`MockHost::exec`]'s).
    pub fn exec_on(self, target: &str, argv: &[&str], answer: Canned) -> Self {
        let entry = (Some(target.to_owned()), owned(argv), answer);
        self.state.borrow_mut().execs.push(entry);
        self
    }

    /// Answers the declared script `name` run with `args` on any target.
    pub fn script(self, name: &str, args: &[&str], answer: Canned) -> Self {
        let entry = (None, name.to_owned(), Some(owned(args)), answer);
        self.state.borrow_mut().scripts.push(entry);
        self
    }

    /// Answers the declared script `name` whatever its arguments, on any target (the
    /// arguments are still recorded; a [`MockHost::script`] answer for the exact arguments
    /// is not preferred over it: the last added matching answer wins).
    pub fn script_any_args(self, name: &str, answer: Canned) -> Self {
        let entry = (None, name.to_owned(), None, answer);
        self.state.borrow_mut().scripts.push(entry);
        self
    }

    /// Answers `collector::collect` for `data_type` with `data` (what the parser would
    /// have produced; compute it with [`crate::App::parse`] on a fixture).
    pub fn collected(self, data_type: &str, data: Value) -> Self {
        let entry = (data_type.to_owned(), Ok(data));
        self.state.borrow_mut().collected.extend([entry]);
        self
    }

    /// Serves `collector::collect` as the host does for data types with no canned data: runs
    /// the request's steps through the canned commands (recorded like any other), then the
    /// request's parser of `app` (the plugin's own, e.g. `crate::__infrastructor_plugin_app()`)
    /// on their outputs.
    pub fn parsers(self, app: &'static crate::App) -> Self {
        self.state.borrow_mut().parsers = Some(app);
        self
    }

    /// Answers `collector::collect` for `data_type` with `error`.
    pub fn collect_fails(self, data_type: &str, error: Error) -> Self {
        let entry = (data_type.to_owned(), Err(error));
        self.state.borrow_mut().collected.extend([entry]);
        self
    }

    /// Adds a stored snapshot of `data_type` for `target`.
    pub fn snapshot(self, data_type: &str, target: &str, data: &Value) -> Self {
        let mut state = self.state.borrow_mut();
        let snapshot = wst::Snapshot {
            data_type: data_type.to_owned(),
            target: target.to_owned(),
            cache_key: format!("{data_type}:{target}"),
            collected_at: stamp(state.clock),
            data: data.to_string(),
        };
        state.snapshots.push(snapshot);
        drop(state);
        self
    }

    /// Adds an online, monitored device `hostname` of `device_type` to the registry.
    pub fn device(self, hostname: &str, device_type: &str) -> Self {
        let mut state = self.state.borrow_mut();
        let device = new_device(state.devices.len(), hostname, device_type, state.clock);
        state.devices.push(device);
        drop(state);
        self
    }

    /// Sets the plugin's configuration section.
    pub fn config(self, config: &Value) -> Self {
        self.state.borrow_mut().config = config.to_string();
        self
    }

    /// Sets the clock, in seconds since the Unix epoch.
    pub fn clock(self, unix_secs: u64) -> Self {
        self.state.borrow_mut().clock = unix_secs;
        self
    }

    /// Makes `jobs::is_cancelled` answer `cancelled`.
    pub fn cancelled(self, cancelled: bool) -> Self {
        self.state.borrow_mut().cancelled = cancelled;
        self
    }

    /// Makes this host answer the current thread's host calls until the guard drops (the
    /// host installed before, if any, then answers again).
    pub fn install(self) -> MockGuard {
        let mock = Rc::new(self);
        let previous = host::install(Some(mock.clone()));
        MockGuard { mock, previous }
    }

    fn record(&self, call: HostCall) {
        self.state.borrow_mut().calls.push(call);
    }

    /// The host's collection: every step through the canned commands, then the parser.
    fn collect_through(
        &self,
        app: &crate::App,
        request: &wc::CollectRequest,
    ) -> Result<Value, Error> {
        let mut outputs = Vec::with_capacity(request.steps.len());
        for step in &request.steps {
            let out = self.run(&request.target, &step.command)?;
            outputs.push(
                crate::StepOutput::new(&step.name, out.exit_code, out.stdout)
                    .with_stderr(out.stderr),
            );
        }
        let args = if request.parser_args.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&request.parser_args)
                .map_err(|e| Error::internal(format!("parser arguments are not JSON: {e}")))?
        };
        app.parse(&request.parser, &outputs, &args)
    }

    fn run(&self, target: &str, command: &types::Command) -> Result<ws::ExecOutput, E> {
        match command {
            types::Command::Argv(argv) => self.exec_argv(target, argv),
            types::Command::Script(call) => self.exec_script(target, &call.name, &call.args),
        }
    }

    fn exec_argv(&self, target: &str, argv: &[String]) -> Result<ws::ExecOutput, E> {
        self.record(HostCall::Exec {
            target: target.to_owned(),
            argv: argv.to_vec(),
        });
        let state = self.state.borrow();
        let found = best(
            state
                .execs
                .iter()
                .filter(|(_, a, _)| a == argv)
                .map(|(t, _, c)| (t, c)),
            target,
        );
        match found {
            Some(canned) => canned.answer(),
            None => Err(unmatched(target, &format!("{argv:?}"))),
        }
    }

    fn exec_script(&self, target: &str, name: &str, args: &[String]) -> Result<ws::ExecOutput, E> {
        self.record(HostCall::Script {
            target: target.to_owned(),
            name: name.to_owned(),
            args: args.to_vec(),
        });
        let state = self.state.borrow();
        let found = best(
            state
                .scripts
                .iter()
                .filter(|(_, n, a, _)| n == name && a.as_deref().is_none_or(|a| a == args))
                .map(|(t, _, _, c)| (t, c)),
            target,
        );
        match found {
            Some(canned) => canned.answer(),
            None => Err(unmatched(target, &format!("script `{name}` {args:?}"))),
        }
    }
}

/// The canned answer for `target` if there is one, else the one for any target (the last
/// added wins in both).
fn best<'a>(
    candidates: impl Iterator<Item = (&'a Option<String>, &'a Canned)>,
    target: &str,
) -> Option<&'a Canned> {
    let mut any = None;
    let mut exact = None;
    for (t, canned) in candidates {
        match t {
            Some(t) if t == target => exact = Some(canned),
            Some(_) => {}
            None => any = Some(canned),
        }
    }
    exact.or(any)
}

fn unmatched(target: &str, what: &str) -> E {
    Error::internal(format!(
        "mock host: no canned output for {what} on `{target}` (add it with MockHost::exec or \
         MockHost::script)"
    ))
    .into()
}

/// The clock as an RFC 3339 timestamp.
fn stamp(unix_secs: u64) -> String {
    let micros = i64::try_from(unix_secs).unwrap_or(i64::MAX / 1_000_000) * 1_000_000;
    crate::text::rfc3339_from_micros(micros)
}

fn new_device(index: usize, hostname: &str, device_type: &str, clock: u64) -> wr::Device {
    wr::Device {
        id: (index + 1).to_string(),
        hostname: hostname.to_owned(),
        ip_address: None,
        ssh_port: Some(22),
        ssh_username: None,
        ssh_identity_file: None,
        device_type: device_type.to_owned(),
        description: None,
        location: None,
        tags: "{}".into(),
        monitoring_enabled: true,
        status: wr::DeviceStatus::Online,
        last_seen: None,
        created_at: stamp(clock),
        updated_at: stamp(clock),
        extra: "{}".into(),
    }
}

/// Applies the fields that are present to `device`.
fn update_device(device: &mut wr::Device, f: &wr::DeviceFields, clock: u64) {
    if let Some(v) = &f.hostname {
        device.hostname.clone_from(v);
    }
    if let Some(v) = &f.ip_address {
        device.ip_address.clone_from(v);
    }
    if let Some(v) = f.ssh_port {
        device.ssh_port = v;
    }
    if let Some(v) = &f.ssh_username {
        device.ssh_username.clone_from(v);
    }
    if let Some(v) = &f.ssh_identity_file {
        device.ssh_identity_file.clone_from(v);
    }
    if let Some(v) = &f.device_type {
        device.device_type.clone_from(v);
    }
    if let Some(v) = &f.description {
        device.description.clone_from(v);
    }
    if let Some(v) = &f.location {
        device.location.clone_from(v);
    }
    if let Some(v) = &f.tags {
        device.tags.clone_from(v);
    }
    if let Some(v) = f.monitoring_enabled {
        device.monitoring_enabled = v;
    }
    if let Some(v) = f.status {
        device.status = v;
    }
    if let Some(v) = &f.last_seen {
        device.last_seen.clone_from(v);
    }
    if let Some(v) = &f.extra {
        device.extra.clone_from(v);
    }
    device.updated_at = stamp(clock);
}

/// Whether a stored body matches every `field = value` (the value as JSON text).
fn matches(body: &str, filter: &[wst::FieldMatch]) -> bool {
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    filter.iter().all(|m| {
        let want: Value = serde_json::from_str(&m.value).unwrap_or(Value::String(m.value.clone()));
        body.get(&m.field) == Some(&want)
    })
}

fn field_text(body: &str, field: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|b| b.get(field).cloned())
        .map(|v| v.to_string())
        .unwrap_or_default()
}

impl Host for MockHost {
    fn exec(
        &self,
        target: &str,
        argv: &[String],
        _stdin: Option<&[u8]>,
    ) -> Result<ws::ExecOutput, E> {
        self.exec_argv(target, argv)
    }

    fn run_script(
        &self,
        target: &str,
        script: &str,
        args: &[String],
        _stdin: Option<&[u8]>,
    ) -> Result<ws::ExecOutput, E> {
        self.exec_script(target, script, args)
    }

    fn exec_all(
        &self,
        targets: &[String],
        command: &types::Command,
    ) -> Result<Vec<Result<ws::ExecOutput, E>>, E> {
        Ok(targets.iter().map(|t| self.run(t, command)).collect())
    }

    fn pipe(&self, source: &ws::PipeEnd, sink: &ws::PipeEnd) -> Result<ws::PipeOutput, E> {
        let from = self.run(&source.target, &source.command)?;
        let to = self.run(&sink.target, &sink.command)?;
        Ok(ws::PipeOutput {
            bytes: from.stdout.len() as u64,
            source: ws::PipeEndResult {
                exit_code: from.exit_code,
                stderr_tail: from.stderr,
            },
            sink: ws::PipeEndResult {
                exit_code: to.exit_code,
                stderr_tail: to.stderr,
            },
            duration_ms: 1,
        })
    }

    fn exec_with_body(&self, target: &str, command: &types::Command) -> Result<ws::ExecOutput, E> {
        self.run(target, command)
    }

    fn collect(&self, request: &wc::CollectRequest) -> Result<wc::Collected, E> {
        self.record(HostCall::Collect {
            data_type: request.data_type.clone(),
            target: request.target.clone(),
        });
        let (canned, parsers, clock) = {
            let state = self.state.borrow();
            let canned = state.collected.get(&request.data_type).cloned();
            (canned, state.parsers, state.clock)
        };
        let canned = match (canned, parsers) {
            (None, Some(app)) => Some(self.collect_through(app, request)),
            (canned, _) => canned,
        };
        match canned {
            Some(Ok(data)) => Ok(wc::Collected {
                data: data.to_string(),
                cache_key: format!("{}:{}", request.data_type, request.target),
                collected_at: stamp(clock),
                duration_ms: 1,
                cache_hit: false,
            }),
            Some(Err(e)) => Err(e.clone().into()),
            None => Err(Error::not_found(format!(
                "mock host: no canned data for data type `{}` (add it with MockHost::collected)",
                request.data_type
            ))
            .into()),
        }
    }

    fn storage_put(&self, collection: &str, id: &str, body: &str) -> Result<wst::Document, E> {
        self.record(HostCall::Storage {
            function: "put",
            collection: collection.to_owned(),
        });
        let mut state = self.state.borrow_mut();
        let now = stamp(state.clock);
        let docs = state.documents.entry(collection.to_owned()).or_default();
        let created_at = docs
            .get(id)
            .map_or_else(|| now.clone(), |d| d.created_at.clone());
        let doc = wst::Document {
            collection: collection.to_owned(),
            id: id.to_owned(),
            body: body.to_owned(),
            created_at,
            updated_at: now,
        };
        docs.insert(id.to_owned(), doc.clone());
        Ok(doc)
    }

    fn storage_get(&self, collection: &str, id: &str) -> Result<Option<wst::Document>, E> {
        self.record(HostCall::Storage {
            function: "get",
            collection: collection.to_owned(),
        });
        let state = self.state.borrow();
        Ok(state
            .documents
            .get(collection)
            .and_then(|d| d.get(id))
            .cloned())
    }

    fn storage_delete(&self, collection: &str, id: &str) -> Result<bool, E> {
        self.record(HostCall::Storage {
            function: "delete",
            collection: collection.to_owned(),
        });
        let mut state = self.state.borrow_mut();
        let removed = state
            .documents
            .get_mut(collection)
            .and_then(|d| d.remove(id));
        Ok(removed.is_some())
    }

    fn storage_query(&self, query: &wst::DocumentQuery) -> Result<wst::DocumentPage, E> {
        self.record(HostCall::Storage {
            function: "query",
            collection: query.collection.clone(),
        });
        let state = self.state.borrow();
        let mut items: Vec<wst::Document> = state
            .documents
            .get(&query.collection)
            .map(|d| {
                d.values()
                    .filter(|d| matches(&d.body, &query.filter))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if let Some(field) = &query.order_by {
            items.sort_by_key(|d| field_text(&d.body, field));
        }
        if query.descending {
            items.reverse();
        }
        let total = items.len() as u64;
        let items = items
            .into_iter()
            .skip(query.offset as usize)
            .take(query.limit as usize)
            .collect();
        Ok(wst::DocumentPage { items, total })
    }

    fn storage_count(
        &self,
        collection: &str,
        filter: &[wst::FieldMatch],
        group_by: Option<&str>,
    ) -> Result<Vec<wst::GroupCount>, E> {
        self.record(HostCall::Storage {
            function: "count",
            collection: collection.to_owned(),
        });
        let state = self.state.borrow();
        let mut groups: BTreeMap<String, u64> = BTreeMap::new();
        for doc in state
            .documents
            .get(collection)
            .into_iter()
            .flat_map(|d| d.values())
        {
            if matches(&doc.body, filter) {
                let key = group_by
                    .map(|f| field_text(&doc.body, f))
                    .unwrap_or_default();
                *groups.entry(key).or_default() += 1;
            }
        }
        if group_by.is_none() && groups.is_empty() {
            groups.insert(String::new(), 0);
        }
        Ok(groups
            .into_iter()
            .map(|(value, count)| wst::GroupCount { value, count })
            .collect())
    }

    fn storage_apply(
        &self,
        collection: &str,
        puts: &[wst::DocumentWrite],
        deletes: &[String],
    ) -> Result<u32, E> {
        for w in puts {
            self.storage_put(collection, &w.id, &w.body)?;
        }
        let mut changed = puts.len();
        for id in deletes {
            changed += usize::from(self.storage_delete(collection, id)?);
        }
        Ok(u32::try_from(changed).unwrap_or(u32::MAX))
    }

    fn snapshots(
        &self,
        data_type: &str,
        target: Option<&str>,
        limit: u32,
    ) -> Result<Vec<wst::Snapshot>, E> {
        self.record(HostCall::Storage {
            function: "snapshots",
            collection: data_type.to_owned(),
        });
        let state = self.state.borrow();
        Ok(state
            .snapshots
            .iter()
            .rev()
            .filter(|s| s.data_type == data_type && target.is_none_or(|t| s.target == t))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    fn registry_get(&self, hostname: &str) -> Result<Option<wr::Device>, E> {
        self.record(HostCall::Registry {
            function: "get",
            hostname: Some(hostname.to_owned()),
        });
        let state = self.state.borrow();
        Ok(state
            .devices
            .iter()
            .find(|d| d.hostname == hostname)
            .cloned())
    }

    fn registry_list(&self, f: &wr::DeviceFilter) -> Result<wr::DevicePage, E> {
        self.record(HostCall::Registry {
            function: "list",
            hostname: None,
        });
        let state = self.state.borrow();
        let found: Vec<wr::Device> = state
            .devices
            .iter()
            .filter(|d| f.device_type.as_ref().is_none_or(|t| &d.device_type == t))
            .filter(|d| f.status.is_none_or(|s| d.status == s))
            .filter(|d| {
                f.monitoring_enabled
                    .is_none_or(|m| d.monitoring_enabled == m)
            })
            .filter(|d| {
                f.location
                    .as_ref()
                    .is_none_or(|l| d.location.as_deref() == Some(l.as_str()))
            })
            .filter(|d| {
                f.search
                    .as_ref()
                    .is_none_or(|s| d.hostname.contains(s.as_str()))
            })
            .cloned()
            .collect();
        let total = found.len() as u64;
        let items = found
            .into_iter()
            .skip(f.offset as usize)
            .take(f.limit as usize)
            .collect();
        Ok(wr::DevicePage { items, total })
    }

    fn registry_create(&self, fields: &wr::DeviceFields) -> Result<wr::Device, E> {
        let hostname = fields.hostname.clone().unwrap_or_default();
        self.record(HostCall::Registry {
            function: "create",
            hostname: Some(hostname.clone()),
        });
        let mut state = self.state.borrow_mut();
        if hostname.is_empty() {
            return Err(Error::invalid("hostname", "is required").into());
        }
        if state.devices.iter().any(|d| d.hostname == hostname) {
            return Err(Error::conflict(format!("device `{hostname}` already exists")).into());
        }
        let mut device = new_device(state.devices.len(), &hostname, "server", state.clock);
        update_device(&mut device, fields, state.clock);
        state.devices.push(device.clone());
        Ok(device)
    }

    fn registry_update(&self, hostname: &str, fields: &wr::DeviceFields) -> Result<wr::Device, E> {
        self.record(HostCall::Registry {
            function: "update",
            hostname: Some(hostname.to_owned()),
        });
        let mut state = self.state.borrow_mut();
        let clock = state.clock;
        match state.devices.iter_mut().find(|d| d.hostname == hostname) {
            Some(device) => {
                update_device(device, fields, clock);
                Ok(device.clone())
            }
            None => Err(Error::not_found(format!("device `{hostname}` not found")).into()),
        }
    }

    fn registry_delete(&self, hostname: &str) -> Result<bool, E> {
        self.record(HostCall::Registry {
            function: "delete",
            hostname: Some(hostname.to_owned()),
        });
        let mut state = self.state.borrow_mut();
        let before = state.devices.len();
        state.devices.retain(|d| d.hostname != hostname);
        Ok(state.devices.len() != before)
    }

    fn config(&self) -> String {
        self.record(HostCall::Config);
        self.state.borrow().config.clone()
    }

    fn progress(&self, done: u64, total: Option<u64>, unit: &str, _message: &str) {
        self.state
            .borrow_mut()
            .progress
            .push((done, total, unit.to_owned()));
    }

    fn job_log(&self, level: wl::Level, line: &str) {
        self.state.borrow_mut().logs.push(LogLine {
            level: from_wit(level),
            message: line.to_owned(),
            fields: Vec::new(),
        });
    }

    fn is_cancelled(&self) -> bool {
        self.state.borrow().cancelled
    }

    fn enqueue(&self, operation_id: &str, body: &str) -> Result<String, E> {
        self.record(HostCall::Enqueue {
            operation_id: operation_id.to_owned(),
            body: body.to_owned(),
        });
        let count = self.state.borrow().calls.len();
        Ok(format!("job-{count}"))
    }

    fn log(&self, level: wl::Level, message: &str, fields: &[types::Pair]) {
        self.state.borrow_mut().logs.push(LogLine {
            level: from_wit(level),
            message: message.to_owned(),
            fields: fields
                .iter()
                .map(|p| (p.name.clone(), p.value.clone()))
                .collect(),
        });
    }

    fn now_secs(&self) -> u64 {
        self.state.borrow().clock
    }
}

fn from_wit(level: wl::Level) -> Level {
    match level {
        wl::Level::Trace => Level::Trace,
        wl::Level::Debug => Level::Debug,
        wl::Level::Info => Level::Info,
        wl::Level::Warn => Level::Warn,
        wl::Level::Error => Level::Error,
    }
}

/// The installed mock host: inspect what the plugin did through it. Dropping it uninstalls
/// the mock (restoring the host installed before, if any).
#[must_use = "the mock host is uninstalled when the guard drops"]
pub struct MockGuard {
    mock: Rc<MockHost>,
    previous: Option<Rc<dyn Host>>,
}

impl std::fmt::Debug for MockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.mock.fmt(f)
    }
}

impl Drop for MockGuard {
    fn drop(&mut self) {
        host::install(self.previous.take());
    }
}

impl MockGuard {
    /// Every host call so far, in order.
    pub fn calls(&self) -> Vec<HostCall> {
        self.mock.state.borrow().calls.clone()
    }

    /// The argv of every program run so far (`HostCall::Exec`), in order.
    pub fn ran(&self) -> Vec<Vec<String>> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                HostCall::Exec { argv, .. } => Some(argv),
                _ => None,
            })
            .collect()
    }

    /// Log events and job log lines written so far.
    pub fn logs(&self) -> Vec<LogLine> {
        self.mock.state.borrow().logs.clone()
    }

    /// Progress reports so far: done, total, unit.
    pub fn progress(&self) -> Vec<(u64, Option<u64>, String)> {
        self.mock.state.borrow().progress.clone()
    }

    /// The stored body of `collection`/`id`, as JSON.
    pub fn stored(&self, collection: &str, id: &str) -> Option<Value> {
        let state = self.mock.state.borrow();
        let doc = state.documents.get(collection)?.get(id)?;
        serde_json::from_str(&doc.body).ok()
    }

    /// Moves the clock to `unix_secs`.
    pub fn set_clock(&self, unix_secs: u64) {
        self.mock.state.borrow_mut().clock = unix_secs;
    }

    /// Forgets the calls recorded so far (canned answers and stored data stay).
    pub fn clear_calls(&self) {
        self.mock.state.borrow_mut().calls.clear();
    }
}
