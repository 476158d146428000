//! The pool: one connection per target, bounded channels per connection, `exec`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio::sync::{Mutex as AsyncMutex, OwnedSemaphorePermit, Semaphore, oneshot};

use crate::command::{kill_group, remote_text};
use crate::connection::{self, Connection};
use crate::stderr::RemoteStderr;
use crate::{HostKeyPolicy, RemoteCommand, SshError};

/// Pool settings (from the host's `ssh.*` config).
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Private keys tried in order after a target's own identity file.
    pub identity_files: Vec<PathBuf>,
    /// Directories identity files must be in (canonical; see [`crate::identity`]).
    pub identity_dirs: Vec<PathBuf>,
    /// Passphrase for encrypted keys.
    pub key_passphrase: Option<String>,
    /// The known_hosts file.
    pub known_hosts: PathBuf,
    /// Host-key policy.
    pub host_key_policy: HostKeyPolicy,
    /// Time to connect and authenticate.
    pub connect_timeout: Duration,
    /// Concurrent channels per connection for commands; one more is kept for stopping
    /// commands given up on, so this stays below sshd's `MaxSessions`.
    pub max_sessions: usize,
    /// Idle connections close after this.
    pub idle_timeout: Duration,
    /// Output cap per stream (stdout, stderr) of one command.
    pub max_output_bytes: usize,
    /// Longest command text sent in one `exec` request (quoted argv or script plus its
    /// arguments); longer commands fail with [`SshError::CommandTooLarge`] before any
    /// channel is opened.
    pub max_command_bytes: usize,
}

/// Where to run: an address, port, user and optional identity file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Address or DNS name to connect to.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Login user.
    pub user: String,
    /// A key tried before the configured ones.
    pub identity_file: Option<PathBuf>,
    /// Whether an unknown host key may be recorded under
    /// [`HostKeyPolicy::AcceptNew`]; when false such a key is refused as under
    /// [`HostKeyPolicy::Strict`] (a read request to an unregistered host never records one).
    pub may_record_key: bool,
}

impl Target {
    /// `user@host:port`, for messages.
    pub fn display(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status; -1 when killed by a signal or when the server sent none.
    pub exit_code: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// Wall-clock duration.
    pub duration: Duration,
}

struct Slot {
    sessions: Arc<Semaphore>,
    /// The one channel beyond `sessions` that kills of commands given up on use.
    kills: Arc<Semaphore>,
    connection: AsyncMutex<Option<Arc<Connection>>>,
    /// Connections made.
    connects: AtomicU64,
    /// Connection attempts that failed, host-key refusals excluded.
    connect_failures: AtomicU64,
    /// Connection attempts refused over the server's host key.
    host_key_refusals: AtomicU64,
}

/// What one target's slot has done and holds, read at metrics scrape time
/// ([`SshPool::stats`]).
#[derive(Debug, Clone)]
pub struct TargetStats {
    /// The target.
    pub target: Target,
    /// Whether its connection is open (false while it is being made).
    pub open: bool,
    /// Channels in use (commands running or opening) on it.
    pub channels_in_use: usize,
    /// Connections made since the pool started.
    pub connects: u64,
    /// Failed connection attempts (unreachable, auth…), host-key refusals excluded.
    pub connect_failures: u64,
    /// Connection attempts refused over the server's host key.
    pub host_key_refusals: u64,
}

/// The pool. Cheap to share behind an `Arc`.
pub struct SshPool {
    config: PoolConfig,
    slots: Mutex<HashMap<Target, Arc<Slot>>>,
    /// Remote process groups being stopped right now (see [`SshPool::settle`]).
    stopping: Arc<std::sync::atomic::AtomicUsize>,
}

/// A channel-open slot plus the connection to open it on.
pub(crate) struct Lease {
    pub connection: Arc<Connection>,
    pub _permit: OwnedSemaphorePermit,
}

impl SshPool {
    /// A pool; spawns the idle reaper when called inside a tokio runtime.
    pub fn new(config: PoolConfig) -> Arc<SshPool> {
        let pool = Arc::new(SshPool {
            config,
            slots: Mutex::new(HashMap::new()),
            stopping: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            let weak = Arc::downgrade(&pool);
            let every = (pool.config.idle_timeout / 2).max(Duration::from_secs(1));
            tokio::spawn(reap_idle(weak, every));
        }
        pool
    }

    /// The settings.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    fn slot(&self, target: &Target) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .entry(target.clone())
            .or_insert_with(|| {
                Arc::new(Slot {
                    sessions: Arc::new(Semaphore::new(self.config.max_sessions.max(1))),
                    kills: Arc::new(Semaphore::new(1)),
                    connection: AsyncMutex::new(None),
                    connects: AtomicU64::new(0),
                    connect_failures: AtomicU64::new(0),
                    host_key_refusals: AtomicU64::new(0),
                })
            })
            .clone()
    }

    /// Number of live connections (for tests and metrics).
    pub async fn connection_count(&self) -> usize {
        let slots: Vec<Arc<Slot>> = self
            .slots
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        let mut n = 0;
        for slot in slots {
            if slot
                .connection
                .lock()
                .await
                .as_ref()
                .is_some_and(|c| !c.handle.is_closed())
            {
                n += 1;
            }
        }
        n
    }

    /// Every target's counters and gauges (for metrics). Never waits: a connection being
    /// made right now counts as not open.
    pub fn stats(&self) -> Vec<TargetStats> {
        let slots: Vec<(Target, Arc<Slot>)> = self
            .slots
            .lock()
            .map(|s| s.iter().map(|(t, s)| (t.clone(), s.clone())).collect())
            .unwrap_or_default();
        let max = self.config.max_sessions.max(1);
        slots
            .into_iter()
            .map(|(target, slot)| TargetStats {
                open: slot
                    .connection
                    .try_lock()
                    .is_ok_and(|c| c.as_ref().is_some_and(|c| !c.handle.is_closed())),
                channels_in_use: max.saturating_sub(slot.sessions.available_permits()),
                connects: slot.connects.load(Ordering::Relaxed),
                connect_failures: slot.connect_failures.load(Ordering::Relaxed),
                host_key_refusals: slot.host_key_refusals.load(Ordering::Relaxed),
                target,
            })
            .collect()
    }

    /// Closes every idle-or-busy connection; the next command on a target connects and
    /// authenticates again (after a key or known_hosts change). Commands running on a
    /// closed connection fail with `Disconnected`.
    pub async fn disconnect_all(&self) {
        let slots: Vec<Arc<Slot>> = self
            .slots
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        for slot in slots {
            if let Some(c) = slot.connection.lock().await.take() {
                let _ = c
                    .handle
                    .disconnect(russh::Disconnect::ByApplication, "reconnect", "en")
                    .await;
            }
        }
    }

    /// The live connection of `slot`, connecting (once, for all waiters) when needed.
    async fn connection(
        &self,
        slot: &Slot,
        target: &Target,
        fresh: bool,
    ) -> Result<Arc<Connection>, SshError> {
        let mut guard = slot.connection.lock().await;
        if let Some(c) = guard.as_ref()
            && !fresh
            && !c.handle.is_closed()
        {
            return Ok(c.clone());
        }
        let started = Instant::now();
        let c = match connection::connect(&self.config, target).await {
            Ok(c) => Arc::new(c),
            Err(e) => {
                let counter = match e {
                    SshError::HostKey { .. } => &slot.host_key_refusals,
                    _ => &slot.connect_failures,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        slot.connects.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(target = %target.display(), ms = started.elapsed().as_millis() as u64, "ssh connected");
        *guard = Some(c.clone());
        Ok(c)
    }

    /// Opens a session channel: waits (fairly) for a free session slot, reconnects once if
    /// the connection is found dead, retries once if the server refuses the channel. The
    /// command has not been sent yet at any of these points.
    pub(crate) async fn open(
        &self,
        target: &Target,
    ) -> Result<(russh::Channel<russh::client::Msg>, Lease), SshError> {
        let slot = self.slot(target);
        let permit = slot
            .sessions
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SshError::Invalid("pool closed".into()))?;
        let mut connection = self.connection(&slot, target, false).await?;
        let mut reconnected = false;
        let mut refused_once = false;
        loop {
            match connection.handle.channel_open_session().await {
                Ok(channel) => {
                    connection.touch();
                    return Ok((
                        channel,
                        Lease {
                            connection,
                            _permit: permit,
                        },
                    ));
                }
                Err(russh::Error::ChannelOpenFailure(reason)) if !refused_once => {
                    tracing::debug!(target = %target.display(), ?reason, "channel open refused; retrying once");
                    refused_once = true;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) if !reconnected => {
                    tracing::info!(target = %target.display(), error = %e, "ssh connection broken; reconnecting");
                    reconnected = true;
                    connection = self.connection(&slot, target, true).await?;
                }
                Err(e) => {
                    return Err(SshError::Disconnected {
                        target: target.display(),
                        message: format!("cannot open a channel: {e}"),
                    });
                }
            }
        }
    }

    /// Runs `command` with optional `stdin`, waiting at most `timeout` for it to finish.
    ///
    /// Returns the real exit status and both outputs. Errors: connect/host key/auth
    /// (nothing ran), `Timeout` (the remote process group was signalled), `OutputTooLarge`
    /// (stopped likewise), `Disconnected` (the connection broke mid-command: the outcome is
    /// unknown and the command is **not** retried).
    ///
    /// Dropping the future once the command started (a cancelled job, a request whose
    /// client left) stops the remote process group too, from a spawned task.
    pub async fn exec(
        self: &Arc<Self>,
        target: &Target,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<ExecOutput, SshError> {
        let text = remote_text(command, self.config.max_command_bytes)?;
        let started = Instant::now();
        let (channel, lease) = self.open(target).await?;
        // The command runs in a task of its own: when this future is dropped, the task
        // sees `abandoned` and stops the remote process group itself (waiting for its
        // marker when it has not arrived yet), so no command is left running orphaned.
        let (_abandon, abandoned) = oneshot::channel::<()>();
        let run = RunExec {
            pool: self.clone(),
            target: target.clone(),
            text,
            stdin: stdin.map(<[u8]>::to_vec),
            timeout,
        };
        let task = run.run(channel, lease, abandoned);
        let collected = tokio::spawn(tracing::Instrument::in_current_span(task))
            .await
            .map_err(|e| SshError::Invalid(format!("the command's task failed: {e}")))??;
        Ok(ExecOutput {
            exit_code: collected.exit_code.unwrap_or(-1),
            stdout: collected.stdout,
            stderr: collected.stderr,
            duration: started.elapsed(),
        })
    }

    /// Waits (at most `within`) until no remote process group is being stopped, so a
    /// process about to exit does not abandon the kills of the commands it gave up on.
    pub async fn settle(&self, within: Duration) {
        let deadline = Instant::now() + within;
        // Kills are started from tasks that may not have run yet.
        tokio::time::sleep(Duration::from_millis(100)).await;
        while self.stopping.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Ends a command's channel, `read` and `write` being its halves and `lease` the
    /// session slot it was opened with: `write` is closed and `lease` given back. A command
    /// given up on (`give_up`: timed out, over the output cap, or its caller gone) first has
    /// its process group stopped; one that ended by itself, or whose connection broke, has
    /// nothing left to stop.
    ///
    /// When the process-group marker has not arrived yet (a command abandoned just after
    /// it started), it is waited for, at most [`MARKER_WAIT`]; a channel that closes first
    /// means the command already ended. The group is then stopped (see
    /// [`SshPool::stop_group`]) while the command's channel stays open (closing it first
    /// would hand the command an EOF on stdin, and a cut-off upload would complete) and is
    /// drained: russh hands every channel of a connection its messages from one task and
    /// waits when a channel's queue is full, so a command still writing into a channel
    /// nobody reads would hold back the kill's own answer on the same connection, and every
    /// other command there, until the kill times out. The channel is closed last.
    pub(crate) async fn end_command(
        &self,
        target: &Target,
        read: &mut ChannelReadHalf,
        write: &ChannelWriteHalf<russh::client::Msg>,
        lease: Lease,
        stderr: &mut RemoteStderr,
        give_up: bool,
    ) {
        if !give_up {
            let _ = write.close().await;
            return;
        }
        let _stopping = self.stopping();
        if !stderr.marker_seen() {
            let marker = async {
                while let Some(msg) = read.wait().await {
                    match msg {
                        ChannelMsg::ExtendedData { data, ext: 1 } => {
                            stderr.push(&data);
                            if stderr.marker_seen() {
                                return true;
                            }
                        }
                        ChannelMsg::Close => return false,
                        _ => {}
                    }
                }
                false
            };
            let running = tokio::time::timeout(MARKER_WAIT, marker)
                .await
                .unwrap_or(true);
            if !running {
                let _ = write.close().await;
                return;
            }
        }
        let stopping = self.stop_group(target, stderr.pgid(), lease);
        let drain = async { while read.wait().await.is_some() {} };
        tokio::pin!(stopping, drain);
        tokio::select! {
            () = &mut stopping => {}
            () = &mut drain => stopping.await,
        }
        let _ = write.close().await;
    }

    /// Counts a stop in progress until dropped (what [`SshPool::settle`] waits for).
    fn stopping(&self) -> Stopping {
        self.stopping.fetch_add(1, Ordering::SeqCst);
        Stopping(self.stopping.clone())
    }

    /// Stops a remote process group (best effort), on a new channel beside the command's
    /// own on `lease`'s connection, in the target's one kill slot rather than a session
    /// slot: commands given up on in every session slot of a target are then all stopped,
    /// where each kill would otherwise wait for a session slot that only the kills free.
    /// (Kills are a round trip each; the kill slot is why `max_sessions` must stay below
    /// sshd's `MaxSessions`.) When that connection broke, the kill goes through a session
    /// slot on a new one.
    async fn stop_group(&self, target: &Target, pgid: Option<u32>, lease: Lease) {
        let _stopping = self.stopping();
        let Some(pgid) = pgid else {
            tracing::warn!(target = %target.display(), "a command given up on gave no process group; only its channel is closed");
            return;
        };
        let Ok(text) = kill_group(pgid).to_remote() else {
            return;
        };
        let attempt = async {
            let kills = self.slot(target).kills.clone();
            let _kill_slot = kills
                .acquire_owned()
                .await
                .map_err(|_| SshError::Invalid("pool closed".into()))?;
            let (channel, _lease) = match lease.connection.handle.channel_open_session().await {
                Ok(channel) => (channel, lease),
                Err(e) => {
                    tracing::debug!(target = %target.display(), error = %e, "cannot open the kill's channel beside the command's; opening one anew");
                    drop(lease);
                    self.open(target).await?
                }
            };
            channel
                .exec(true, text.as_bytes())
                .await
                .map_err(|e| disconnected(target, e))?;
            let _ = channel.eof().await;
            let mut channel = channel;
            while channel.wait().await.is_some() {}
            Ok::<(), SshError>(())
        };
        match tokio::time::timeout(Duration::from_secs(5), attempt).await {
            Ok(Ok(())) => {
                tracing::info!(target = %target.display(), pgid, "stopped remote process group")
            }
            Ok(Err(e)) => {
                tracing::warn!(target = %target.display(), pgid, error = %e, "cannot stop remote process group")
            }
            Err(_) => {
                tracing::warn!(target = %target.display(), pgid, "stopping remote process group timed out")
            }
        }
    }
}

/// How long a command given up on may take to report its process group.
const MARKER_WAIT: Duration = Duration::from_secs(5);

/// A stop in progress, counted in [`SshPool::stopping`] until dropped.
struct Stopping(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Stopping {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One [`SshPool::exec`], run in its own task.
struct RunExec {
    pool: Arc<SshPool>,
    target: Target,
    text: String,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

/// How the command's run ended.
enum Ended {
    Ran(Result<(), CollectError>),
    TimedOut,
    Abandoned,
}

impl RunExec {
    async fn run(
        self,
        channel: russh::Channel<russh::client::Msg>,
        lease: Lease,
        abandoned: oneshot::Receiver<()>,
    ) -> Result<Collected, SshError> {
        let target = &self.target;
        let (mut read, write) = channel.split();
        let mut out = Collected::default();
        let mut stderr = RemoteStderr::default();
        let cap = self.pool.config.max_output_bytes;
        let run = async {
            write
                .exec(true, self.text.as_bytes())
                .await
                .map_err(|e| disconnected(target, e))?;
            // Stdin is fed beside the collecting, never before it: a command that exits
            // without reading all of it closes its channel, and a write waiting for window
            // space would then wait until the timeout. A write that fails is not the
            // outcome either: what the channel reports (exit status, or the connection
            // gone) is.
            let feed = async {
                if let Some(input) = &self.stdin {
                    write.data(&input[..]).await?;
                }
                write.eof().await
            };
            let connection = &lease.connection;
            let collecting = collect(&mut read, target, cap, connection, &mut out, &mut stderr);
            tokio::pin!(feed, collecting);
            let mut feeding = true;
            loop {
                tokio::select! {
                    fed = &mut feed, if feeding => {
                        feeding = false;
                        if let Err(e) = fed {
                            tracing::debug!(target = %target.display(), error = %e, "stdin not fed whole");
                        }
                    }
                    collected = &mut collecting => break collected,
                }
            }
        };
        let ended = tokio::select! {
            ran = tokio::time::timeout(self.timeout, run) => match ran {
                Ok(ran) => Ended::Ran(ran),
                Err(_) => Ended::TimedOut,
            },
            _ = abandoned => Ended::Abandoned,
        };
        // Whether the command was given up on: one that ended by itself (or whose
        // connection broke) has nothing left to stop.
        let (result, given_up) = match ended {
            Ended::Ran(Ok(())) => (Ok(()), false),
            Ended::Ran(Err(CollectError::Ssh(e))) => (Err(e), false),
            Ended::Ran(Err(CollectError::TooLarge)) => (
                Err(SshError::OutputTooLarge {
                    target: target.display(),
                    limit: cap,
                }),
                true,
            ),
            Ended::TimedOut => (
                Err(SshError::Timeout {
                    target: format!("{}:{}", target.host, target.port),
                    after: self.timeout,
                }),
                true,
            ),
            Ended::Abandoned => {
                tracing::info!(target = %target.display(), "command abandoned; stopping its process group");
                (
                    Err(SshError::Invalid("the command was abandoned".into())),
                    true,
                )
            }
        };
        self.pool
            .end_command(target, &mut read, &write, lease, &mut stderr, given_up)
            .await;
        out.stderr = stderr.into_bytes();
        result.map(|()| out)
    }
}

pub(crate) fn disconnected(target: &Target, e: russh::Error) -> SshError {
    SshError::Disconnected {
        target: target.display(),
        message: e.to_string(),
    }
}

/// Outputs gathered from a channel.
#[derive(Default)]
pub(crate) struct Collected {
    pub exit_code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

pub(crate) enum CollectError {
    TooLarge,
    Ssh(SshError),
}

impl From<SshError> for CollectError {
    fn from(e: SshError) -> Self {
        CollectError::Ssh(e)
    }
}

/// The error of a command whose connection closed before it reported how it ended (an
/// exit status or a signal): `None` while the connection is up.
pub(crate) fn lost_before_exit(target: &Target, connection: &Connection) -> Option<SshError> {
    connection
        .handle
        .is_closed()
        .then(|| SshError::Disconnected {
            target: target.display(),
            message: "the connection closed before the command reported its exit status".into(),
        })
}

/// Reads a channel until it closes into `out` (stdout, exit status) and `stderr`, each
/// capped. `stderr` stays with the caller, so a run given up on can still find the
/// process-group marker (see [`SshPool::end_command`]).
async fn collect(
    read: &mut ChannelReadHalf,
    target: &Target,
    cap: usize,
    connection: &Connection,
    out: &mut Collected,
    stderr: &mut RemoteStderr,
) -> Result<(), CollectError> {
    let mut signalled = false;
    while let Some(msg) = read.wait().await {
        match msg {
            ChannelMsg::Data { data } => {
                if out.stdout.len() + data.len() > cap {
                    return Err(CollectError::TooLarge);
                }
                out.stdout.extend_from_slice(&data);
            }
            ChannelMsg::ExtendedData { data, ext: 1 } => {
                stderr.push(&data);
                if stderr.len() > cap {
                    return Err(CollectError::TooLarge);
                }
            }
            ChannelMsg::ExitStatus { exit_status } => {
                out.exit_code = Some(i32::try_from(exit_status).unwrap_or(-1));
            }
            ChannelMsg::ExitSignal { .. } => signalled = true,
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    stderr.settle();
    if out.exit_code.is_none()
        && !signalled
        && let Some(lost) = lost_before_exit(target, connection)
    {
        return Err(lost.into());
    }
    Ok(())
}

/// Closes connections idle longer than the configured time; ends with the pool.
async fn reap_idle(pool: Weak<SshPool>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(pool) = pool.upgrade() else { return };
        let slots: Vec<Arc<Slot>> = pool
            .slots
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        for slot in slots {
            // Busy slots (permits out) are never idle.
            if slot.sessions.available_permits() < pool.config.max_sessions.max(1) {
                continue;
            }
            let mut guard = slot.connection.lock().await;
            if guard
                .as_ref()
                .is_some_and(|c| c.idle_for() >= pool.config.idle_timeout)
                && let Some(c) = guard.take()
            {
                let _ = c
                    .handle
                    .disconnect(russh::Disconnect::ByApplication, "idle", "en")
                    .await;
            }
        }
    }
}
