//! Remote execution for plugins: resolving a path `hostname` to an SSH target (a registered
//! device's address, port, user and key, or a raw host with the configured defaults), and
//! mapping SSH errors to the plugin API's errors.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use infrastructor_ssh::{HostKeyPolicy, PoolConfig, SshError, SshPool, Target};
use infrastructor_store::{Store, devices};

use crate::config::{self, SshConfig};
use crate::plugins::bindings::WitError;

/// The SSH side of the host: the pool plus the defaults for unregistered hosts.
pub struct Remote {
    /// The connection pool.
    pub pool: Arc<SshPool>,
    defaults: SshConfig,
    store: Store,
}

/// Expands a leading `~/` with `$HOME`.
pub fn expand_home(path: &std::path::Path) -> PathBuf {
    match path.to_str().and_then(|s| s.strip_prefix("~/")) {
        Some(rest) => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/root"))
            .join(rest),
        None => path.to_path_buf(),
    }
}

/// The pool settings from `ssh.*`.
pub fn pool_config(c: &SshConfig) -> PoolConfig {
    PoolConfig {
        identity_files: c.identity_files.iter().map(|p| expand_home(p)).collect(),
        key_passphrase: c.key_passphrase.clone(),
        known_hosts: expand_home(&c.known_hosts),
        host_key_policy: match c.host_key_policy {
            config::HostKeyPolicy::Strict => HostKeyPolicy::Strict,
            config::HostKeyPolicy::AcceptNew => HostKeyPolicy::AcceptNew,
            config::HostKeyPolicy::Off => HostKeyPolicy::Off,
        },
        connect_timeout: Duration::from_secs(c.connect_timeout_secs),
        max_sessions: c.max_sessions_per_connection as usize,
        idle_timeout: Duration::from_secs(c.idle_secs),
        max_output_bytes: c.max_output_bytes,
    }
}

/// True for a plausible host name or address (no spaces, no leading `-`, no shell or URL
/// syntax): raw targets reach `TcpStream::connect`, never a shell.
pub fn is_valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && !host.starts_with('-')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
}

impl Remote {
    /// A pool from config.
    pub fn new(c: &SshConfig, store: Store) -> Remote {
        Remote {
            pool: SshPool::new(pool_config(c)),
            defaults: c.clone(),
            store,
        }
    }

    /// The default per-command timeout.
    pub fn default_timeout(&self) -> Duration {
        Duration::from_secs(self.defaults.command_timeout_secs)
    }

    /// A caller's timeout in ms, or the default when 0; capped at one hour.
    pub fn timeout(&self, timeout_ms: u32) -> Duration {
        if timeout_ms == 0 {
            self.default_timeout()
        } else {
            Duration::from_millis(u64::from(timeout_ms)).min(Duration::from_secs(3600))
        }
    }

    /// Resolves `name`: a registered device (case-insensitive) or a raw host.
    pub async fn resolve(&self, name: &str) -> Result<Target, WitError> {
        let lookup = name.to_ascii_lowercase();
        let device = self
            .store
            .call(move |c| devices::get(c, &lookup))
            .await
            .map_err(crate::plugins::host_api::store_error)?;
        let target = match device {
            Some(d) => Target {
                host: d.ip_address.clone().unwrap_or_else(|| d.hostname.clone()),
                port: d.ssh_port.unwrap_or(self.defaults.default_port),
                user: d
                    .ssh_username
                    .clone()
                    .filter(|u| !u.is_empty())
                    .unwrap_or_else(|| self.defaults.default_user.clone()),
                identity_file: d
                    .ssh_identity_file
                    .as_deref()
                    .map(|p| expand_home(std::path::Path::new(p))),
            },
            None => Target {
                host: name.to_string(),
                port: self.defaults.default_port,
                user: self.defaults.default_user.clone(),
                identity_file: None,
            },
        };
        if !is_valid_host(&target.host) {
            return Err(WitError::BadRequest(format!(
                "`{name}` is not a valid host name"
            )));
        }
        Ok(target)
    }
}

/// Maps an SSH error to the plugin API's error (messages name the host, never secrets).
pub fn ssh_error(e: SshError) -> WitError {
    match e {
        SshError::Connect { .. }
        | SshError::HostKey { .. }
        | SshError::Auth { .. }
        | SshError::Disconnected { .. } => WitError::Unavailable(e.to_string()),
        SshError::Timeout { .. } => WitError::Timeout(e.to_string()),
        SshError::OutputTooLarge { .. } => WitError::Upstream(e.to_string()),
        SshError::Invalid(m) => WitError::BadRequest(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_validation() {
        for ok in ["web-1", "10.0.0.1", "nas.local", "fe80::1", "host_2"] {
            assert!(is_valid_host(ok), "{ok}");
        }
        for bad in [
            "",
            "-oProxyCommand=x",
            "a b",
            "a;b",
            "$(x)",
            "h/p",
            "x".repeat(254).as_str(),
        ] {
            assert!(!is_valid_host(bad), "{bad}");
        }
    }
}
