//! Prometheus/OpenMetrics metrics: one registry owning every family, a cheap shared handle
//! ([`Metrics`], behind an `Arc` in [`crate::services::HostServices`]) that the HTTP layer,
//! the plugin runtime, the collector, the poller and the rate limiters increment, and the
//! values read only at scrape time (SSH pool, jobs, devices: [`scrape`]).
//!
//! Labels stay bounded: plugin names, operation ids, data types and collector names come
//! from the loaded manifests; SSH targets are registered devices, every other host is
//! `target="unregistered"`; request paths never become labels (routes are named by their
//! operation id, anything unrouted is `operation="unmatched"`).

pub mod http;
pub mod scrape;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A histogram family whose buckets are fixed at construction.
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// `plugin`, `operation` and `status_class` of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The plugin owning the route (`host` for the host's own routes).
    pub plugin: String,
    /// The route's operation id (`unmatched` when no route matched).
    pub operation: String,
    /// `2xx`, `4xx`, `5xx`…
    pub status_class: &'static str,
}

/// `plugin` and `operation` of an HTTP route.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The plugin owning the route (`host` for the host's own routes).
    pub plugin: String,
    /// The route's operation id.
    pub operation: String,
}

/// `plugin`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    /// The plugin's name.
    pub plugin: String,
}

/// An enum whose variants are label values, each written as the given text.
macro_rules! label_value {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// The label value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl EncodeLabelValue for $name {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
                EncodeLabelValue::encode(&self.as_str(), encoder)
            }
        }
    };
}

label_value! {
    /// Why a plugin instance was stopped.
    pub enum StopReason {
        /// The guest trapped (a panic, an unreachable, a runtime failure).
        Trapped => "trapped",
        /// The CPU deadline stopped it.
        Timeout => "timeout",
        /// The memory limit stopped it.
        MemoryLimit => "memory_limit",
    }
}

/// `plugin` and `reason` of a stopped instance.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StopLabels {
    /// The plugin's name.
    pub plugin: String,
    /// Why it stopped.
    pub reason: StopReason,
}

label_value! {
    /// How the collector served a request.
    pub enum CollectResult {
        /// From the cache (or a replayed answer built from cached collections).
        Hit => "hit",
        /// A remote run of its own.
        Miss => "miss",
        /// Joined a run already in flight for the same key (single-flight).
        Shared => "shared",
    }
}

/// `plugin`, `data_type` and `result` of a collection request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CollectLabels {
    /// The plugin the data belongs to.
    pub plugin: String,
    /// The data type (from the manifest).
    pub data_type: String,
    /// Hit, miss or shared.
    pub result: CollectResult,
}

/// `plugin` and `data_type` of a collection.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DataTypeLabels {
    /// The plugin the data belongs to.
    pub plugin: String,
    /// The data type (from the manifest).
    pub data_type: String,
}

/// `plugin` and `collector` of a poller run.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PollerLabels {
    /// The plugin declaring the periodic collector.
    pub plugin: String,
    /// The collector's name (from the manifest).
    pub collector: String,
}

label_value! {
    /// Which quota refused a request.
    pub enum LimitKind {
        /// The global quota of an API key (`rate_limit.per_minute`; per address in dev mode).
        Global => "global",
        /// The quota of unauthenticated requests per client address
        /// (`rate_limit.unauthenticated_per_minute`).
        Unauthenticated => "unauthenticated",
        /// A route's own quota (host route table or plugin manifest).
        Route => "route",
    }
}

/// `kind` of a rate-limit refusal.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    /// The quota that refused.
    pub kind: LimitKind,
}

fn request_buckets() -> Histogram {
    // 0.5 ms … ~8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

fn collection_buckets() -> Histogram {
    // 5 ms … ~80 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// Every metric family of the host, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by plugin, operation and status class.
    pub http_requests: Family<HttpLabels, Counter>,
    /// Time to the response head by plugin and operation.
    pub http_duration: Histograms<RouteLabels>,
    /// Plugin instances started (one per call: handle, parse, manifest).
    pub plugin_instances: Family<PluginLabels, Counter>,
    /// Plugin instances stopped by a trap, the deadline or the memory limit.
    pub plugin_stops: Family<StopLabels, Counter>,
    /// Instantiate + call time of plugin instances.
    pub plugin_call_duration: Histograms<PluginLabels>,
    /// Collection requests by plugin, data type and result.
    pub collector_requests: Family<CollectLabels, Counter>,
    /// Time of real collections (remote steps + parse + persist).
    pub collector_duration: Histograms<DataTypeLabels>,
    /// Poller collections run.
    pub poller_runs: Family<PollerLabels, Counter>,
    /// Poller collections that failed.
    pub poller_failures: Family<PollerLabels, Counter>,
    /// Requests refused by a quota.
    pub rate_limit_rejections: Family<LimitLabels, Counter>,
    /// The values read at scrape time.
    pub scrape: Arc<scrape::ScrapeValues>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every family registered, all empty.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("infrastructor");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by plugin (host for the host's own routes), operation id and status class",
            http_requests.clone(),
        );
        let http_duration: Histograms<RouteLabels> =
            Family::new_with_constructor(request_buckets as fn() -> Histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from the request to its response head, by plugin and operation id",
            Unit::Seconds,
            http_duration.clone(),
        );
        let plugin_instances = Family::<PluginLabels, Counter>::default();
        registry.register(
            "plugin_instances_started",
            "Plugin instances started (a fresh instance per call)",
            plugin_instances.clone(),
        );
        let plugin_stops = Family::<StopLabels, Counter>::default();
        registry.register(
            "plugin_instances_stopped",
            "Plugin instances stopped: trapped, timed out (CPU deadline) or over the memory limit",
            plugin_stops.clone(),
        );
        let plugin_call_duration: Histograms<PluginLabels> =
            Family::new_with_constructor(request_buckets as fn() -> Histogram);
        registry.register_with_unit(
            "plugin_call_duration",
            "Instantiate + call time of a plugin instance",
            Unit::Seconds,
            plugin_call_duration.clone(),
        );
        let collector_requests = Family::<CollectLabels, Counter>::default();
        registry.register(
            "collector_requests",
            "Collection requests by plugin, data type and result: hit (cache), miss (a remote run), shared (joined a run in flight)",
            collector_requests.clone(),
        );
        let collector_duration: Histograms<DataTypeLabels> =
            Family::new_with_constructor(collection_buckets as fn() -> Histogram);
        registry.register_with_unit(
            "collection_duration",
            "Time of real collections (remote steps, parse, persist) by plugin and data type",
            Unit::Seconds,
            collector_duration.clone(),
        );
        let poller_runs = Family::<PollerLabels, Counter>::default();
        registry.register(
            "poller_runs",
            "Periodic collections the poller ran",
            poller_runs.clone(),
        );
        let poller_failures = Family::<PollerLabels, Counter>::default();
        registry.register(
            "poller_failures",
            "Periodic collections that failed",
            poller_failures.clone(),
        );
        let rate_limit_rejections = Family::<LimitLabels, Counter>::default();
        registry.register(
            "rate_limit_rejections",
            "Requests refused (429) by a quota: global (per key), unauthenticated (per address), route",
            rate_limit_rejections.clone(),
        );
        let scrape = Arc::new(scrape::ScrapeValues::default());
        registry.register_collector(Box::new(scrape.clone()));
        Metrics {
            registry,
            http_requests,
            http_duration,
            plugin_instances,
            plugin_stops,
            plugin_call_duration,
            collector_requests,
            collector_duration,
            poller_runs,
            poller_failures,
            rate_limit_rejections,
            scrape,
        }
    }

    /// The OpenMetrics text of every family (ending `# EOF`), with the scrape-time values as
    /// last set by [`scrape::ScrapeValues::set`].
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// One plugin instance ran for `took` (instantiate + call) and ended as `stopped`.
    pub fn plugin_call(&self, plugin: &str, took: Duration, stopped: Option<StopReason>) {
        let labels = PluginLabels {
            plugin: plugin.to_owned(),
        };
        self.plugin_instances.get_or_create(&labels).inc();
        self.plugin_call_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        if let Some(reason) = stopped {
            self.plugin_stops
                .get_or_create(&StopLabels {
                    plugin: labels.plugin,
                    reason,
                })
                .inc();
        }
    }

    /// One collection request of `plugin`'s `data_type` was served as `result`; a real run
    /// (`miss`) took `took`.
    pub fn collection(&self, plugin: &str, data_type: &str, result: CollectResult, took: Duration) {
        self.collector_requests
            .get_or_create(&CollectLabels {
                plugin: plugin.to_owned(),
                data_type: data_type.to_owned(),
                result,
            })
            .inc();
        if result == CollectResult::Miss {
            self.collector_duration
                .get_or_create(&DataTypeLabels {
                    plugin: plugin.to_owned(),
                    data_type: data_type.to_owned(),
                })
                .observe(took.as_secs_f64());
        }
    }

    /// One poller run of `plugin`'s `collector`, failed or not.
    pub fn poller_run(&self, plugin: &str, collector: &str, failed: bool) {
        let labels = PollerLabels {
            plugin: plugin.to_owned(),
            collector: collector.to_owned(),
        };
        self.poller_runs.get_or_create(&labels).inc();
        if failed {
            self.poller_failures.get_or_create(&labels).inc();
        }
    }

    /// One request refused by a quota of `kind`.
    pub fn rate_limited(&self, kind: LimitKind) {
        self.rate_limit_rejections
            .get_or_create(&LimitLabels { kind })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_described_and_the_text_ends_with_eof() {
        let m = Metrics::new();
        m.plugin_call("hello", Duration::from_millis(1), Some(StopReason::Timeout));
        m.collection(
            "devices",
            "proc",
            CollectResult::Miss,
            Duration::from_millis(20),
        );
        m.collection("devices", "proc", CollectResult::Shared, Duration::ZERO);
        m.poller_run("devices", "proc", true);
        m.rate_limited(LimitKind::Route);
        let text = m.encode().expect("encode");
        assert!(text.ends_with("# EOF\n"), "{text}");
        for needle in [
            "infrastructor_plugin_instances_stopped_total{plugin=\"hello\",reason=\"timeout\"} 1",
            "infrastructor_collector_requests_total{plugin=\"devices\",data_type=\"proc\",result=\"shared\"} 1",
            "infrastructor_collection_duration_seconds_count{plugin=\"devices\",data_type=\"proc\"} 1",
            "infrastructor_poller_failures_total{plugin=\"devices\",collector=\"proc\"} 1",
            "infrastructor_rate_limit_rejections_total{kind=\"route\"} 1",
            "# TYPE infrastructor_plugin_instances_started counter",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }
}
