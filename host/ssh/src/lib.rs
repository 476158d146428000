//! The SSH execution pool.
//!
//! One authenticated russh connection per target, one channel per command (a few ms instead
//! of a new connection's ~90 ms), at most `max_sessions` concurrent channels per connection
//! (below sshd's `MaxSessions`), waiters queued fairly, host keys checked against a
//! known_hosts file, and results that keep the real exit status.
//!
//! Safety rules this crate enforces:
//! - A command is argv (every element quoted for the remote POSIX shell) or a constant
//!   script whose arguments arrive as `$1…`: see [`RemoteCommand`].
//! - Nothing is retried once the command may have started. The only retries are a refused
//!   channel open and a connection found dead before the command was sent.
//! - A timed-out command is stopped on the remote side (its whole process group), not just
//!   abandoned.

#![forbid(unsafe_code)]

mod command;
mod connection;
mod error;
mod hostkeys;
pub mod identity;
mod pipe;
mod pool;
mod stderr;
mod stream;

pub use command::RemoteCommand;
pub use error::SshError;
pub use hostkeys::HostKeyPolicy;
pub use pipe::{PipeEndResult, PipeLimits, PipeOutput, PipeSide, STDERR_TAIL_BYTES};
pub use pool::{ExecOutput, PoolConfig, SshPool, Target, TargetStats};
pub use stream::{ExecStream, StreamEnd, StreamKind};
