//! The manifest model in the plugin API's types: the only place where the SDK turns
//! [`infrastructor_manifest`] values into what the `manifest` export returns.

use infrastructor_manifest as model;

use crate::bindings::exports::infrastructor::plugin::plugin as wit;
use crate::bindings::infrastructor::plugin::collector as wit_collector;

impl From<model::Method> for wit::Method {
    fn from(m: model::Method) -> Self {
        match m {
            model::Method::Get => Self::Get,
            model::Method::Post => Self::Post,
            model::Method::Put => Self::Put,
            model::Method::Patch => Self::Patch,
            model::Method::Delete => Self::Delete,
        }
    }
}

impl From<wit::Method> for model::Method {
    fn from(m: wit::Method) -> Self {
        match m {
            wit::Method::Get => Self::Get,
            wit::Method::Post => Self::Post,
            wit::Method::Put => Self::Put,
            wit::Method::Patch => Self::Patch,
            wit::Method::Delete => Self::Delete,
        }
    }
}

fn scope(s: model::Scope) -> wit::Scope {
    match s {
        model::Scope::Read => wit::Scope::Read,
        model::Scope::Write => wit::Scope::Write,
        model::Scope::Admin => wit::Scope::Admin,
    }
}

fn param(p: model::Param) -> wit::Param {
    wit::Param {
        required: p.is_required(),
        name: p.name,
        location: match p.location {
            model::ParamLocation::Path => wit::ParamLocation::Path,
            model::ParamLocation::Query => wit::ParamLocation::Query,
        },
        kind: match p.kind {
            model::ParamKind::String => wit::ParamKind::String,
            model::ParamKind::Integer => wit::ParamKind::Integer,
            model::ParamKind::Number => wit::ParamKind::Number,
            model::ParamKind::Boolean => wit::ParamKind::Boolean,
        },
        description: p.description,
        default: p.default,
        minimum: p.minimum,
        maximum: p.maximum,
        min_length: p.min_length,
        max_length: p.max_length,
        pattern: p.pattern,
        allowed: p.allowed,
    }
}

/// A route in the plugin API's types.
pub(crate) fn route(r: model::Route) -> wit::Route {
    wit::Route {
        method: r.method.into(),
        path: r.path,
        operation_id: r.operation_id,
        summary: r.summary,
        description: r.description,
        params: r.params.into_iter().map(param).collect(),
        request_body: r.request_body,
        response: r.response,
        success_status: r.success_status,
        rate_limit: r.rate_limit.map(|q| wit::Quota {
            requests: q.requests,
            per_secs: q.per_secs,
        }),
        mutates: r.mutates,
        scope: r.scope.map(scope),
        internal: r.internal,
        long_running: r.long_running,
        stream_body: r.stream_body,
        errors: r
            .errors
            .into_iter()
            .map(|e| wit::ErrorStatus {
                status: e.status,
                description: e.description,
            })
            .collect(),
        event_stream: r.event_stream,
        cacheable: r.cacheable,
    }
}

/// A collection step in the plugin API's types.
pub(crate) fn step(s: model::Step) -> wit_collector::Step {
    wit_collector::Step {
        name: s.name,
        command: command(s.command),
        timeout_ms: s.timeout_ms,
    }
}

/// A remote command in the plugin API's types.
pub(crate) fn command(c: model::Command) -> wit_collector::Command {
    match c {
        model::Command::Argv(argv) => wit_collector::Command::Argv(argv),
        model::Command::Script { name, args } => {
            wit_collector::Command::Script(wit_collector::ScriptCall { name, args })
        }
    }
}

fn capability(c: model::Capability) -> wit::Capability {
    match c {
        model::Capability::Exec(p) => wit::Capability::Exec(wit::ExecPattern {
            program: p.program,
            args: p
                .args
                .into_iter()
                .map(|a| match a {
                    model::ArgPattern::Literal(l) => wit::ArgPattern::Literal(l),
                    model::ArgPattern::Any => wit::ArgPattern::Any,
                    model::ArgPattern::Rest => wit::ArgPattern::Rest,
                })
                .collect(),
        }),
        model::Capability::Collector => wit::Capability::Collector,
        model::Capability::Storage => wit::Capability::Storage,
        model::Capability::RegistryRead => wit::Capability::RegistryRead,
        model::Capability::RegistryWrite => wit::Capability::RegistryWrite,
        model::Capability::Clock => wit::Capability::Clock,
        model::Capability::ReadDir(key) => wit::Capability::ReadDir(key),
    }
}

/// The whole manifest in the plugin API's types.
pub(crate) fn manifest(m: model::Manifest) -> wit::PluginManifest {
    wit::PluginManifest {
        name: m.name,
        version: m.version,
        description: m.description,
        mount: m.mount,
        routes: m.routes.into_iter().map(route).collect(),
        scripts: m
            .scripts
            .into_iter()
            .map(|s| wit::Script {
                name: s.name,
                body: s.body,
                programs: s.programs,
            })
            .collect(),
        parsers: m.parsers,
        collectors: m
            .collectors
            .into_iter()
            .map(|c| wit::PeriodicCollector {
                name: c.name,
                data_type: c.data_type,
                interval_secs: c.interval_secs,
                steps: c.steps.into_iter().map(step).collect(),
                parser: c.parser,
            })
            .collect(),
        capabilities: m.capabilities.into_iter().map(capability).collect(),
    }
}
