//! Rate limiting with governor: quotas kept per [`ClientKey`] — the API key of an
//! authenticated request, the client address otherwise — for the global quota
//! ([`super::guard`]) and the per-route quotas (`60/minute`) from plugin manifests and for
//! the common routes. Answers carry real `X-RateLimit-Limit/Remaining/Reset` headers; a
//! refusal is 429 with `Retry-After`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;

use crate::http::error::ApiError;
pub use crate::metrics::LimitKind;

/// A quota: `count` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RateSpec {
    /// Requests allowed per period (also the burst).
    pub count: u32,
    /// Period in seconds.
    pub period_secs: u64,
}

impl RateSpec {
    /// Parses `N/second|minute|hour|day` (also `N/s`, `N/m`, `N/h`, `N/d`): the same
    /// spellings the plugin manifests accept ([`infrastructor_manifest::Quota::parse`]).
    pub fn parse(text: &str) -> Result<RateSpec, String> {
        infrastructor_manifest::Quota::parse(text).map(RateSpec::from)
    }

    /// Per minute.
    pub fn per_minute(count: u32) -> RateSpec {
        RateSpec {
            count: count.max(1),
            period_secs: 60,
        }
    }
}

impl From<infrastructor_manifest::Quota> for RateSpec {
    fn from(q: infrastructor_manifest::Quota) -> RateSpec {
        RateSpec {
            count: q.requests,
            period_secs: u64::from(q.per_secs),
        }
    }
}

impl std::fmt::Display for RateSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.period_secs {
            1 => "second",
            60 => "minute",
            3600 => "hour",
            86_400 => "day",
            _ => "period",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// Whose budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// An unauthenticated request (or any request in dev mode): its client address.
    Addr(IpAddr),
    /// An authenticated request: its API key (position in the configuration).
    ApiKey(usize),
}

type Keyed = RateLimiter<
    ClientKey,
    DefaultKeyedStateStore<ClientKey>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// A keyed limiter for one quota.
pub struct Limiter {
    spec: RateSpec,
    interval: Duration,
    inner: Keyed,
    kind: LimitKind,
}

/// What a check found.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    /// Allowed or not.
    pub allowed: bool,
    /// The quota.
    pub limit: u32,
    /// Requests left now.
    pub remaining: u32,
    /// Seconds until the quota is whole again.
    pub reset_secs: u64,
    /// Seconds to wait before retrying (refusals).
    pub retry_after_secs: u64,
    /// Which quota decided (the refusal carries it for the metrics).
    pub kind: LimitKind,
}

impl Limiter {
    /// A limiter for `spec`: a route's own quota unless [`Limiter::kind`] says otherwise.
    pub fn new(spec: RateSpec) -> Limiter {
        let count = NonZeroU32::new(spec.count).unwrap_or(NonZeroU32::MIN);
        let interval = Duration::from_secs(spec.period_secs) / spec.count.max(1);
        let quota = Quota::with_period(interval)
            .unwrap_or_else(|| Quota::per_second(count))
            .allow_burst(count);
        Limiter {
            spec,
            interval,
            inner: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            kind: LimitKind::Route,
        }
    }

    /// The same limiter, counted as a quota of `kind` in the metrics.
    pub fn kind(mut self, kind: LimitKind) -> Limiter {
        self.kind = kind;
        self
    }

    /// The quota.
    pub fn spec(&self) -> RateSpec {
        self.spec
    }

    /// Takes one request from `client`'s budget.
    pub fn check(&self, client: ClientKey) -> Decision {
        match self.inner.check_key(&client) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = self.spec.count.saturating_sub(remaining);
                Decision {
                    allowed: true,
                    limit: self.spec.count,
                    remaining,
                    reset_secs: (self.interval * used).as_secs_f64().ceil() as u64,
                    retry_after_secs: 0,
                    kind: self.kind,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Decision {
                    allowed: false,
                    limit: self.spec.count,
                    remaining: 0,
                    reset_secs: (self.interval * self.spec.count).as_secs_f64().ceil() as u64,
                    retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                    kind: self.kind,
                }
            }
        }
    }

    /// Forgets clients whose budget is whole again (bounds memory).
    pub fn prune(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }
}

impl Decision {
    /// Writes the `X-RateLimit-*` headers (unless a stricter, inner limiter already did).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        if headers.contains_key("x-ratelimit-limit") {
            return;
        }
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("x-ratelimit-reset", HeaderValue::from(self.reset_secs));
    }

    /// The 429 answer, carrying the quota's [`LimitKind`] as an extension for the metrics.
    /// Refusals are logged at debug level only: a flood must not fill the log.
    pub fn refusal(&self) -> Response {
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!(
                "rate limit exceeded: {} requests allowed; retry in {} s",
                self.limit, self.retry_after_secs
            ),
        )
        .with_header(
            http::header::RETRY_AFTER,
            HeaderValue::from(self.retry_after_secs),
        )
        .into_response();
        self.write_headers(response.headers_mut());
        response.extensions_mut().insert(self.kind);
        response
    }
}

/// The peer address of a request (`0.0.0.0` when unknown, as in in-process tests).
pub fn peer_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Whose budget `request` spends: the [`ClientKey`] the guard attached, else its peer.
pub fn client_key(request: &Request) -> ClientKey {
    request
        .extensions()
        .get::<ClientKey>()
        .copied()
        .unwrap_or_else(|| ClientKey::Addr(peer_ip(request)))
}

/// Middleware applying one limiter (a common route's own).
pub async fn limit(State(limiter): State<Arc<Limiter>>, request: Request, next: Next) -> Response {
    let decision = limiter.check(client_key(&request));
    if !decision.allowed {
        return decision.refusal();
    }
    let mut response = next.run(request).await;
    decision.write_headers(response.headers_mut());
    response
}

/// Every limiter the routers use, by quota name and spec. It outlives a router: a router
/// built again (a plugin reload) is handed the same limiter for the same quota, so budgets
/// already spent stay spent.
#[derive(Default)]
pub struct Limiters {
    by_quota: std::sync::Mutex<std::collections::HashMap<(String, RateSpec), Arc<Limiter>>>,
}

impl Limiters {
    /// The limiter of quota `name` (`global`, `host:OPERATION`, `PLUGIN:OPERATION`…) at
    /// `spec`, counted as `kind`: the one already in use, or a new one.
    pub fn get(&self, name: &str, spec: RateSpec, kind: LimitKind) -> Arc<Limiter> {
        let mut map = self.by_quota.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((name.to_string(), spec))
            .or_insert_with(|| Arc::new(Limiter::new(spec).kind(kind)))
            .clone()
    }

    /// Forgets every limiter not in `used` (after a rebuild: quotas that no route has any
    /// more).
    pub fn retain(&self, used: &[Arc<Limiter>]) {
        let mut map = self.by_quota.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, l| used.iter().any(|u| Arc::ptr_eq(u, l)));
    }

    /// Prunes every limiter's idle clients.
    pub fn prune(&self) {
        let all: Vec<Arc<Limiter>> = self
            .by_quota
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for l in all {
            l.prune();
        }
    }
}

/// Periodically prunes limiters so idle clients do not accumulate.
pub fn spawn_pruner(limiters: Arc<Limiters>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limiters.prune();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rebuilt_router_gets_the_same_limiter_and_its_spent_budget() {
        let limiters = Limiters::default();
        let spec = RateSpec::per_minute(2);
        let first = limiters.get("hello:ping", spec, LimitKind::Route);
        let client = ClientKey::Addr(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(first.check(client).allowed);
        assert!(first.check(client).allowed);
        // The same quota after a rebuild: the budget is still spent.
        let again = limiters.get("hello:ping", spec, LimitKind::Route);
        assert!(Arc::ptr_eq(&first, &again));
        assert!(!again.check(client).allowed);
        // Another spec is another quota; a quota no route uses any more is forgotten.
        let wider = limiters.get("hello:ping", RateSpec::per_minute(5), LimitKind::Route);
        assert!(wider.check(client).allowed);
        limiters.retain(std::slice::from_ref(&wider));
        let fresh = limiters.get("hello:ping", spec, LimitKind::Route);
        assert!(!Arc::ptr_eq(&first, &fresh));
        assert!(fresh.check(client).allowed);
    }

    #[test]
    fn parses_specs() {
        assert_eq!(
            RateSpec::parse("60/minute"),
            Ok(RateSpec {
                count: 60,
                period_secs: 60
            })
        );
        assert_eq!(RateSpec::parse("10/s").map(|s| s.period_secs), Ok(1));
        assert!(RateSpec::parse("0/minute").is_err());
        assert!(RateSpec::parse("ten/minute").is_err());
        assert!(RateSpec::parse("5/fortnight").is_err());
    }

    #[test]
    fn counts_down_then_refuses() {
        let l = Limiter::new(RateSpec::per_minute(3));
        let ip = ClientKey::Addr(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let remaining: Vec<u32> = (0..3).map(|_| l.check(ip).remaining).collect();
        assert_eq!(remaining, vec![2, 1, 0]);
        let refused = l.check(ip);
        assert!(!refused.allowed);
        assert!(refused.retry_after_secs >= 1 && refused.retry_after_secs <= 20);
        let other = l.check(ClientKey::Addr(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
        assert!(other.allowed, "budgets are per client");
        assert!(l.check(ClientKey::ApiKey(0)).allowed, "and per key");
    }
}
