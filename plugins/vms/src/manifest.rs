//! The vms plugin's manifest: routes, scripts and capabilities.

use infrastructor_sdk::prelude::*;

use crate::logs::{LogsQuery, VmLogQuery};
use crate::parse::VM_NAME_PATTERN;
use crate::{domains, logs};

fn host() -> Param {
    Param::hostname("A registered device, or a raw host reached with the configured defaults")
}

fn vm() -> Param {
    Param::path("vm_name")
        .pattern(VM_NAME_PATTERN)
        .description("The VM (libvirt domain) name")
}

/// The plugin.
pub fn app() -> App {
    App::new("vms", env!("CARGO_PKG_VERSION"))
        .description(
            "libvirt VMs on managed hosts: daemon and VM logs (tail-limited, journald \
             fallback), the VM list and one VM's info",
        )
        .mount("/vms")
        .capability("exec:virsh **")
        .capability("exec:tail **")
        .capability("exec:journalctl **")
        .script("daemon_logs", logs::DAEMON_LOGS, &["tail"])
        .script("vm_log", logs::VM_LOG, &["tail"])
        .route(
            Route::get("/{hostname}/logs", "libvirt_logs")
.returns::<logs::LibvirtLogs>()
.error(400, "`since` is not a time journalctl understands")
.error(404, "No libvirt logs on the host")
.remote()
                .summary("libvirt daemon logs: the log files' tails, else the journal")
                .description(
                    "Every daemon log of the log directory that exists (virtqemud, virtlogd… \
                     and libvirtd), its last `lines`; without any, the daemons' journal \
                     entries. `source` says which answered.",
                )
                .param(host())
                .query::<LogsQuery>(),
            logs::daemon,
        )
        .route(
            Route::get("/{hostname}/logs/{vm_name}", "vm_log")
.returns::<logs::VmLog>()
.error(400, "Not a VM name")
.error(404, "No log of that VM")
.remote()
                .summary("One VM's qemu log, its last lines (404 when it has none)")
                .param(host())
                .param(vm())
                .query::<VmLogQuery>(),
            logs::vm,
        )
        .route(
            Route::get("/{hostname}", "list_vms")
.returns::<domains::VmList>()
.error(404, "libvirt is not available on the host")
.remote()
                .summary("VMs of `virsh list --all`: name, id, state")
                .param(host()),
            domains::list,
        )
        .route(
            Route::get("/{hostname}/{vm_name}", "vm_info")
.returns::<domains::VmInfo>()
.error(400, "Not a VM name")
.error(404, "No such VM")
.remote()
                .summary("One VM's `virsh dominfo`: state, CPUs, memory, autostart, persistence, security")
                .param(host())
                .param(vm()),
            domains::info,
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn manifest_is_valid() {
        if let Err(problems) = super::app().validate() {
            panic!("{problems:#?}");
        }
    }

    #[test]
    fn every_mounted_route_declares_its_success_response() {
        assert_eq!(super::app().untyped_routes(), Vec::<String>::new());
    }
}
