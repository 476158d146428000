//! Authentication and the global quota, in one layer, in this order:
//!
//! 1. the request's credentials are checked ([`Authenticator`]); public routes need none;
//! 2. an authenticated request spends its API key's budget (`rate_limit.per_minute`), so
//!    keys sharing an address never starve each other;
//! 3. anything else — public routes, missing or refused credentials — spends its client
//!    address's separate budget (`rate_limit.unauthenticated_per_minute`), so an
//!    unauthenticated flood is refused (429) without touching any key's budget;
//! 4. in dev mode (no keys) every request spends its address's `per_minute` budget.
//!
//! The client address is the peer, or with `rate_limit.client_ip_header` set, the address a
//! trusted proxy (`rate_limit.trusted_proxies`) names: the right-most entry of the header.
//! The [`Caller`] and [`ClientKey`] are attached for the layers below.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, header};

use super::auth::{Authenticator, Caller};
use super::host_routes::is_public;
use super::ratelimit::{ClientKey, Limiter, peer_ip};
use crate::config::RateLimitConfig;

/// How the client address of a request is found.
#[derive(Debug, Clone, Default)]
pub struct ClientAddress {
    header: Option<HeaderName>,
    trusted: Vec<IpAddr>,
}

impl ClientAddress {
    /// From `rate_limit.client_ip_header` and `rate_limit.trusted_proxies`.
    pub fn new(config: &RateLimitConfig) -> ClientAddress {
        ClientAddress {
            header: Self::header_name(config),
            trusted: config.trusted_proxies.clone(),
        }
    }

    /// The configured client-address header (`rate_limit.client_ip_header`), if any.
    pub fn header_name(config: &RateLimitConfig) -> Option<HeaderName> {
        config
            .client_ip_header
            .as_deref()
            .and_then(|h| HeaderName::from_bytes(h.as_bytes()).ok())
    }

    /// The client of `request`: the peer, unless the peer is a trusted proxy that named the
    /// client in the configured header (its right-most address: the one the proxy added).
    pub fn of(&self, request: &Request) -> IpAddr {
        let peer = peer_ip(request);
        let Some(name) = &self.header else {
            return peer;
        };
        if !self.trusted.contains(&peer) {
            return peer;
        }
        request
            .headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|part| part.trim().parse::<IpAddr>().ok())
            .next_back()
            .unwrap_or(peer)
    }
}

/// The guard's state.
pub struct Guard {
    /// Checks credentials.
    pub auth: Arc<Authenticator>,
    /// Budgets of authenticated keys (and of addresses in dev mode); none when limits are off.
    pub keyed: Option<Arc<Limiter>>,
    /// Budgets of unauthenticated addresses; none when limits are off.
    pub anonymous: Option<Arc<Limiter>>,
    /// Finds the client address.
    pub address: ClientAddress,
}

/// See the module docs.
pub async fn guard(State(guard): State<Arc<Guard>>, mut request: Request, next: Next) -> Response {
    let address = guard.address.of(&request);
    let (caller, refused) = if is_public(request.uri().path()) {
        (Caller(None), None)
    } else {
        match guard
            .auth
            .authenticate(request.headers().get(header::AUTHORIZATION))
        {
            Ok(caller) => (caller, None),
            Err(e) => (Caller(None), Some(e)),
        }
    };
    let (client, limiter) = match &caller.0 {
        Some(p) => (ClientKey::ApiKey(p.index), &guard.keyed),
        None if guard.auth.dev_mode() && refused.is_none() => {
            (ClientKey::Addr(address), &guard.keyed)
        }
        None => (ClientKey::Addr(address), &guard.anonymous),
    };
    let decision = limiter.as_ref().map(|l| l.check(client));
    if let Some(d) = decision.filter(|d| !d.allowed) {
        tracing::debug!(?client, "rate limit refused a request");
        return d.refusal();
    }
    if let Some(e) = refused {
        let mut response = e.into_response();
        if let Some(d) = decision {
            d.write_headers(response.headers_mut());
        }
        return response;
    }
    request.extensions_mut().insert(caller);
    request.extensions_mut().insert(client);
    let mut response = next.run(request).await;
    if let Some(d) = decision {
        d.write_headers(response.headers_mut());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;

    fn request(peer: &str, forwarded: Option<&str>) -> Request {
        let mut builder = http::Request::builder().uri("/api/status");
        if let Some(f) = forwarded {
            builder = builder.header("x-forwarded-for", f);
        }
        let mut r = builder.body(axum::body::Body::empty()).expect("request");
        let addr: SocketAddr = format!("{peer}:5000").parse().expect("addr");
        r.extensions_mut().insert(ConnectInfo(addr));
        r
    }

    #[test]
    fn the_header_is_believed_only_from_trusted_proxies() {
        let config = RateLimitConfig {
            client_ip_header: Some("x-forwarded-for".into()),
            trusted_proxies: vec!["10.0.0.1".parse().expect("ip")],
            ..RateLimitConfig::default()
        };
        let a = ClientAddress::new(&config);
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            a.of(&request("10.0.0.1", Some("1.1.1.1, 203.0.113.7"))),
            ip("203.0.113.7")
        );
        assert_eq!(
            a.of(&request("10.0.0.9", Some("203.0.113.7"))),
            ip("10.0.0.9")
        );
        assert_eq!(a.of(&request("10.0.0.1", Some("junk"))), ip("10.0.0.1"));
        assert_eq!(a.of(&request("10.0.0.1", None)), ip("10.0.0.1"));
        let plain = ClientAddress::new(&RateLimitConfig::default());
        assert_eq!(
            plain.of(&request("10.0.0.1", Some("203.0.113.7"))),
            ip("10.0.0.1")
        );
    }
}
