//! Opening and authenticating one connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client::{self, AuthResult, Handle};
use russh::keys::PrivateKeyWithHashAlg;

use crate::SshError;
use crate::hostkeys::{HostKeyPolicy, Verifier};
use crate::pool::{PoolConfig, Target};

/// A live, authenticated connection.
pub(crate) struct Connection {
    pub handle: Handle<Verifier>,
    pub last_used: Mutex<Instant>,
}

impl Connection {
    pub fn touch(&self) {
        if let Ok(mut t) = self.last_used.lock() {
            *t = Instant::now();
        }
    }

    pub fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or_default()
    }
}

/// Connects, verifies the host key and authenticates, within `connect_timeout`.
pub(crate) async fn connect(config: &PoolConfig, target: &Target) -> Result<Connection, SshError> {
    let deadline = config.connect_timeout;
    match tokio::time::timeout(deadline, connect_inner(config, target)).await {
        Ok(result) => result,
        Err(_) => Err(SshError::Connect {
            target: target.display(),
            message: format!("no answer within {} s", deadline.as_secs_f64()),
        }),
    }
}

async fn connect_inner(config: &PoolConfig, target: &Target) -> Result<Connection, SshError> {
    let russh_config = Arc::new(client::Config {
        nodelay: true,
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 3,
        ..Default::default()
    });
    let refusal = Arc::new(Mutex::new(None));
    let verifier = Verifier {
        host: target.host.clone(),
        port: target.port,
        policy: match config.host_key_policy {
            HostKeyPolicy::AcceptNew if !target.may_record_key => HostKeyPolicy::Strict,
            policy => policy,
        },
        learn_refused: config.host_key_policy == HostKeyPolicy::AcceptNew && !target.may_record_key,
        known_hosts: config.known_hosts.clone(),
        refusal: refusal.clone(),
    };
    let mut handle =
        match client::connect(russh_config, (target.host.as_str(), target.port), verifier).await {
            Ok(h) => h,
            Err(e) => {
                if let Some(message) = refusal.lock().ok().and_then(|mut r| r.take()) {
                    return Err(SshError::HostKey {
                        target: format!("{}:{}", target.host, target.port),
                        message,
                    });
                }
                return Err(SshError::Connect {
                    target: target.display(),
                    message: e.to_string(),
                });
            }
        };
    authenticate(&mut handle, config, target).await?;
    Ok(Connection {
        handle,
        last_used: Mutex::new(Instant::now()),
    })
}

fn identity_files<'a>(config: &'a PoolConfig, target: &'a Target) -> Vec<&'a Path> {
    target
        .identity_file
        .iter()
        .chain(config.identity_files.iter())
        .map(PathBuf::as_path)
        .collect()
}

/// Reads and decodes an identity file on a blocking thread, within the allowed directories
/// and size ([`crate::identity::read_identity`]).
async fn load_identity(
    path: &Path,
    config: &PoolConfig,
) -> Result<russh::keys::PrivateKey, String> {
    let owned = path.to_path_buf();
    let dirs = config.identity_dirs.clone();
    let text = tokio::task::spawn_blocking(move || crate::identity::read_identity(&owned, &dirs))
        .await
        .map_err(|_| "the read was cancelled".to_string())?
        .map_err(|e| e.to_string())?;
    russh::keys::decode_secret_key(&text, config.key_passphrase.as_deref())
        .map_err(|e| format!("not a usable private key: {e}"))
}

async fn authenticate(
    handle: &mut Handle<Verifier>,
    config: &PoolConfig,
    target: &Target,
) -> Result<(), SshError> {
    let mut tried = Vec::new();
    for path in identity_files(config, target) {
        let key = match load_identity(path, config).await {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot load identity file");
                tried.push(format!("{} ({e})", file_name(path)));
                continue;
            }
        };
        let hash = rsa_hash(handle).await;
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
        match handle.authenticate_publickey(&target.user, key).await {
            Ok(AuthResult::Success) => return Ok(()),
            Ok(AuthResult::Failure { .. }) => tried.push(file_name(path)),
            Err(e) => {
                return Err(SshError::Connect {
                    target: target.display(),
                    message: format!("connection lost during authentication: {e}"),
                });
            }
        }
    }
    if std::env::var_os("SSH_AUTH_SOCK").is_some() {
        match authenticate_with_agent(handle, target).await {
            Ok(true) => return Ok(()),
            Ok(false) => tried.push("ssh-agent identities".into()),
            Err(e) => tried.push(format!("ssh-agent ({e})")),
        }
    }
    Err(SshError::Auth {
        target: target.display(),
        message: if tried.is_empty() {
            "no identity configured (ssh.identity_files, a device identity file or SSH_AUTH_SOCK)"
                .into()
        } else {
            format!("rejected: {}", tried.join(", "))
        },
    })
}

async fn authenticate_with_agent(
    handle: &mut Handle<Verifier>,
    target: &Target,
) -> Result<bool, String> {
    let mut agent = russh::keys::agent::client::AgentClient::connect_env()
        .await
        .map_err(|e| e.to_string())?;
    let identities = agent
        .request_identities()
        .await
        .map_err(|e| e.to_string())?;
    for identity in identities {
        let key = identity.public_key().into_owned();
        let hash = rsa_hash(handle).await;
        match handle
            .authenticate_publickey_with(&target.user, key, hash, &mut agent)
            .await
        {
            Ok(AuthResult::Success) => return Ok(true),
            Ok(AuthResult::Failure { .. }) => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(false)
}

/// The RSA signature hash the server prefers (ignored for other key types).
async fn rsa_hash(handle: &Handle<Verifier>) -> Option<russh::keys::HashAlg> {
    handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "identity".into())
}
