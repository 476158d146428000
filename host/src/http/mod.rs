//! The HTTP edge, all of it: the router and its layers, authentication, rate limits, the
//! error envelope, request ids, parameter and body validation, the host's own routes (jobs
//! among them), the plugin routes and the OpenAPI document.

pub mod auth;
pub mod common_views;
pub mod edge;
pub mod error;
pub mod guard;
pub mod host_routes;
pub mod jobs_routes;
pub mod openapi;
pub mod operation_audit;
pub mod plugin_routes;
pub mod ratelimit;
pub mod router;
pub mod serve;
pub mod validate;

pub use error::ApiError;
