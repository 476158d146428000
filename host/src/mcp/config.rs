//! The `[mcp]` section: whether `/mcp` is served and what it may hold open.

use serde::{Deserialize, Serialize};

/// Settings of the MCP endpoint (`/mcp`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    /// Serve `/mcp`.
    pub enabled: bool,
    /// MCP sessions open at once; a new session beyond it is refused (503).
    pub max_sessions: usize,
    /// A session that sees no request for this long is closed.
    pub session_idle_secs: u64,
    /// `Host` values `/mcp` accepts (DNS-rebinding protection); empty = any host. With no
    /// API key configured (dev mode) an empty list means loopback names only.
    pub allowed_hosts: Vec<String>,
    /// Largest answer body of a route a tool call returns; a bigger one is a tool error.
    pub max_answer_bytes: usize,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_sessions: 64,
            session_idle_secs: 300,
            allowed_hosts: Vec::new(),
            max_answer_bytes: 4 * 1024 * 1024,
        }
    }
}
