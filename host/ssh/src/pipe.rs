//! Host-to-host pipes and streamed stdin: the stdout of a command on one target flows into
//! the stdin of a command on another (or the same) target through this process, a bounded
//! number of chunks at a time, so a slow sink slows the source through SSH flow control and
//! memory stays flat whatever the size of the stream.
//!
//! Either side failing stops the other: a source that exits non-zero or loses its connection
//! gets the sink killed (so a receiver never commits a truncated stream as if complete), and
//! a sink that ends or loses its connection early gets the source killed. Dropping the
//! future (a cancelled job), the timeout, or a stall (no byte moved for the idle limit)
//! stops both.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::stream::StreamEnd;
use crate::{ExecOutput, ExecStream, RemoteCommand, SshError, SshPool, Target};

/// How much of a side's standard error a pipe keeps: the end of it.
pub const STDERR_TAIL_BYTES: usize = 4096;

/// Chunks in flight between the source reader and the sink writer.
const PIPE_CHUNKS: usize = 8;

/// How one end of a pipe ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeEndResult {
    /// Exit status; -1 when killed, stopped or unknown.
    pub exit_code: i32,
    /// The last [`STDERR_TAIL_BYTES`] of its standard error.
    pub stderr_tail: Vec<u8>,
    /// Set when this side was killed because the other side failed.
    pub killed: bool,
}

/// What a pipe did, when both sides ran to an end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeOutput {
    /// Bytes that went from the source's stdout into the sink's stdin.
    pub bytes: u64,
    /// The source command's end.
    pub source: PipeEndResult,
    /// The sink command's end.
    pub sink: PipeEndResult,
    /// Wall-clock time.
    pub duration: Duration,
}

/// How long a pipe may run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipeLimits {
    /// The whole pipe, start to end; `None` sets no limit.
    pub total: Option<Duration>,
    /// The longest time with no byte moved from the source into the sink while the source
    /// still runs (a source that has stopped writing without ending, or a sink that has
    /// stopped reading); `None` sets no limit. The sink's own end after the source's is
    /// bounded by `total` only.
    pub idle: Option<Duration>,
}

/// One side of a pipe: a command on a target.
#[derive(Debug, Clone, Copy)]
pub struct PipeSide<'a> {
    /// Where it runs.
    pub target: &'a Target,
    /// What runs.
    pub command: &'a RemoteCommand,
}

fn tail(mut stderr: Vec<u8>) -> Vec<u8> {
    if stderr.len() > STDERR_TAIL_BYTES {
        stderr.drain(..stderr.len() - STDERR_TAIL_BYTES);
    }
    stderr
}

fn ended(end: StreamEnd) -> PipeEndResult {
    PipeEndResult {
        exit_code: end.exit_code,
        stderr_tail: tail(end.stderr),
        killed: false,
    }
}

fn killed(why: &str) -> PipeEndResult {
    PipeEndResult {
        exit_code: -1,
        stderr_tail: why.as_bytes().to_vec(),
        killed: true,
    }
}

/// The error of a side that lost its connection, naming the side and the bytes moved.
fn lost(side: &str, error: SshError, bytes: u64) -> SshError {
    match error {
        SshError::Disconnected { target, message } => SshError::Disconnected {
            target,
            message: format!(
                "the pipe's {side} lost its connection after {bytes} bytes: {message}"
            ),
        },
        other => other,
    }
}

impl SshPool {
    /// Pipes `source`'s stdout into `sink`'s stdin. `on_bytes` is called with the running
    /// total after every chunk (cheap: it should only store the number).
    ///
    /// Returns both ends when both commands ran to an end (a non-zero exit is still `Ok`,
    /// with the other side killed and marked so). Errors: connect/auth for either side
    /// (nothing moved), `Disconnected` when a side lost its connection mid-way (the other is
    /// killed), `Timeout` past `limits.total` and `Stalled` past `limits.idle` (both killed).
    pub async fn pipe(
        self: &Arc<Self>,
        source: PipeSide<'_>,
        sink: PipeSide<'_>,
        limits: PipeLimits,
        mut on_bytes: impl FnMut(u64) + Send,
    ) -> Result<PipeOutput, SshError> {
        let started = Instant::now();
        let (stdin_tx, stdin_rx) = mpsc::channel::<Bytes>(PIPE_CHUNKS);
        let sink_stream = self
            .stream(sink.target, sink.command, Some(stdin_rx))
            .await?;
        // Dropping the sink stream (an error below) kills the sink before it saw any data.
        let source_stream = self.stream(source.target, source.command, None).await?;
        let route = || format!("{} → {}", source.target.display(), sink.target.display());
        let run = pump(
            source_stream,
            sink_stream,
            stdin_tx,
            limits.idle,
            &mut on_bytes,
        );
        let outcome = match limits.total {
            Some(limit) => {
                tokio::time::timeout(limit, run)
                    .await
                    .map_err(|_| SshError::Timeout {
                        target: route(),
                        after: limit,
                    })?
            }
            None => run.await,
        };
        let outcome = outcome.map_err(|e| match e {
            Pumped::Stalled { idle, bytes } => SshError::Stalled {
                target: route(),
                idle,
                bytes,
            },
            Pumped::Failed(e) => e,
        });
        let (bytes, source, sink) = outcome?;
        Ok(PipeOutput {
            bytes,
            source,
            sink,
            duration: started.elapsed(),
        })
    }

    /// Runs `command` on `target` with `stdin` chunks as its standard input (closed when the
    /// sender is dropped), collecting stdout and stderr under the pool's output cap.
    ///
    /// The caller decides what an aborted input means: dropping this future before the
    /// sender is dropped kills the command, so a half-sent stream never reaches EOF.
    /// Errors: as [`SshPool::exec`], `OutputTooLarge` over the cap.
    pub async fn exec_streamed_stdin(
        self: &Arc<Self>,
        target: &Target,
        command: &RemoteCommand,
        stdin: mpsc::Receiver<Bytes>,
    ) -> Result<ExecOutput, SshError> {
        let started = Instant::now();
        let cap = self.config().max_output_bytes;
        let mut stream = self.stream(target, command, Some(stdin)).await?;
        let mut stdout = Vec::new();
        while let Some(chunk) = stream.next_chunk().await {
            if stdout.len() + chunk.len() > cap {
                drop(stream);
                return Err(SshError::OutputTooLarge {
                    target: target.display(),
                    limit: cap,
                });
            }
            stdout.extend_from_slice(&chunk);
        }
        let end = stream.finish().await;
        if let Some(error) = end.error {
            return Err(error);
        }
        Ok(ExecOutput {
            exit_code: end.exit_code,
            stdout,
            stderr: end.stderr,
            duration: started.elapsed(),
        })
    }
}

/// Why [`pump`] did not see both sides to an end.
enum Pumped {
    /// No byte moved for `idle` while the source ran; `bytes` had moved by then.
    Stalled { idle: Duration, bytes: u64 },
    /// A side failed.
    Failed(SshError),
}

impl From<SshError> for Pumped {
    fn from(e: SshError) -> Self {
        Pumped::Failed(e)
    }
}

/// What one step of [`pump`] did.
enum Move {
    /// A chunk of this many bytes went into the sink's stdin.
    Moved(u64),
    /// The source's stdout is finished.
    SourceDone,
    /// The sink's stdin is closed.
    SinkClosed,
}

/// Moves the source's stdout into the sink's stdin until one side ends, then settles both:
/// (bytes, source end, sink end). While the source runs, `idle` bounds the time between
/// two moved chunks (and before the first).
async fn pump(
    source: ExecStream,
    sink: ExecStream,
    stdin: mpsc::Sender<Bytes>,
    idle: Option<Duration>,
    on_bytes: &mut (impl FnMut(u64) + Send),
) -> Result<(u64, PipeEndResult, PipeEndResult), Pumped> {
    let (mut source_out, source_end) = source.into_parts();
    let (mut sink_out, sink_end) = sink.into_parts();
    // Boxed so each can be dropped (its command killed) at a chosen point.
    let mut source_end = Box::pin(source_end);
    let mut sink_end = Box::pin(sink_end);
    // The sink's own stdout is not part of the stream: drain it so it never blocks the sink.
    let drain = tokio::spawn(async move { while sink_out.recv().await.is_some() {} });
    let _abort_drain = AbortOnDrop(drain);
    let mut bytes = 0u64;
    // Only polled with an idle limit (its arm is disabled otherwise).
    let idle_for = idle.unwrap_or(Duration::from_secs(100 * 365 * 24 * 3600));
    let stalled = tokio::time::sleep(idle_for);
    tokio::pin!(stalled);
    loop {
        // One chunk from the source's stdout into the sink's stdin.
        let next = async {
            let Some(chunk) = source_out.recv().await else {
                return Move::SourceDone;
            };
            let len = chunk.len() as u64;
            match stdin.send(chunk).await {
                Ok(()) => Move::Moved(len),
                Err(_) => Move::SinkClosed,
            }
        };
        tokio::select! {
            moved = next => match moved {
                Move::Moved(len) => {
                    bytes += len;
                    on_bytes(bytes);
                    // A limit too far to add to the clock (any `ssh.pipe_idle_secs` is
                    // accepted) keeps the far deadline `sleep` clamped it to.
                    if let Some(at) = tokio::time::Instant::now().checked_add(idle_for) {
                        stalled.as_mut().reset(at);
                    }
                }
                Move::SourceDone => break,
                // The sink stopped reading: it ended or lost its connection.
                Move::SinkClosed => return sink_gone((&mut sink_end).await, bytes),
            },
            end = &mut sink_end => return sink_gone(end, bytes),
            () = &mut stalled, if idle.is_some() => {
                return Err(Pumped::Stalled { idle: idle_for, bytes });
            }
        }
    }
    // The source's stdout is finished: see how it ended before the sink sees EOF.
    let source_result = (&mut source_end).await;
    if let Some(error) = source_result.error.clone() {
        drop(sink_end);
        drop(stdin);
        return Err(lost("source", error, bytes).into());
    }
    if source_result.exit_code != 0 {
        // A failed source must not look like a complete stream to the sink: kill it before
        // its stdin closes.
        drop(sink_end);
        drop(stdin);
        return Ok((
            bytes,
            ended(source_result),
            killed("killed: the source failed"),
        ));
    }
    drop(stdin);
    let sink_result = (&mut sink_end).await;
    if let Some(error) = sink_result.error.clone() {
        return Err(lost("sink", error, bytes).into());
    }
    Ok((bytes, ended(source_result), ended(sink_result)))
}

/// The sink ended before the source: the source is killed (its stream is dropped by the
/// caller's return), and the sink's end says why.
fn sink_gone(end: StreamEnd, bytes: u64) -> Result<(u64, PipeEndResult, PipeEndResult), Pumped> {
    if let Some(error) = end.error.clone() {
        return Err(lost("sink", error, bytes).into());
    }
    Ok((bytes, killed("killed: the sink ended first"), ended(end)))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_keeps_its_tail() {
        let long: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let t = tail(long.clone());
        assert_eq!(t.len(), STDERR_TAIL_BYTES);
        assert_eq!(t[..], long[long.len() - STDERR_TAIL_BYTES..]);
        assert_eq!(tail(b"short".to_vec()), b"short");
    }
}
