//! Fixed CPU placement for latency measures: on a small VM the scheduler's choice of where
//! a woken thread runs (beside the client, or on an idle vCPU that must be woken first)
//! moves a loopback round trip between two modes far apart, and the mode, not the server,
//! then decides the median.

use std::fs;

use nix::sched::{CpuSet, sched_setaffinity};
use nix::unistd::Pid;

/// Pins the thread `tid` (0: the calling thread) to the CPUs in `cpus`; whether the kernel
/// took it.
pub fn pin(tid: i32, cpus: &[usize]) -> bool {
    let mut set = CpuSet::new();
    cpus.iter().all(|&cpu| set.set(cpu).is_ok())
        && sched_setaffinity(Pid::from_raw(tid), &set).is_ok()
}

/// The ids of this process's threads whose name starts with `prefix`.
pub fn threads_named(prefix: &str) -> Vec<i32> {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter(|t| fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with(prefix)))
        .filter_map(|t| t.file_name().to_str()?.parse().ok())
        .collect()
}

/// The CPUs this machine has online.
pub fn online() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
