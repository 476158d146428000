//! Bearer-token authentication and scopes.
//!
//! Keys come from config as plain text or SHA-256 hex; both are kept only as hashes and the
//! presented token's hash is compared with every key in constant time. No key configured =
//! dev mode: every request is allowed (warned loudly at start-up).

use http::{HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{AuthConfig, Scope};
use crate::http::error::ApiError;

/// The caller, when auth is on.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key's name.
    pub name: String,
    /// The key's scope.
    pub scope: Scope,
    /// The key's position in the configuration (its rate-limit bucket).
    pub index: usize,
}

/// The authentication result attached to each request: `None` in dev mode.
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Principal>);

impl Caller {
    /// Fails with 403 unless the caller's scope covers `needed`.
    pub fn require(&self, needed: Scope) -> Result<(), ApiError> {
        match &self.0 {
            None => Ok(()),
            Some(p) if p.scope >= needed => Ok(()),
            Some(p) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                format!(
                    "key `{}` has scope `{}`; this route needs `{}`",
                    p.name,
                    p.scope.as_str(),
                    needed.as_str()
                ),
            )),
        }
    }

    /// The key name, if any.
    pub fn name(&self) -> Option<String> {
        self.0.as_ref().map(|p| p.name.clone())
    }
}

struct Key {
    name: String,
    hash: [u8; 32],
    scope: Scope,
}

/// Checks bearer tokens against the configured keys.
pub struct Authenticator {
    keys: Vec<Key>,
}

impl Authenticator {
    /// From config (already validated: exactly one of key/key_sha256, 64 hex digits).
    pub fn new(config: &AuthConfig) -> Authenticator {
        let keys = config
            .keys
            .iter()
            .filter_map(|k| {
                let hash: [u8; 32] = match (&k.key, &k.key_sha256) {
                    (Some(plain), _) => Sha256::digest(plain.as_bytes()).into(),
                    (None, Some(hex_hash)) => hex::decode(hex_hash).ok()?.try_into().ok()?,
                    (None, None) => return None,
                };
                Some(Key {
                    name: k.name.clone(),
                    hash,
                    scope: k.scope,
                })
            })
            .collect();
        Authenticator { keys }
    }

    /// True when no key is configured.
    pub fn dev_mode(&self) -> bool {
        self.keys.is_empty()
    }

    /// Authenticates an `Authorization` header value.
    pub fn authenticate(&self, authorization: Option<&HeaderValue>) -> Result<Caller, ApiError> {
        if self.dev_mode() {
            return Ok(Caller(None));
        }
        let token = authorization.and_then(|v| v.to_str().ok()).and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        let Some(token) = token else {
            return Err(unauthorized(
                "authentication required: send `Authorization: Bearer <key>`",
            ));
        };
        if token.chars().count() < 10 {
            return Err(unauthorized("invalid authentication credentials"));
        }
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found: Option<(usize, &Key)> = None;
        for (index, key) in self.keys.iter().enumerate() {
            // Compare with every key, without an early exit.
            if bool::from(key.hash.ct_eq(&presented)) {
                found = Some((index, key));
            }
        }
        match found {
            Some((index, key)) => Ok(Caller(Some(Principal {
                name: key.name.clone(),
                scope: key.scope,
                index,
            }))),
            None => Err(unauthorized("invalid API key")),
        }
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiKeyConfig;

    fn auth() -> Authenticator {
        Authenticator::new(&AuthConfig {
            keys: vec![
                ApiKeyConfig {
                    name: "reader".into(),
                    key: Some("read-key-0123456789".into()),
                    key_sha256: None,
                    scope: Scope::Read,
                },
                ApiKeyConfig {
                    name: "ops".into(),
                    key: None,
                    key_sha256: Some(hex::encode(Sha256::digest(b"admin-key-0123456789"))),
                    scope: Scope::Admin,
                },
            ],
        })
    }

    fn bearer(t: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("Bearer {t}")).expect("header")
    }

    #[test]
    fn matrix() {
        let a = auth();
        assert_eq!(a.authenticate(None).expect_err("none").status, 401);
        assert_eq!(
            a.authenticate(Some(&bearer("short")))
                .expect_err("short")
                .status,
            401
        );
        assert_eq!(
            a.authenticate(Some(&bearer("wrong-key-0123456789")))
                .expect_err("wrong")
                .status,
            401
        );
        let reader = a
            .authenticate(Some(&bearer("read-key-0123456789")))
            .expect("reader");
        assert!(reader.require(Scope::Read).is_ok());
        assert_eq!(reader.require(Scope::Write).expect_err("write").status, 403);
        let ops = a
            .authenticate(Some(&bearer("admin-key-0123456789")))
            .expect("hash key");
        assert!(ops.require(Scope::Admin).is_ok());
        let basic = HeaderValue::from_static("Basic YWJjOmRlZg==");
        assert_eq!(a.authenticate(Some(&basic)).expect_err("basic").status, 401);
    }

    #[test]
    fn dev_mode_is_open() {
        let a = Authenticator::new(&AuthConfig::default());
        assert!(a.dev_mode());
        assert!(
            a.authenticate(None)
                .expect("open")
                .require(Scope::Admin)
                .is_ok()
        );
    }
}
