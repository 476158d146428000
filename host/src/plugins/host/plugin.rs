//! The `plugin` export of API 0.2.0: its manifest as the shared model, and requests, responses
//! and step outputs to and from the host's own types.

use infrastructor_manifest as model;

use crate::plugins::bindings::v0_2::api;

use super::collector::step_from_wit;

export_conversions!();

fn route_from_wit(r: api::Route) -> model::Route {
    model::Route {
        method: method_from_wit(r.method),
        path: r.path,
        operation_id: r.operation_id,
        summary: r.summary,
        description: r.description,
        params: r.params.into_iter().map(param_from_wit).collect(),
        request_body: r.request_body,
        response: r.response,
        success_status: r.success_status,
        rate_limit: r.rate_limit.map(|q| model::Quota {
            requests: q.requests,
            per_secs: q.per_secs,
        }),
        mutates: r.mutates,
        scope: r.scope.map(scope_from_wit),
        internal: r.internal,
        long_running: r.long_running,
        stream_body: r.stream_body,
        errors: r
            .errors
            .into_iter()
            .map(|e| model::ErrorStatus {
                status: e.status,
                description: e.description,
            })
            .collect(),
        event_stream: r.event_stream,
        cacheable: r.cacheable,
    }
}

fn stream_command_from_wit(s: api::StreamCommand) -> crate::plugins::call::StreamCommand {
    crate::plugins::call::StreamCommand {
        target: s.target,
        command: super::collector::command_from_wit(s.command),
        sse: s.sse,
    }
}

fn capability_from_wit(c: api::Capability) -> model::Capability {
    match c {
        api::Capability::Exec(p) => model::Capability::Exec(model::ExecPattern {
            program: p.program,
            args: p
                .args
                .into_iter()
                .map(|a| match a {
                    api::ArgPattern::Literal(l) => model::ArgPattern::Literal(l),
                    api::ArgPattern::Any => model::ArgPattern::Any,
                    api::ArgPattern::Rest => model::ArgPattern::Rest,
                })
                .collect(),
        }),
        api::Capability::Collector => model::Capability::Collector,
        api::Capability::Storage => model::Capability::Storage,
        api::Capability::RegistryRead => model::Capability::RegistryRead,
        api::Capability::RegistryWrite => model::Capability::RegistryWrite,
        api::Capability::Clock => model::Capability::Clock,
        api::Capability::ReadDir(key) => model::Capability::ReadDir(key),
    }
}

/// A 0.2.0 error as a host fault.
pub fn fault_from_wit(e: crate::plugins::bindings::v0_2::WitError) -> crate::fault::Fault {
    super::from_wit_error(e)
}

/// A 0.2.0 manifest as the shared model (not yet checked; every 0.2.0 manifest converts).
pub fn manifest_from_wit(m: api::PluginManifest) -> Result<model::Manifest, model::Problems> {
    Ok(model::Manifest {
        name: m.name,
        version: m.version,
        description: m.description,
        mount: m.mount,
        routes: m.routes.into_iter().map(route_from_wit).collect(),
        scripts: m
            .scripts
            .into_iter()
            .map(|s| model::Script {
                name: s.name,
                body: s.body,
                programs: s.programs,
            })
            .collect(),
        parsers: m.parsers,
        collectors: m
            .collectors
            .into_iter()
            .map(|c| model::PeriodicCollector {
                name: c.name,
                data_type: c.data_type,
                interval_secs: c.interval_secs,
                steps: c.steps.into_iter().map(step_from_wit).collect(),
                parser: c.parser,
            })
            .collect(),
        capabilities: m
            .capabilities
            .into_iter()
            .map(capability_from_wit)
            .collect(),
    })
}
