//! `collector`: cached, single-flight collections through [`LoadedPlugin::collect`]
//! (`crate::plugins::LoadedPlugin::collect`), which asks the granter for every step.

use std::time::Duration;

use infrastructor_manifest as model;

use crate::fault::Fault;
use crate::plugins::bindings::v0_2::WitError;
use crate::plugins::bindings::v0_2::infrastructor::plugin::collector;
use crate::plugins::instance::InstanceState;
use crate::plugins::runtime::CollectSpec;

use super::to_wit_error;

/// A WIT step as the manifest model's step.
pub(crate) fn step_from_wit(s: collector::Step) -> model::Step {
    model::Step {
        name: s.name,
        command: command_from_wit(s.command),
        timeout_ms: s.timeout_ms,
    }
}

/// A WIT command as the manifest model's command.
pub(crate) fn command_from_wit(c: collector::Command) -> model::Command {
    match c {
        collector::Command::Argv(argv) => model::Command::Argv(argv),
        collector::Command::Script(call) => model::Command::Script {
            name: call.name,
            args: call.args,
        },
    }
}

impl collector::Host for InstanceState {
    async fn collect(
        &mut self,
        request: collector::CollectRequest,
    ) -> Result<collector::Collected, WitError> {
        let Some(loaded) = self.loaded.clone() else {
            return Err(to_wit_error(Fault::unavailable(
                "the collector is not available while a plugin loads",
            )));
        };
        let spec = CollectSpec {
            data_type: request.data_type,
            target: request.target,
            params: request
                .params
                .into_iter()
                .map(|p| (p.name, p.value))
                .collect(),
            steps: request.steps.into_iter().map(step_from_wit).collect(),
            parser: request.parser,
            parser_args: request.parser_args,
            max_age: Duration::from_secs(u64::from(request.max_age_secs)),
            force_refresh: request.force_refresh,
        };
        let call = self.call.clone();
        let outcome = self
            .timed(async move { loaded.collect(spec, &call).await })
            .await
            .map_err(to_wit_error)?;
        if let Some(trace) = &mut self.answer {
            match outcome.read {
                Some(read) => trace.read(read),
                None => trace.taint(),
            }
        }
        Ok(collector::Collected {
            data: outcome.data.to_string(),
            cache_key: outcome.cache_key,
            collected_at: outcome.collected_at,
            duration_ms: outcome.duration_ms,
            cache_hit: outcome.cache_hit,
        })
    }
}
