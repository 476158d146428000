//! Errors of remote execution, distinct by what the caller should do about them.

use std::time::Duration;

/// Why a remote command did not produce an exit status.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SshError {
    /// The host could not be reached (refused, unresolvable, connect timeout).
    #[error("cannot connect to {target}: {message}")]
    Connect {
        /// `user@host:port`.
        target: String,
        /// What failed.
        message: String,
    },
    /// The host's key is unknown or changed and the policy refuses it.
    #[error("host key of {target} refused: {message}")]
    HostKey {
        /// `host:port`.
        target: String,
        /// Which key (fingerprint) and why.
        message: String,
    },
    /// No configured key or agent identity was accepted.
    #[error("authentication to {target} failed: {message}")]
    Auth {
        /// `user@host:port`.
        target: String,
        /// What was tried.
        message: String,
    },
    /// The command did not finish in time; it was stopped on the remote side.
    #[error("command on {target} timed out after {:.1} s", after.as_secs_f64())]
    Timeout {
        /// `host:port`.
        target: String,
        /// The timeout.
        after: Duration,
    },
    /// A host-to-host pipe moved no byte for its idle limit while its source ran (a source
    /// that stopped writing without ending, or a sink that stopped reading); both sides
    /// were stopped.
    #[error("the pipe {target} moved no bytes for {:.0} s (after {bytes} bytes); both sides were stopped", idle.as_secs_f64())]
    Stalled {
        /// `source → sink`.
        target: String,
        /// The idle limit.
        idle: Duration,
        /// Bytes moved before the stall.
        bytes: u64,
    },
    /// The command wrote more than the configured cap; it was stopped.
    #[error("command on {target} wrote more than {limit} bytes; output cap exceeded")]
    OutputTooLarge {
        /// `host:port`.
        target: String,
        /// The cap.
        limit: usize,
    },
    /// The connection broke while the command ran (its outcome is unknown).
    #[error("connection to {target} lost: {message}")]
    Disconnected {
        /// `host:port`.
        target: String,
        /// What happened.
        message: String,
    },
    /// The command line is longer than the configured cap; nothing was sent.
    #[error("the command is {size} bytes long; at most {limit} bytes may be sent to a device")]
    CommandTooLarge {
        /// Its encoded size in bytes.
        size: usize,
        /// The cap (`ssh.max_command_bytes`).
        limit: usize,
    },
    /// The request itself is wrong (empty argv, bad target).
    #[error("{0}")]
    Invalid(String),
}

impl SshError {
    /// True for errors that mean the host is unreachable or refuses us (connect, host key,
    /// auth): the poller's back-off and `offline` marking count these.
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            SshError::Connect { .. } | SshError::HostKey { .. } | SshError::Auth { .. }
        )
    }
}
