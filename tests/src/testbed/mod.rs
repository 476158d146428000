//! The real testbed: OpenSSH `sshd` "devices", a private `dockerd` (and a SWAG-like nginx
//! container in it, [`swag`]), `zfs-fuse` pools on file vdevs, `nginx -t` and a headless
//! Chromium ([`browser`]), each started by
//! the test that needs it, with private state under a temp dir, and stopped **by PID** when
//! its handle is dropped (never by name).
//!
//! Every constructor first checks its programs with [`tools::require`], which panics with the
//! Debian package to install when one is missing: a missing tool is a failing test, never a
//! silent skip.
//!
//! The API is synchronous (`std::process`): starting a device takes a few hundred
//! milliseconds, which is fine to do from an async test (or inside `spawn_blocking`).

pub mod browser;
pub mod docker;
pub mod journal;
pub mod nginx;
pub mod sshd;
pub mod swag;
pub mod tools;
pub mod zfs;

pub use browser::Browser;
pub use docker::Docker;
pub use journal::Journal;
pub use nginx::{CheckOutcome, nginx_check};
pub use sshd::{ControlMaster, Sshd, SshdOptions, control_master, ssh_command};
pub use swag::{SWAG_IMAGE, SwagContainer, SwagTree};
pub use zfs::{Pool, PoolSpec, Zfs};

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// Runs `cmd` to completion, failing (with its stderr) unless it exits 0. Returns its output.
pub(crate) fn run_ok(cmd: &mut Command, what: &str) -> Result<Output> {
    let output = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("{what}: cannot run {cmd:?}"))?;
    if !output.status.success() {
        bail!(
            "{what}: {cmd:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            String::from_utf8_lossy(&output.stdout).trim()
        );
    }
    Ok(output)
}

/// Runs `cmd` with piped output, killing it (by PID) if it has not finished after `timeout`.
pub(crate) fn run_with_timeout(cmd: &mut Command, timeout: Duration, what: &str) -> Result<Output> {
    use std::io::Read;
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("{what}: cannot run {cmd:?}"))?;
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .map(|pipe| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    })
    .collect();
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            kill_tree(&mut child)?;
            bail!("{what}: {cmd:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut outputs = readers
        .into_iter()
        .map(|reader| reader.join().unwrap_or_default());
    let stdout = outputs.next().unwrap_or_default();
    let stderr = outputs.next().unwrap_or_default();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Polls `ready` every `every` until it returns `Ok(true)`, an error, or `timeout` passes.
pub(crate) fn wait_until(
    timeout: Duration,
    every: Duration,
    mut ready: impl FnMut() -> Result<bool>,
) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        if ready()? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(every);
    }
}

/// The last `max` bytes of a log file (for error messages).
pub(crate) fn log_tail(path: &Path, max: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(max);
    String::from_utf8_lossy(&text[start..]).trim().to_string()
}

/// Parent PID and state letter of a process, from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(u32, char)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid …": comm may hold spaces and parentheses, so split at the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((ppid, state))
}

/// Whether `pid` names a live process (a zombie counts as gone).
pub fn process_alive(pid: u32) -> bool {
    matches!(stat(pid), Some((_, state)) if state != 'Z' && state != 'X')
}

/// `root` and every live process descending from it (from a scan of `/proc`).
pub(crate) fn process_tree(root: u32) -> BTreeSet<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((ppid, state)) = stat(pid)
                && state != 'Z'
            {
                parents.push((pid, ppid));
            }
        }
    }
    let mut tree = BTreeSet::from([root]);
    loop {
        let before = tree.len();
        for &(pid, ppid) in &parents {
            if tree.contains(&ppid) {
                tree.insert(pid);
            }
        }
        if tree.len() == before {
            return tree;
        }
    }
}

fn nix_pid(pid: u32) -> Option<Pid> {
    i32::try_from(pid).ok().map(Pid::from_raw)
}

/// Sends `signal` to one process; false if it is gone.
pub(crate) fn signal_pid(pid: u32, signal: Signal) -> bool {
    nix_pid(pid).is_some_and(|p| kill(p, signal).is_ok())
}

/// Freezes (SIGSTOP) `root`'s descendants, and `root` itself when `with_root`, rescanning
/// until no new process appears (a frozen process cannot fork). Returns the frozen set.
pub(crate) fn freeze_tree(root: u32, with_root: bool) -> BTreeSet<u32> {
    let mut seen = BTreeSet::new();
    for _ in 0..50 {
        let mut tree = process_tree(root);
        if !with_root {
            tree.remove(&root);
        }
        let new: Vec<u32> = tree.difference(&seen).copied().collect();
        if new.is_empty() {
            break;
        }
        for &pid in &new {
            signal_pid(pid, Signal::SIGSTOP);
        }
        seen.extend(new);
    }
    seen
}

/// SIGKILLs `pids` and waits (up to 10 s) until each one has died (a zombie counts as dead:
/// whoever is its parent reaps it).
pub(crate) fn kill_and_wait(pids: &BTreeSet<u32>) {
    for &pid in pids {
        signal_pid(pid, Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&pid| process_alive(pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills `child` (the leader of its own process group) and every process descending from
/// it, by PID: the whole tree is frozen with SIGSTOP first (so nothing forks past the scan),
/// then SIGKILLed; the child is reaped and the others are waited for until they are dead.
/// Processes that detached from the tree earlier (double forks re-parented to init) are out
/// of reach and are the caller's business.
pub(crate) fn kill_tree(child: &mut Child) -> Result<ExitStatus> {
    let root = child.id();
    if let Some(pgid) = nix_pid(root) {
        let _ = killpg(pgid, Signal::SIGSTOP);
    }
    let tree = freeze_tree(root, true);
    if let Some(pgid) = nix_pid(root) {
        let _ = killpg(pgid, Signal::SIGKILL);
    }
    for &pid in &tree {
        signal_pid(pid, Signal::SIGKILL);
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for PID {root}"))?;
    kill_and_wait(&tree);
    Ok(status)
}

/// Sends `signal` to `child`, waits up to `grace` for it to exit, then kills its tree.
/// Returns whether it exited within the grace period.
pub(crate) fn stop_gracefully(child: &mut Child, signal: Signal, grace: Duration) -> Result<bool> {
    if child.try_wait()?.is_some() {
        return Ok(true);
    }
    signal_pid(child.id(), signal);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    kill_tree(child)?;
    Ok(false)
}

/// Quotes `s` for a POSIX shell (single quotes).
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Mount points at or below `dir`, deepest first (from `/proc/self/mountinfo`).
pub(crate) fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().to_string();
    let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|m| *m == prefix || m.starts_with(&format!("{prefix}/")))
        .collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    mounts
}

fn unescape_mountinfo(field: &str) -> String {
    // Octal escapes: \040 (space), \011 (tab), \012 (newline), \134 (backslash).
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            if let Ok(n) = u8::from_str_radix(&code, 8) {
                out.push(char::from(n));
                continue;
            }
            out.push('\\');
            out.push_str(&code);
        } else {
            out.push(c);
        }
    }
    out
}

/// Lazily unmounts whatever is still mounted at or below `dir` (clean-up of last resort,
/// so a temp dir can be removed after a daemon died without unmounting).
pub(crate) fn unmount_all_under(dir: &Path) {
    for mount in mounts_under(dir) {
        let _ = Command::new("umount")
            .args(["-l", "--", &mount])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}
