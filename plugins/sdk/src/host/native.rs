//! Native stand-ins for the WIT imports, routed to the [`Host`] installed on this thread.

use std::cell::RefCell;
use std::rc::Rc;

use crate::bindings::infrastructor::plugin::{
    collector as wc, log as wl, registry as wr, ssh as ws, storage as wst, types,
};

/// The error type of every import.
type E = types::Error;

/// What a native host answers: one method per WIT import the SDK wraps, with the imports'
/// own types.
pub(crate) trait Host {
    fn exec(
        &self,
        target: &str,
        argv: &[String],
        stdin: Option<&[u8]>,
    ) -> Result<ws::ExecOutput, E>;
    fn run_script(
        &self,
        target: &str,
        script: &str,
        args: &[String],
        stdin: Option<&[u8]>,
    ) -> Result<ws::ExecOutput, E>;
    fn exec_all(
        &self,
        targets: &[String],
        command: &types::Command,
    ) -> Result<Vec<Result<ws::ExecOutput, E>>, E>;
    fn pipe(&self, source: &ws::PipeEnd, sink: &ws::PipeEnd) -> Result<ws::PipeOutput, E>;
    fn exec_with_body(&self, target: &str, command: &types::Command) -> Result<ws::ExecOutput, E>;
    fn collect(&self, request: &wc::CollectRequest) -> Result<wc::Collected, E>;
    fn storage_put(&self, collection: &str, id: &str, body: &str) -> Result<wst::Document, E>;
    fn storage_get(&self, collection: &str, id: &str) -> Result<Option<wst::Document>, E>;
    fn storage_delete(&self, collection: &str, id: &str) -> Result<bool, E>;
    fn storage_query(&self, query: &wst::DocumentQuery) -> Result<wst::DocumentPage, E>;
    fn storage_count(
        &self,
        collection: &str,
        filter: &[wst::FieldMatch],
        group_by: Option<&str>,
    ) -> Result<Vec<wst::GroupCount>, E>;
    fn storage_apply(
        &self,
        collection: &str,
        puts: &[wst::DocumentWrite],
        deletes: &[String],
    ) -> Result<u32, E>;
    fn snapshots(
        &self,
        data_type: &str,
        target: Option<&str>,
        limit: u32,
    ) -> Result<Vec<wst::Snapshot>, E>;
    fn registry_get(&self, hostname: &str) -> Result<Option<wr::Device>, E>;
    fn registry_list(&self, filter: &wr::DeviceFilter) -> Result<wr::DevicePage, E>;
    fn registry_create(&self, fields: &wr::DeviceFields) -> Result<wr::Device, E>;
    fn registry_update(&self, hostname: &str, fields: &wr::DeviceFields) -> Result<wr::Device, E>;
    fn registry_delete(&self, hostname: &str) -> Result<bool, E>;
    fn config(&self) -> String;
    fn progress(&self, done: u64, total: Option<u64>, unit: &str, message: &str);
    fn job_log(&self, level: wl::Level, line: &str);
    fn is_cancelled(&self) -> bool;
    fn enqueue(&self, operation_id: &str, body: &str) -> Result<String, E>;
    fn log(&self, level: wl::Level, message: &str, fields: &[types::Pair]);
    fn now_secs(&self) -> u64;
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<dyn Host>>> = const { RefCell::new(None) };
}

/// Makes `host` answer this thread's host calls; returns the one it replaces.
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) fn install(host: Option<Rc<dyn Host>>) -> Option<Rc<dyn Host>> {
    CURRENT.with(|c| c.replace(host))
}

/// The installed host, if any.
pub(crate) fn installed() -> Option<Rc<dyn Host>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// The installed host; panics with directions when there is none.
fn host() -> Rc<dyn Host> {
    installed().unwrap_or_else(|| {
        panic!(
            "a plugin called the host natively with no mock host installed: enable the SDK's \
             `testing` feature and install one first, e.g. \
             `let host = infrastructor_sdk::testing::MockHost::new().install();`"
        )
    })
}

/// `ssh` stand-ins.
pub(crate) mod ssh {
    pub(crate) use crate::bindings::infrastructor::plugin::ssh::*;
    use crate::bindings::infrastructor::plugin::types::Command;

    pub(crate) fn exec(
        target: &str,
        argv: &[String],
        stdin: Option<&[u8]>,
        _timeout_ms: u32,
    ) -> Result<ExecOutput, Error> {
        super::host().exec(target, argv, stdin)
    }

    pub(crate) fn run_script(
        target: &str,
        script: &str,
        args: &[String],
        stdin: Option<&[u8]>,
        _timeout_ms: u32,
    ) -> Result<ExecOutput, Error> {
        super::host().run_script(target, script, args, stdin)
    }

    pub(crate) fn exec_all(
        targets: &[String],
        command: &Command,
        _timeout_ms: u32,
    ) -> Result<Vec<Result<ExecOutput, Error>>, Error> {
        super::host().exec_all(targets, command)
    }

    pub(crate) fn pipe(
        source: &PipeEnd,
        sink: &PipeEnd,
        _options: PipeOptions,
    ) -> Result<PipeOutput, Error> {
        super::host().pipe(source, sink)
    }

    pub(crate) fn exec_with_body(
        target: &str,
        command: &Command,
        _timeout_ms: u32,
    ) -> Result<ExecOutput, Error> {
        super::host().exec_with_body(target, command)
    }
}

/// `collector` stand-ins.
pub(crate) mod collector {
    pub(crate) use crate::bindings::infrastructor::plugin::collector::*;

    pub(crate) fn collect(request: &CollectRequest) -> Result<Collected, Error> {
        super::host().collect(request)
    }
}

/// `storage` stand-ins.
pub(crate) mod storage {
    pub(crate) use crate::bindings::infrastructor::plugin::storage::*;

    pub(crate) fn put(collection: &str, id: &str, body: &str) -> Result<Document, Error> {
        super::host().storage_put(collection, id, body)
    }

    pub(crate) fn get(collection: &str, id: &str) -> Result<Option<Document>, Error> {
        super::host().storage_get(collection, id)
    }

    pub(crate) fn delete(collection: &str, id: &str) -> Result<bool, Error> {
        super::host().storage_delete(collection, id)
    }

    pub(crate) fn list(collection: &str, limit: u32, offset: u32) -> Result<Vec<Document>, Error> {
        let query = DocumentQuery {
            collection: collection.to_owned(),
            filter: Vec::new(),
            order_by: None,
            descending: false,
            limit,
            offset,
        };
        Ok(super::host().storage_query(&query)?.items)
    }

    pub(crate) fn query(query: &DocumentQuery) -> Result<DocumentPage, Error> {
        super::host().storage_query(query)
    }

    pub(crate) fn count(
        collection: &str,
        filter: &[FieldMatch],
        group_by: Option<&str>,
    ) -> Result<Vec<GroupCount>, Error> {
        super::host().storage_count(collection, filter, group_by)
    }

    pub(crate) fn apply(
        collection: &str,
        puts: &[DocumentWrite],
        deletes: &[String],
    ) -> Result<u32, Error> {
        super::host().storage_apply(collection, puts, deletes)
    }

    pub(crate) fn snapshots(
        data_type: &str,
        target: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Snapshot>, Error> {
        super::host().snapshots(data_type, target, limit)
    }

    pub(crate) fn latest_snapshots(data_type: &str) -> Result<Vec<Snapshot>, Error> {
        super::host().snapshots(data_type, None, u32::MAX)
    }
}

/// `registry` stand-ins.
pub(crate) mod registry {
    pub(crate) use crate::bindings::infrastructor::plugin::registry::*;

    pub(crate) fn get(hostname: &str) -> Result<Option<Device>, Error> {
        super::host().registry_get(hostname)
    }

    pub(crate) fn list(filter: &DeviceFilter) -> Result<DevicePage, Error> {
        super::host().registry_list(filter)
    }

    pub(crate) fn create(fields: &DeviceFields) -> Result<Device, Error> {
        super::host().registry_create(fields)
    }

    pub(crate) fn update(hostname: &str, fields: &DeviceFields) -> Result<Device, Error> {
        super::host().registry_update(hostname, fields)
    }

    pub(crate) fn delete(hostname: &str) -> Result<bool, Error> {
        super::host().registry_delete(hostname)
    }
}

/// `config` stand-in.
pub(crate) mod config {
    pub(crate) fn get() -> String {
        super::host().config()
    }
}

/// `jobs` stand-ins: without a mock host, progress and log lines go to standard error and
/// nothing is cancelled; queueing needs the mock.
pub(crate) mod jobs {
    use crate::bindings::infrastructor::plugin::log::Level;
    use crate::bindings::infrastructor::plugin::types::Error;

    pub(crate) fn progress(done: u64, total: Option<u64>, unit: &str, message: &str) {
        match super::installed() {
            Some(h) => h.progress(done, total, unit, message),
            None => eprintln!("[progress] {done}/{total:?} {unit} {message}"),
        }
    }

    pub(crate) fn log(level: Level, line: &str) {
        match super::installed() {
            Some(h) => h.job_log(level, line),
            None => eprintln!("[job {level:?}] {line}"),
        }
    }

    pub(crate) fn is_cancelled() -> bool {
        super::installed().is_some_and(|h| h.is_cancelled())
    }

    pub(crate) fn enqueue(operation_id: &str, body: &str) -> Result<String, Error> {
        super::host().enqueue(operation_id, body)
    }
}

/// `log` stand-in: recorded by the mock host when one is installed, else standard error.
pub(crate) mod log {
    pub(crate) use crate::bindings::infrastructor::plugin::log::*;
    use crate::bindings::infrastructor::plugin::types::Pair;

    pub(crate) fn log(level: Level, message: &str, fields: &[Pair]) {
        match super::installed() {
            Some(h) => h.log(level, message, fields),
            None => {
                let fields: String = fields
                    .iter()
                    .map(|p| format!(" {}={:?}", p.name, p.value))
                    .collect();
                eprintln!("[{level:?}] {message}{fields}");
            }
        }
    }
}

/// The time: the installed host's clock, else the system's.
#[allow(clippy::disallowed_methods)] // native only: the system clock exists here
pub(crate) fn now_secs() -> u64 {
    match installed() {
        Some(h) => h.now_secs(),
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    }
}
