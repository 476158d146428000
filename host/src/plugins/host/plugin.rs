//! The `plugin` export of API 0.2.0: its manifest as the shared model, and requests, responses
//! and step outputs to and from the host's own types.

use infrastructor_manifest as model;

use crate::collector::StepOutput;
use crate::plugins::bindings::v0_2::api;
use crate::plugins::call::{PluginRequest, PluginResponse, ResponseBody, StreamCommand};

use super::collector::step_from_wit;

/// A method in the API's type.
pub fn method_to_wit(m: model::Method) -> api::Method {
    match m {
        model::Method::Get => api::Method::Get,
        model::Method::Post => api::Method::Post,
        model::Method::Put => api::Method::Put,
        model::Method::Patch => api::Method::Patch,
        model::Method::Delete => api::Method::Delete,
    }
}

fn method_from_wit(m: api::Method) -> model::Method {
    match m {
        api::Method::Get => model::Method::Get,
        api::Method::Post => model::Method::Post,
        api::Method::Put => model::Method::Put,
        api::Method::Patch => model::Method::Patch,
        api::Method::Delete => model::Method::Delete,
    }
}

fn param_from_wit(p: api::Param) -> model::Param {
    model::Param {
        name: p.name,
        location: match p.location {
            api::ParamLocation::Path => model::ParamLocation::Path,
            api::ParamLocation::Query => model::ParamLocation::Query,
        },
        kind: match p.kind {
            api::ParamKind::String => model::ParamKind::String,
            api::ParamKind::Integer => model::ParamKind::Integer,
            api::ParamKind::Number => model::ParamKind::Number,
            api::ParamKind::Boolean => model::ParamKind::Boolean,
        },
        required: p.required,
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
        scope: r.scope.map(|s| match s {
            api::Scope::Read => model::Scope::Read,
            api::Scope::Write => model::Scope::Write,
            api::Scope::Admin => model::Scope::Admin,
        }),
        internal: r.internal,
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

/// A 0.2.0 manifest as the shared model (not yet checked).
pub fn manifest_from_wit(m: api::PluginManifest) -> model::Manifest {
    model::Manifest {
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
    }
}

fn pairs(list: Vec<(String, String)>) -> Vec<api::Pair> {
    list.into_iter()
        .map(|(name, value)| api::Pair { name, value })
        .collect()
}

/// A request in the API's type.
pub fn request_to_wit(r: PluginRequest) -> api::Request {
    api::Request {
        operation_id: r.operation_id,
        method: method_to_wit(r.method),
        path: r.path,
        path_params: pairs(r.path_params),
        query: pairs(r.query),
        body: r.body,
        request_id: r.request_id,
        principal: r.principal,
    }
}

/// A response from the API's type.
pub fn response_from_wit(r: api::Response) -> PluginResponse {
    PluginResponse {
        status: r.status,
        content_type: r.content_type,
        headers: r.headers.into_iter().map(|p| (p.name, p.value)).collect(),
        body: match r.body {
            api::Body::Bytes(b) => ResponseBody::Bytes(b),
            api::Body::Stream(s) => ResponseBody::Stream(StreamCommand {
                target: s.target,
                argv: s.argv,
                sse: s.sse,
            }),
        },
    }
}

/// A step output in the API's type.
pub fn step_output_to_wit(o: StepOutput) -> api::StepOutput {
    api::StepOutput {
        name: o.name,
        exit_code: o.exit_code,
        stdout: o.stdout,
        stderr: o.stderr,
    }
}
