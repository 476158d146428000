//! Streaming execution: stdout as a stream of chunks (for log following and for piping one
//! host's output into another's stdin) without buffering the whole output.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use russh::ChannelMsg;
use tokio::sync::{mpsc, oneshot};

use crate::pool::{disconnected, push_stderr};
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

/// A running command whose stdout arrives in chunks. Dropping it (a client disconnect)
/// stops the remote process group.
pub struct ExecStream {
    stdout: mpsc::Receiver<Bytes>,
    end: Option<oneshot::Receiver<StreamEnd>>,
    cancel: Option<oneshot::Sender<()>>,
}

impl ExecStream {
    /// The next stdout chunk; `None` when the command's stdout is finished.
    pub async fn next_chunk(&mut self) -> Option<Bytes> {
        self.stdout.recv().await
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
    /// chunk by chunk and closed when the sender is dropped.
    pub async fn stream(
        self: &Arc<Self>,
        target: &Target,
        command: &RemoteCommand,
        stdin: Option<mpsc::Receiver<Bytes>>,
    ) -> Result<ExecStream, SshError> {
        let text = command.to_remote()?;
        let (channel, lease) = self.open(target).await?;
        channel
            .exec(true, text.as_bytes())
            .await
            .map_err(|e| disconnected(target, e))?;
        let (out_tx, out_rx) = mpsc::channel::<Bytes>(16);
        let (end_tx, end_rx) = oneshot::channel();
        let (cancel_tx, mut cancel_rx) = oneshot::channel::<()>();
        let pool = self.clone();
        let target = target.clone();
        let cap = self.config().max_output_bytes;
        tokio::spawn(async move {
            let _lease = lease;
            let (mut read, write) = channel.split();
            let pgid = AtomicU32::new(0);
            let mut stderr = Vec::new();
            let mut seen_marker = false;
            let mut exit_code = None;
            let mut stdin = stdin;
            if stdin.is_none() {
                let _ = write.eof().await;
            }
            let mut error = None;
            let mut stop = false;
            loop {
                tokio::select! {
                    _ = &mut cancel_rx, if !stop => { stop = true; break; }
                    chunk = async {
                        match stdin.as_mut() {
                            Some(rx) => rx.recv().await,
                            None => std::future::pending().await,
                        }
                    } => {
                        match chunk {
                            Some(bytes) => {
                                if let Err(e) = write.data_bytes(bytes).await {
                                    error = Some(disconnected(&target, e));
                                    break;
                                }
                            }
                            None => {
                                stdin = None;
                                let _ = write.eof().await;
                            }
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
                            if stderr.len() < cap {
                                push_stderr(&mut stderr, &mut seen_marker, &data, &pgid);
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
            if stop {
                let pgid = match pgid.load(Ordering::Relaxed) {
                    0 => None,
                    n => Some(n),
                };
                pool.stop_group(&target, pgid).await;
            }
            let _ = write.close().await;
            drop(out_tx);
            let _ = end_tx.send(StreamEnd {
                exit_code: exit_code.unwrap_or(-1),
                stderr,
                error,
            });
        });
        Ok(ExecStream {
            stdout: out_rx,
            end: Some(end_rx),
            cancel: Some(cancel_tx),
        })
    }
}
