//! Streaming execution: stdout as a stream of chunks (for log following and for piping one
//! host's output into another's stdin) without buffering the whole output.

use std::sync::Arc;

use bytes::Bytes;
use russh::ChannelMsg;
use tokio::sync::{mpsc, oneshot};

use crate::pool::{disconnected, lost_before_exit};
use crate::stderr::RemoteStderr;
use crate::{RemoteCommand, SshError, SshPool, Target};

/// How a streamed command ended.
#[derive(Debug, Clone)]
pub struct StreamEnd {
    /// Exit status; -1 when killed, stopped, or unknown.
    pub exit_code: i32,
    /// Standard error (capped).
    pub stderr: Vec<u8>,
    /// Why it ended abnormally, if it did.
    pub error: Option<SshError>,
}

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Standard output.
    Stdout,
    /// Standard error (only from [`SshPool::stream_both`]).
    Stderr,
}

/// A running command whose stdout (and, from [`SshPool::stream_both`], stderr) arrives in
/// chunks. Dropping it (a client disconnect) stops the remote process group.
pub struct ExecStream {
    stdout: mpsc::Receiver<Bytes>,
    stderr: Option<mpsc::Receiver<Bytes>>,
    end: Option<oneshot::Receiver<StreamEnd>>,
    cancel: Option<oneshot::Sender<()>>,
}

impl ExecStream {
    /// The next stdout chunk; `None` when the command's stdout is finished.
    pub async fn next_chunk(&mut self) -> Option<Bytes> {
        self.stdout.recv().await
    }

    /// The next chunk of either stream, in arrival order; `None` when both are finished.
    /// Without stderr forwarding this is [`ExecStream::next_chunk`] tagged `Stdout`.
    pub async fn next_event(&mut self) -> Option<(StreamKind, Bytes)> {
        loop {
            let Some(stderr) = self.stderr.as_mut() else {
                return self.stdout.recv().await.map(|b| (StreamKind::Stdout, b));
            };
            tokio::select! {
                biased;
                chunk = self.stdout.recv() => match chunk {
                    Some(b) => return Some((StreamKind::Stdout, b)),
                    None => {
                        // Stdout is done: drain stderr alone.
                        return match stderr.recv().await {
                            Some(b) => Some((StreamKind::Stderr, b)),
                            None => {
                                self.stderr = None;
                                None
                            }
                        };
                    }
                },
                chunk = stderr.recv() => match chunk {
                    Some(b) => return Some((StreamKind::Stderr, b)),
                    None => self.stderr = None,
                },
            }
        }
    }

    /// Waits for the end (after stdout is drained or abandoned).
    pub async fn finish(mut self) -> StreamEnd {
        self.stdout.close();
        while self.stdout.recv().await.is_some() {}
        let end = match self.end.take() {
            Some(rx) => rx.await.ok(),
            None => None,
        };
        self.cancel.take();
        end.unwrap_or(StreamEnd {
            exit_code: -1,
            stderr: Vec::new(),
            error: Some(SshError::Invalid(
                "stream task ended without a result".into(),
            )),
        })
    }

    /// Splits into the stdout receiver and a future of the end (for piping).
    pub fn into_parts(mut self) -> (mpsc::Receiver<Bytes>, impl Future<Output = StreamEnd>) {
        let (tx, rx) = mpsc::channel(1);
        let stdout = std::mem::replace(&mut self.stdout, rx);
        drop(tx);
        let end = self.end.take();
        let cancel = self.cancel.take();
        let fut = async move {
            let _keep = cancel;
            match end {
                Some(rx) => rx.await.unwrap_or(StreamEnd {
                    exit_code: -1,
                    stderr: Vec::new(),
                    error: None,
                }),
                None => StreamEnd {
                    exit_code: -1,
                    stderr: Vec::new(),
                    error: None,
                },
            }
        };
        (stdout, fut)
    }
}

impl Drop for ExecStream {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            let _ = cancel.send(());
        }
    }
}

impl SshPool {
    /// Starts `command`; its stdout arrives through the returned stream (bounded: a slow
    /// reader slows the remote writer through SSH flow control). `stdin`, when given, is fed
    /// chunk by chunk and closed when the sender is dropped. Stderr is collected (capped)
    /// into [`StreamEnd::stderr`].
    pub async fn stream(
        self: &Arc<Self>,
        target: &Target,
        command: &RemoteCommand,
        stdin: Option<mpsc::Receiver<Bytes>>,
    ) -> Result<ExecStream, SshError> {
        self.start_stream(target, command, stdin, false).await
    }

    /// Like [`SshPool::stream`], but stderr arrives as chunks too ([`ExecStream::next_event`])
    /// instead of being collected: for following a log whose two streams both matter.
    pub async fn stream_both(
        self: &Arc<Self>,
        target: &Target,
        command: &RemoteCommand,
    ) -> Result<ExecStream, SshError> {
        self.start_stream(target, command, None, true).await
    }

    async fn start_stream(
        self: &Arc<Self>,
        target: &Target,
        command: &RemoteCommand,
        stdin: Option<mpsc::Receiver<Bytes>>,
        forward_stderr: bool,
    ) -> Result<ExecStream, SshError> {
        let text = crate::command::remote_text(command, self.config().max_command_bytes)?;
        let (channel, lease) = self.open(target).await?;
        channel
            .exec(true, text.as_bytes())
            .await
            .map_err(|e| disconnected(target, e))?;
        let (out_tx, out_rx) = mpsc::channel::<Bytes>(16);
        let (err_tx, err_rx) = if forward_stderr {
            let (tx, rx) = mpsc::channel::<Bytes>(16);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let (end_tx, end_rx) = oneshot::channel();
        let (cancel_tx, mut cancel_rx) = oneshot::channel::<()>();
        let pool = self.clone();
        let target = target.clone();
        let cap = self.config().max_output_bytes;
        tokio::spawn(async move {
            let connection = lease.connection.clone();
            let (mut read, write) = channel.split();
            let mut stderr = RemoteStderr::default();
            let mut exit_code = None;
            // Stdin is fed beside the reading, never in its way: a sink that exits while a
            // write waits for window space must still be seen to end (its channel closes
            // and will never open the window again).
            let feed = async {
                if let Some(mut rx) = stdin {
                    while let Some(bytes) = rx.recv().await {
                        write
                            .data_bytes(bytes)
                            .await
                            .map_err(|e| disconnected(&target, e))?;
                    }
                }
                let _ = write.eof().await;
                Ok::<(), SshError>(())
            };
            tokio::pin!(feed);
            let mut feeding = true;
            let mut error = None;
            let mut stop = false;
            loop {
                tokio::select! {
                    // Cancellation first: a pipe drops the cancel sender before closing stdin,
                    // and a killed command must never see EOF instead.
                    biased;
                    _ = &mut cancel_rx, if !stop => { stop = true; break; }
                    fed = &mut feed, if feeding => {
                        feeding = false;
                        if let Err(e) = fed {
                            error = Some(e);
                            break;
                        }
                    }
                    msg = read.wait() => match msg {
                        Some(ChannelMsg::Data { data }) => {
                            if out_tx.send(Bytes::copy_from_slice(&data)).await.is_err() {
                                // The reader went away (client disconnected).
                                stop = true;
                                break;
                            }
                        }
                        Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                            if err_tx.is_some() || stderr.len() < cap {
                                stderr.push(&data);
                            }
                            // Forwarded once the process-group marker line is stripped.
                            if let Some(tx) = err_tx.as_ref().filter(|_| stderr.marker_seen() && !stderr.is_empty()) {
                                let chunk = Bytes::from(stderr.take());
                                if tx.send(chunk).await.is_err() {
                                    stop = true;
                                    break;
                                }
                            }
                        }
                        Some(ChannelMsg::ExitStatus { exit_status }) => {
                            exit_code = Some(i32::try_from(exit_status).unwrap_or(-1));
                        }
                        Some(ChannelMsg::Close) | None => break,
                        Some(_) => {}
                    }
                }
            }
            if !stop && error.is_none() && exit_code.is_none() {
                error = lost_before_exit(&target, &connection);
            }
            pool.end_command(&target, &mut read, &write, lease, &mut stderr, stop)
                .await;
            stderr.settle();
            if let Some(tx) = err_tx.as_ref().filter(|_| !stderr.is_empty()) {
                let _ = tx.send(Bytes::from(stderr.take())).await;
            }
            drop(out_tx);
            drop(err_tx);
            let _ = end_tx.send(StreamEnd {
                exit_code: exit_code.unwrap_or(-1),
                stderr: stderr.into_bytes(),
                error,
            });
        });
        Ok(ExecStream {
            stdout: out_rx,
            stderr: err_rx,
            end: Some(end_rx),
            cancel: Some(cancel_tx),
        })
    }
}
