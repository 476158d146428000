//! `ssh`: remote commands, argv or a declared script, after the granter allowed them.

use std::sync::Arc;

use infrastructor_ssh::{PipeEndResult, RemoteCommand};

use crate::fault::Fault;
use crate::plugins::bindings::v0_2::WitError;
use crate::plugins::bindings::v0_2::infrastructor::plugin::ssh;
use crate::plugins::instance::InstanceState;

use super::collector::command_from_wit;
use super::to_wit_error;

/// Most targets one `exec-all` call may name.
const MAX_EXEC_ALL_TARGETS: usize = 256;
/// Most commands of one `exec-all` call running at once.
const EXEC_ALL_IN_FLIGHT: usize = 16;

fn end_to_wit(e: PipeEndResult) -> ssh::PipeEndResult {
    ssh::PipeEndResult {
        exit_code: e.exit_code,
        stderr_tail: e.stderr_tail,
    }
}

fn output_to_wit(out: infrastructor_ssh::ExecOutput) -> ssh::ExecOutput {
    ssh::ExecOutput {
        exit_code: out.exit_code,
        stdout: out.stdout,
        stderr: out.stderr,
        duration_ms: out.duration.as_millis() as u64,
    }
}

impl InstanceState {
    async fn run_remote(
        &mut self,
        target: String,
        command: RemoteCommand,
        stdin: Option<Vec<u8>>,
        timeout_ms: u32,
    ) -> Result<ssh::ExecOutput, WitError> {
        let remote = self.services.remote.clone();
        let hosts = self.call.hosts;
        self.timed(async move {
            remote
                .exec(&target, &command, stdin.as_deref(), timeout_ms, hosts)
                .await
        })
        .await
        .map(output_to_wit)
        .map_err(|e| to_wit_error(e.into()))
    }
}

impl ssh::Host for InstanceState {
    async fn exec(
        &mut self,
        target: String,
        argv: Vec<String>,
        stdin: Option<Vec<u8>>,
        timeout_ms: u32,
    ) -> Result<ssh::ExecOutput, WitError> {
        let command = self.granter().exec(argv).map_err(to_wit_error)?;
        self.run_remote(target, command, stdin, timeout_ms).await
    }

    async fn run_script(
        &mut self,
        target: String,
        script: String,
        args: Vec<String>,
        stdin: Option<Vec<u8>>,
        timeout_ms: u32,
    ) -> Result<ssh::ExecOutput, WitError> {
        let command = self.granter().script(&script, args).map_err(to_wit_error)?;
        self.run_remote(target, command, stdin, timeout_ms).await
    }

    async fn exec_all(
        &mut self,
        targets: Vec<String>,
        command: ssh::Command,
        timeout_ms: u32,
    ) -> Result<Vec<Result<ssh::ExecOutput, WitError>>, WitError> {
        use futures::StreamExt;
        if targets.len() > MAX_EXEC_ALL_TARGETS {
            return Err(to_wit_error(Fault::bad_request(format!(
                "at most {MAX_EXEC_ALL_TARGETS} targets per call"
            ))));
        }
        let command = Arc::new(
            self.granter()
                .command(command_from_wit(command))
                .map_err(to_wit_error)?,
        );
        let remote = self.services.remote.clone();
        let hosts = self.call.hosts;
        let runs = futures::stream::iter(targets)
            .map(|target| {
                let (remote, command) = (remote.clone(), command.clone());
                async move {
                    remote
                        .exec(&target, &command, None, timeout_ms, hosts)
                        .await
                        .map(output_to_wit)
                        .map_err(|e| to_wit_error(e.into()))
                }
            })
            .buffered(EXEC_ALL_IN_FLIGHT)
            .collect::<Vec<_>>();
        Ok(self.timed(runs).await)
    }

    async fn pipe(
        &mut self,
        source: ssh::PipeEnd,
        sink: ssh::PipeEnd,
        options: ssh::PipeOptions,
    ) -> Result<ssh::PipeOutput, WitError> {
        let granter = self.granter();
        let from = granter
            .command(command_from_wit(source.command))
            .map_err(to_wit_error)?;
        let to = granter
            .command(command_from_wit(sink.command))
            .map_err(to_wit_error)?;
        let remote = self.services.remote.clone();
        let hosts = self.call.hosts;
        let job = self.job.clone();
        let total = options.expected_bytes;
        let message = format!("{} → {}", source.target, sink.target);
        let on_bytes = move |bytes: u64| {
            if let Some(job) = &job {
                job.report_bytes(bytes, total, &message);
            }
        };
        let out = self
            .timed(async move {
                remote
                    .pipe(
                        (&source.target, &from),
                        (&sink.target, &to),
                        options.timeout_ms,
                        hosts,
                        on_bytes,
                    )
                    .await
            })
            .await
            .map_err(|e| to_wit_error(e.into()))?;
        Ok(ssh::PipeOutput {
            bytes: out.bytes,
            source: end_to_wit(out.source),
            sink: end_to_wit(out.sink),
            duration_ms: out.duration.as_millis() as u64,
        })
    }

    async fn exec_with_body(
        &mut self,
        target: String,
        command: ssh::Command,
        timeout_ms: u32,
    ) -> Result<ssh::ExecOutput, WitError> {
        let command = self
            .granter()
            .command(command_from_wit(command))
            .map_err(to_wit_error)?;
        let Some(body) = self.body.take() else {
            return Err(to_wit_error(Fault::bad_request(
                "this call has no streamed request body (the route must be declared \
                 stream-body, and the body can be used once)",
            )));
        };
        let remote: Arc<crate::remote::Remote> = self.services.remote.clone();
        let hosts = self.call.hosts;
        self.timed(async move {
            remote
                .exec_streamed_body(&target, &command, body, timeout_ms, hosts)
                .await
        })
        .await
        .map(output_to_wit)
        .map_err(|e| to_wit_error(e.into()))
    }
}
