//! The HTTP edge: error envelope, request ids, validation and plugin route mounting.

pub mod edge;
pub mod error;
pub mod plugin_routes;
pub mod validate;

pub use error::ApiError;
