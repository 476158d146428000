//! The host side of the plugin API: one file per WIT interface of the newest version, each
//! implementing that interface's `Host` trait on [`InstanceState`] by calling host services,
//! plus the conversions of the exports ([`plugin`]) and the older versions that delegate to
//! these ([`v0_1`]). These files are the only place where WIT types meet host services.
//!
//! Every import asks the [`Granter`](super::granter::Granter) first. Time spent awaiting an
//! import is added to `host_time`, so waiting on SSH or the database never counts against a
//! plugin's CPU deadline.

/// The conversions between the host's own call types and one API version's `plugin` export
/// types, which are the same shape in every version (each version's `bindgen!` generates its
/// own copy of them). Invoked in [`plugin`] (0.2.0) and [`v0_1`] with that version's `api`
/// module in scope.
macro_rules! export_conversions {
    () => {
        /// A method in the API's type.
        pub fn method_to_wit(m: infrastructor_manifest::Method) -> api::Method {
            use infrastructor_manifest::Method as M;
            match m {
                M::Get => api::Method::Get,
                M::Post => api::Method::Post,
                M::Put => api::Method::Put,
                M::Patch => api::Method::Patch,
                M::Delete => api::Method::Delete,
            }
        }

        fn method_from_wit(m: api::Method) -> infrastructor_manifest::Method {
            use infrastructor_manifest::Method as M;
            match m {
                api::Method::Get => M::Get,
                api::Method::Post => M::Post,
                api::Method::Put => M::Put,
                api::Method::Patch => M::Patch,
                api::Method::Delete => M::Delete,
            }
        }

        fn scope_from_wit(s: api::Scope) -> infrastructor_manifest::Scope {
            use infrastructor_manifest::Scope as S;
            match s {
                api::Scope::Read => S::Read,
                api::Scope::Write => S::Write,
                api::Scope::Admin => S::Admin,
            }
        }

        fn param_from_wit(p: api::Param) -> infrastructor_manifest::Param {
            use infrastructor_manifest::{ParamKind as K, ParamLocation as L};
            infrastructor_manifest::Param {
                name: p.name,
                location: match p.location {
                    api::ParamLocation::Path => L::Path,
                    api::ParamLocation::Query => L::Query,
                },
                kind: match p.kind {
                    api::ParamKind::String => K::String,
                    api::ParamKind::Integer => K::Integer,
                    api::ParamKind::Number => K::Number,
                    api::ParamKind::Boolean => K::Boolean,
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

        /// A request in the API's type.
        pub fn request_to_wit(r: $crate::plugins::call::PluginRequest) -> api::Request {
            let pairs = |list: Vec<(String, String)>| {
                list.into_iter()
                    .map(|(name, value)| api::Pair { name, value })
                    .collect()
            };
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

        /// A response from the API's type (the streamed command through this version's
        /// own `stream_command_from_wit`).
        pub fn response_from_wit(r: api::Response) -> $crate::plugins::call::PluginResponse {
            use $crate::plugins::call::{PluginResponse, ResponseBody};
            PluginResponse {
                status: r.status,
                content_type: r.content_type,
                headers: r.headers.into_iter().map(|p| (p.name, p.value)).collect(),
                body: match r.body {
                    api::Body::Bytes(b) => ResponseBody::Bytes(b.into()),
                    api::Body::Stream(s) => ResponseBody::Stream(stream_command_from_wit(s)),
                },
            }
        }

        /// A step output in the API's type.
        pub fn step_output_to_wit(o: $crate::collector::StepOutput) -> api::StepOutput {
            api::StepOutput {
                name: o.name,
                exit_code: o.exit_code,
                stdout: o.stdout,
                stderr: o.stderr,
            }
        }
    };
}

mod collector;
mod config;
mod jobs;
mod log;
pub mod plugin;
mod registry;
mod ssh;
mod storage;
mod types;
pub mod v0_1;

use std::future::Future;
use std::time::Instant;

use super::granter::Granter;
use super::instance::InstanceState;

pub use types::{from_wit_error, to_wit_error};

impl InstanceState {
    /// Runs `fut`, adding its duration to the time spent in host imports.
    pub(crate) async fn timed<T>(&mut self, fut: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let out = fut.await;
        self.host_time += started.elapsed();
        out
    }

    /// The granter of this instance's plugin for the current call. Every import but the
    /// collector, config and log asks it first, so asking also marks a traced call as having
    /// read something a stored answer cannot be checked against.
    pub(crate) fn granter(&self) -> Granter<'_> {
        self.taint_answer();
        Granter::new(&self.plugin, &self.call.request_id)
    }
}
