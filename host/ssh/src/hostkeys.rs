//! Host-key verification against a known_hosts file, as the russh client handler.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use russh::keys::{HashAlg, PublicKey, PublicKeyOrCertificate};

/// How unknown and changed host keys are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Unknown or changed key: refuse.
    Strict,
    /// Unknown key: record it and accept; changed key: refuse.
    AcceptNew,
    /// Accept anything (logged as a warning at every connect).
    Off,
}

/// Serialises appends to known_hosts files within the process.
static LEARN_LOCK: Mutex<()> = Mutex::new(());

/// The russh client handler: checks the server key and records why it refused one.
pub(crate) struct Verifier {
    pub host: String,
    pub port: u16,
    pub policy: HostKeyPolicy,
    pub known_hosts: PathBuf,
    /// Set when the key is refused: the message for the operator.
    pub refusal: Arc<Mutex<Option<String>>>,
    /// `accept-new` is configured but this connection may not record a key (see
    /// [`crate::Target::may_record_key`]): says so when an unknown key is refused.
    pub learn_refused: bool,
}

fn fingerprint(key: &PublicKey) -> String {
    format!(
        "{} {}",
        key.algorithm().as_str(),
        key.fingerprint(HashAlg::Sha256)
    )
}

impl Verifier {
    fn refuse(&self, message: String) -> bool {
        tracing::warn!(host = %self.host, port = self.port, "{message}");
        if let Ok(mut slot) = self.refusal.lock() {
            *slot = Some(message);
        }
        false
    }

    fn check(&self, key: &PublicKey) -> bool {
        let fp = fingerprint(key);
        if self.policy == HostKeyPolicy::Off {
            tracing::warn!(host = %self.host, port = self.port, key = %fp,
                "host key NOT verified (ssh.host_key_policy = off)");
            return true;
        }
        let known = if self.known_hosts.exists() {
            russh::keys::check_known_hosts_path(&self.host, self.port, key, &self.known_hosts)
        } else {
            Ok(false)
        };
        match known {
            Ok(true) => true,
            Ok(false) if self.policy == HostKeyPolicy::AcceptNew => {
                let _guard = LEARN_LOCK.lock();
                match russh::keys::known_hosts::learn_known_hosts_path(
                    &self.host,
                    self.port,
                    key,
                    &self.known_hosts,
                ) {
                    Ok(()) => {
                        tracing::info!(host = %self.host, port = self.port, key = %fp,
                            "new host key recorded (ssh.host_key_policy = accept-new)");
                        true
                    }
                    Err(e) => self.refuse(format!(
                        "host key {fp} could not be recorded in the known_hosts file: {e}"
                    )),
                }
            }
            Ok(false) if self.learn_refused => self.refuse(format!(
                "unknown host key {fp}; an unregistered host's key is recorded only by a \
                 request that changes something (with a write key), never by a read: verify \
                 it and add it to the known_hosts file, or register the host as a device"
            )),
            Ok(false) => self.refuse(format!(
                "unknown host key {fp}; verify it and add it to the known_hosts file \
                 (or set ssh.host_key_policy = \"accept-new\")"
            )),
            Err(russh::keys::Error::KeyChanged { line }) => self.refuse(format!(
                "host key CHANGED: the server offered {fp}, which differs from the key on \
                 line {line} of the known_hosts file; this may be an attack"
            )),
            Err(e) => self.refuse(format!("cannot check host key {fp}: {e}")),
        }
    }
}

impl russh::client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => Ok(self.check(key)),
            PublicKeyOrCertificate::Certificate(_) => Ok(self.refuse(
                "the server presented a host certificate; certificate authorities are not \
                 supported, configure a plain host key"
                    .into(),
            )),
        }
    }
}
