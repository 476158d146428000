//! The compose plugin: docker compose stacks on managed hosts — rewriting a compose file for
//! a device ([`transform`]: appdata paths, free host ports, a shared proxy network), SWAG
//! subdomain confs for the published services ([`swag`]), deploying and scanning (work in
//! progress).

pub mod swag;
pub mod transform;
