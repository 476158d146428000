//! The built-in vms plugin, mounted at `/api/vms`: libvirt on managed hosts. The daemon's
//! logs (modular daemons and monolithic `libvirtd`, files under the configured log
//! directory, else the journal) and one VM's qemu log, both tail-limited ([`logs`]); the
//! VMs from `virsh list --all` and one VM's `virsh dominfo` ([`domains`], parsed by
//! [`parse`]). VM names are checked ([`parse::is_vm_name`]) and passed as arguments.

mod domains;
#[cfg(test)]
mod host_tests;
mod logs;
mod manifest;
pub mod parse;
mod settings;

infrastructor_sdk::export_plugin!(manifest::app);

/// Property tests (`tests/props.rs`), compiled into this crate's unit-test binary: one test
/// binary per crate, and no second build of the library for an integration test.
#[cfg(test)]
#[path = "../tests/props.rs"]
mod props;
