//! Remote execution: resolving a path `hostname` to an SSH target (a registered device's
//! address, port, user and key, or a raw host with the configured defaults) and running
//! commands on it through the pool, with this layer's own errors ([`RemoteError`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use infrastructor_ssh::{
    ExecOutput, ExecStream, HostKeyPolicy, PipeLimits, PipeOutput, PipeSide, PoolConfig,
    RemoteCommand, SshError, SshPool, Target,
};
use infrastructor_store::{Store, StoreError, devices};
use tokio::sync::mpsc;

use crate::config::{self, SshConfig};
use crate::fault::{Fault, FaultKind};

/// Why a remote command could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The SSH layer failed: connect, host key, auth, timeout, output cap…
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// The name is neither a registered device nor a plausible host name.
    #[error("`{0}` is not a valid host name")]
    InvalidHost(String),
    /// No device has this name and unregistered hosts are off.
    #[error(
        "no device named `{0}` is registered (unregistered hosts are off: ssh.allow_unregistered_hosts)"
    )]
    UnknownHost(String),
    /// `name` is not a registered device and the caller may not reach unregistered hosts.
    #[error("`{0}` is not a registered device; reaching an unregistered host needs a write key")]
    RawHostForbidden(String),
    /// The device registry could not be read.
    #[error("cannot read the device registry: {0}")]
    Store(#[from] StoreError),
    /// A streamed upload failed before it ended (the command was killed, never saw EOF).
    #[error("the upload stopped after {bytes} bytes: {reason}")]
    Upload {
        /// Bytes that reached the command.
        bytes: u64,
        /// Why (client gone, too large, idle too long).
        reason: String,
    },
}

impl From<RemoteError> for Fault {
    /// unavailable (cannot connect, host key refused, auth failed, connection lost), timeout,
    /// upstream (output over the cap), bad-request (invalid target or argv).
    fn from(e: RemoteError) -> Fault {
        match e {
            RemoteError::Ssh(e) => {
                let kind = match &e {
                    SshError::Connect { .. }
                    | SshError::HostKey { .. }
                    | SshError::Auth { .. }
                    | SshError::Disconnected { .. } => FaultKind::Unavailable,
                    SshError::Timeout { .. } | SshError::Stalled { .. } => FaultKind::Timeout,
                    SshError::OutputTooLarge { .. } => FaultKind::Upstream,
                    SshError::CommandTooLarge { .. } => FaultKind::TooLarge,
                    SshError::Invalid(_) => FaultKind::BadRequest,
                };
                let message = match e {
                    SshError::Invalid(m) => m,
                    other => other.to_string(),
                };
                Fault::new(kind, message)
            }
            RemoteError::InvalidHost(_) | RemoteError::Upload { .. } => {
                Fault::bad_request(e.to_string())
            }
            RemoteError::UnknownHost(_) => Fault::not_found(e.to_string()),
            RemoteError::RawHostForbidden(_) => Fault::forbidden(e.to_string()),
            RemoteError::Store(e) => Fault::from(e),
        }
    }
}

/// What a call may do with a host that is not a registered device (with
/// `ssh.allow_unregistered_hosts` on; off, only registered devices are ever reached).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostAccess {
    /// Registered devices only: read keys, background work (poller, plugin loading).
    #[default]
    RegisteredOnly,
    /// Unregistered hosts whose key is already known: a write key on a read route.
    KnownKeysOnly,
    /// Unregistered hosts, recording a new host key under `accept-new`: a write key on a
    /// route that changes something.
    Any,
}

impl HostAccess {
    /// The access of an API call: `scope_ok` is whether the caller's key has `write` (or
    /// auth is off), `mutates` whether the route changes something.
    pub fn for_call(scope_ok: bool, mutates: bool) -> HostAccess {
        match (scope_ok, mutates) {
            (false, _) => HostAccess::RegisteredOnly,
            (true, false) => HostAccess::KnownKeysOnly,
            (true, true) => HostAccess::Any,
        }
    }
}

/// The SSH side of the host: the pool plus the defaults for unregistered hosts.
pub struct Remote {
    /// The connection pool.
    pub pool: Arc<SshPool>,
    defaults: SshConfig,
    store: Store,
}

/// Expands a leading `~/` with `$HOME`.
pub fn expand_home(path: &std::path::Path) -> PathBuf {
    match path.to_str().and_then(|s| s.strip_prefix("~/")) {
        Some(rest) => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/root"))
            .join(rest),
        None => path.to_path_buf(),
    }
}

/// The directories identity files may be in: `ssh.identity_dirs`, or by default the
/// directories of `ssh.identity_files` plus `~/.ssh`; canonical, existing ones only.
pub fn identity_dirs(c: &SshConfig) -> Vec<PathBuf> {
    let dirs: Vec<PathBuf> = if c.identity_dirs.is_empty() {
        c.identity_files
            .iter()
            .filter_map(|f| expand_home(f).parent().map(std::path::Path::to_path_buf))
            .chain(std::iter::once(expand_home(std::path::Path::new("~/.ssh"))))
            .collect()
    } else {
        c.identity_dirs.iter().map(|d| expand_home(d)).collect()
    };
    infrastructor_ssh::identity::canonical_dirs(&dirs)
}

/// The pool settings from `ssh.*`.
pub fn pool_config(c: &SshConfig) -> PoolConfig {
    PoolConfig {
        identity_dirs: identity_dirs(c),
        identity_files: c.identity_files.iter().map(|p| expand_home(p)).collect(),
        key_passphrase: c.key_passphrase.clone(),
        known_hosts: expand_home(&c.known_hosts),
        host_key_policy: match c.host_key_policy {
            config::HostKeyPolicy::Strict => HostKeyPolicy::Strict,
            config::HostKeyPolicy::AcceptNew => HostKeyPolicy::AcceptNew,
            config::HostKeyPolicy::Off => HostKeyPolicy::Off,
        },
        connect_timeout: Duration::from_secs(c.connect_timeout_secs),
        max_sessions: c.max_sessions_per_connection as usize,
        idle_timeout: Duration::from_secs(c.idle_secs),
        max_output_bytes: c.max_output_bytes,
        max_command_bytes: c.max_command_bytes,
    }
}

/// True for a plausible host name or address (no spaces, no leading `-`, no shell or URL
/// syntax): raw targets reach `TcpStream::connect`, never a shell.
pub fn is_valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && !host.starts_with('-')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
}

impl Remote {
    /// A pool from config.
    pub fn new(c: &SshConfig, store: Store) -> Remote {
        Remote {
            pool: SshPool::new(pool_config(c)),
            defaults: c.clone(),
            store,
        }
    }

    /// The default per-command timeout.
    pub fn default_timeout(&self) -> Duration {
        Duration::from_secs(self.defaults.command_timeout_secs)
    }

    /// A caller's timeout in ms, or the default when 0; capped at one hour.
    pub fn timeout(&self, timeout_ms: u32) -> Duration {
        if timeout_ms == 0 {
            self.default_timeout()
        } else {
            Duration::from_millis(u64::from(timeout_ms)).min(Duration::from_secs(3600))
        }
    }

    /// The SSH target of a registered device: its address (or hostname), port, user and key,
    /// with the configured defaults where it sets none.
    pub fn target_of(&self, d: &devices::Device) -> Target {
        Target {
            host: d.ip_address.clone().unwrap_or_else(|| d.hostname.clone()),
            port: d.ssh_port.unwrap_or(self.defaults.default_port),
            user: d
                .ssh_username
                .clone()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| self.defaults.default_user.clone()),
            identity_file: d
                .ssh_identity_file
                .as_deref()
                .map(|p| expand_home(std::path::Path::new(p))),
            may_record_key: true,
        }
    }

    /// Resolves `name`: a registered device (case-insensitive) or, when
    /// `ssh.allow_unregistered_hosts` is on and `access` allows it, a raw host.
    pub async fn resolve(&self, name: &str, access: HostAccess) -> Result<Target, RemoteError> {
        let lookup = name.to_ascii_lowercase();
        let device = self.store.read(move |c| devices::get(c, &lookup)).await?;
        let target = match device {
            Some(d) => self.target_of(&d),
            None if !self.defaults.allow_unregistered_hosts => {
                return Err(RemoteError::UnknownHost(name.to_string()));
            }
            None if access == HostAccess::RegisteredOnly => {
                return Err(RemoteError::RawHostForbidden(name.to_string()));
            }
            None => Target {
                host: name.to_string(),
                port: self.defaults.default_port,
                user: self.defaults.default_user.clone(),
                identity_file: None,
                may_record_key: access == HostAccess::Any,
            },
        };
        if !is_valid_host(&target.host) {
            return Err(RemoteError::InvalidHost(name.to_string()));
        }
        Ok(target)
    }

    /// Runs `command` on the target `name` resolves to, with `stdin` and a timeout in ms
    /// (0 = the default; see [`Remote::timeout`]).
    pub async fn exec(
        &self,
        name: &str,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
        timeout_ms: u32,
        access: HostAccess,
    ) -> Result<ExecOutput, RemoteError> {
        let target = self.resolve(name, access).await?;
        Ok(self
            .pool
            .exec(&target, command, stdin, self.timeout(timeout_ms))
            .await?)
    }

    /// Starts `command` on the target `name` resolves to and streams its output: stdout
    /// only, or (`both`) stdout and stderr as tagged events. Dropping the stream stops the
    /// remote process.
    pub async fn stream(
        &self,
        name: &str,
        command: RemoteCommand,
        both: bool,
        access: HostAccess,
    ) -> Result<ExecStream, RemoteError> {
        let target = self.resolve(name, access).await?;
        let stream = if both {
            self.pool.stream_both(&target, &command).await
        } else {
            self.pool.stream(&target, &command, None).await
        };
        Ok(stream?)
    }
}

impl Remote {
    /// Pipes the stdout of `source` (a target name and a granted command) into the stdin of
    /// `sink`, reporting the running byte count to `on_bytes`. `timeout_ms` 0 means the
    /// longest allowed (`ssh.max_pipe_secs`), which also caps any other value; a pipe that
    /// moves no byte for `ssh.pipe_idle_secs` while its source runs is stopped too.
    pub async fn pipe(
        &self,
        source: (&str, &RemoteCommand),
        sink: (&str, &RemoteCommand),
        timeout_ms: u64,
        access: HostAccess,
        on_bytes: impl FnMut(u64) + Send,
    ) -> Result<PipeOutput, RemoteError> {
        let from = self.resolve(source.0, access).await?;
        let to = self.resolve(sink.0, access).await?;
        let longest = Duration::from_secs(self.defaults.max_pipe_secs);
        let timeout = match timeout_ms {
            0 => longest,
            ms => Duration::from_millis(ms).min(longest),
        };
        Ok(self
            .pool
            .pipe(
                PipeSide {
                    target: &from,
                    command: source.1,
                },
                PipeSide {
                    target: &to,
                    command: sink.1,
                },
                PipeLimits {
                    total: Some(timeout),
                    idle: match self.defaults.pipe_idle_secs {
                        0 => None,
                        secs => Some(Duration::from_secs(secs)),
                    },
                },
                on_bytes,
            )
            .await?)
    }

    /// Runs `command` on `name` with `body` streamed into its stdin, a few chunks at a time
    /// (the command's pace sets the upload's). When the body ends the command sees EOF;
    /// when the body fails (the client left, sent too much, went quiet) the command is
    /// killed first, so it never takes a truncated stream for a whole one. A command that
    /// exits before reading everything ends the call with its own result. `timeout_ms` 0
    /// means no limit of its own.
    pub async fn exec_streamed_body(
        &self,
        name: &str,
        command: &RemoteCommand,
        mut body: impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send,
        timeout_ms: u32,
        access: HostAccess,
    ) -> Result<ExecOutput, RemoteError> {
        let target = self.resolve(name, access).await?;
        let run = async {
            let (tx, rx) = mpsc::channel::<Bytes>(8);
            // Declared before `exec`, so on every early return `exec` (whose drop kills the
            // command) is dropped before the sender (whose drop would mean EOF).
            let mut stdin = Some(tx);
            let mut exec = Box::pin(self.pool.exec_streamed_stdin(&target, command, rx));
            let mut sent = 0u64;
            loop {
                tokio::select! {
                    biased;
                    result = &mut exec => return result.map_err(RemoteError::from),
                    chunk = body.next(), if stdin.is_some() => match chunk {
                        Some(Ok(bytes)) => {
                            let len = bytes.len() as u64;
                            let Some(tx) = stdin.as_ref() else { continue };
                            tokio::select! {
                                biased;
                                result = &mut exec => return result.map_err(RemoteError::from),
                                sent_ok = tx.send(bytes) => {
                                    if sent_ok.is_err() {
                                        // The command closed its stdin: wait for its end.
                                        stdin = None;
                                    } else {
                                        sent += len;
                                    }
                                }
                            }
                        }
                        Some(Err(e)) => {
                            drop(exec);
                            drop(stdin);
                            return Err(RemoteError::Upload {
                                bytes: sent,
                                reason: e.to_string(),
                            });
                        }
                        None => stdin = None,
                    },
                }
            }
        };
        if timeout_ms == 0 {
            return run.await;
        }
        let limit = Duration::from_millis(u64::from(timeout_ms));
        tokio::time::timeout(limit, run).await.map_err(|_| {
            RemoteError::Ssh(SshError::Timeout {
                target: target.display(),
                after: limit,
            })
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_validation() {
        for ok in ["web-1", "10.0.0.1", "nas.local", "fe80::1", "host_2"] {
            assert!(is_valid_host(ok), "{ok}");
        }
        for bad in [
            "",
            "-oProxyCommand=x",
            "a b",
            "a;b",
            "$(x)",
            "h/p",
            "x".repeat(254).as_str(),
        ] {
            assert!(!is_valid_host(bad), "{bad}");
        }
    }
}
