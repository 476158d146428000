//! The HTTP metrics layer: every request is counted by plugin, operation id and status
//! class, and its time to the response head observed, under the labels of the route that
//! matched (looked up by axum's matched path template and the method, never the request
//! path). Rate-limit refusals are counted here too, by the kind their 429 carries
//! ([`super::LimitKind`] as a response extension).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{Method, StatusCode};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

use super::{HttpLabels, LimitKind, Metrics, RouteLabels};

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The metric handles of one route, created on first use.
pub struct RouteMeter {
    labels: RouteLabels,
    classes: [OnceLock<Counter>; 5],
    duration: OnceLock<Histogram>,
}

impl RouteMeter {
    fn new(plugin: &str, operation: &str) -> Arc<RouteMeter> {
        Arc::new(RouteMeter {
            labels: RouteLabels {
                plugin: plugin.to_owned(),
                operation: operation.to_owned(),
            },
            classes: Default::default(),
            duration: OnceLock::new(),
        })
    }

    fn record(&self, metrics: &Metrics, status: StatusCode, took: Duration) {
        let class = usize::from(status.as_u16() / 100)
            .saturating_sub(1)
            .min(CLASSES.len() - 1);
        self.classes[class]
            .get_or_init(|| {
                metrics.http_requests.get_or_create_owned(&HttpLabels {
                    plugin: self.labels.plugin.clone(),
                    operation: self.labels.operation.clone(),
                    status_class: CLASSES[class],
                })
            })
            .inc();
        self.duration
            .get_or_init(|| metrics.http_duration.get_or_create_owned(&self.labels))
            .observe(took.as_secs_f64());
    }
}

/// Every route's meter by path template and method, plus the fixed ones for requests no
/// route of the table matched.
pub struct HttpMeter {
    metrics: Arc<Metrics>,
    routes: HashMap<String, Vec<(Method, Arc<RouteMeter>)>>,
    docs_prefix: &'static str,
    docs: Arc<RouteMeter>,
    unmatched: Arc<RouteMeter>,
}

impl HttpMeter {
    /// An empty table; requests under `docs_prefix` count as `host`/`docs`.
    pub fn new(metrics: Arc<Metrics>, docs_prefix: &'static str) -> HttpMeter {
        HttpMeter {
            metrics,
            routes: HashMap::new(),
            docs_prefix,
            docs: RouteMeter::new("host", "docs"),
            unmatched: RouteMeter::new("host", "unmatched"),
        }
    }

    /// Adds the route `method path` (the template axum matches, `/api/jobs/{id}`) of
    /// `plugin` (`host` for the host's own) named `operation`.
    pub fn add(&mut self, method: Method, path: &str, plugin: &str, operation: &str) {
        self.routes
            .entry(path.to_owned())
            .or_default()
            .push((method, RouteMeter::new(plugin, operation)));
    }

    fn meter(&self, request: &Request) -> Arc<RouteMeter> {
        let matched = request
            .extensions()
            .get::<MatchedPath>()
            .and_then(|p| self.routes.get(p.as_str()))
            .and_then(|methods| {
                methods
                    .iter()
                    .find(|(m, _)| m == request.method())
                    .or_else(|| {
                        // HEAD is answered by the GET route.
                        (request.method() == Method::HEAD)
                            .then(|| methods.iter().find(|(m, _)| m == Method::GET))
                            .flatten()
                    })
            })
            .map(|(_, meter)| meter.clone());
        match matched {
            Some(meter) => meter,
            None if request.uri().path().starts_with(self.docs_prefix) => self.docs.clone(),
            None => self.unmatched.clone(),
        }
    }
}

/// The layer (see the module docs).
pub async fn measure(
    State(meter): State<Arc<HttpMeter>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = meter.meter(&request);
    let response = next.run(request).await;
    route.record(&meter.metrics, response.status(), started.elapsed());
    if let Some(kind) = response.extensions().get::<LimitKind>() {
        meter.metrics.rate_limited(*kind);
    }
    response
}
