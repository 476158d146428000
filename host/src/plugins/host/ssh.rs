//! `ssh`: remote commands, argv or a declared script, after the granter allowed them.

use infrastructor_ssh::RemoteCommand;

use crate::plugins::bindings::v0_2::WitError;
use crate::plugins::bindings::v0_2::infrastructor::plugin::ssh;
use crate::plugins::instance::InstanceState;

use super::to_wit_error;

impl InstanceState {
    async fn run_remote(
        &mut self,
        target: String,
        command: RemoteCommand,
        stdin: Option<Vec<u8>>,
        timeout_ms: u32,
    ) -> Result<ssh::ExecOutput, WitError> {
        let remote = self.services.remote.clone();
        self.timed(async move {
            remote
                .exec(&target, &command, stdin.as_deref(), timeout_ms)
                .await
        })
        .await
        .map(|out| ssh::ExecOutput {
            exit_code: out.exit_code,
            stdout: out.stdout,
            stderr: out.stderr,
            duration_ms: out.duration.as_millis() as u64,
        })
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
}
