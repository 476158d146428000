//! The values read at scrape time rather than counted as they happen: the SSH pool's
//! connections, channels and connect counters per target (from
//! [`infrastructor_ssh::SshPool::stats`]), jobs by state and devices by status (from the
//! database); and the `GET /metrics` handler that refreshes them and encodes everything.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use infrastructor_store::{devices, jobs};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::config::Scope;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::services::HostServices;

/// The `target` label of every host that is not a registered device.
pub const UNREGISTERED: &str = "unregistered";

/// The SSH values of one `target` label (a device, or all unregistered hosts together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SshRow {
    /// Open connections.
    pub open: u64,
    /// Channels in use.
    pub channels: u64,
    /// Connections made.
    pub connects: u64,
    /// Failed connection attempts (host-key refusals excluded).
    pub failures: u64,
    /// Connection attempts refused over the host key.
    pub host_key_refusals: u64,
}

/// Everything read at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// SSH values by target label.
    pub ssh: BTreeMap<String, SshRow>,
    /// Jobs kept, by state.
    pub jobs: Vec<(&'static str, u64)>,
    /// Registered devices, by status.
    pub devices: Vec<(&'static str, u64)>,
}

/// The latest [`Snapshot`], encoded by the registry as its own families.
#[derive(Debug, Default)]
pub struct ScrapeValues {
    current: Mutex<Snapshot>,
}

impl ScrapeValues {
    /// Replaces the values the next encoding shows.
    pub fn set(&self, snapshot: Snapshot) {
        if let Ok(mut current) = self.current.lock() {
            *current = snapshot;
        }
    }
}

/// Reads the SSH pool, the jobs and the devices now.
pub async fn read(services: &HostServices) -> Result<Snapshot, infrastructor_store::StoreError> {
    let (all_devices, job_counts) = services
        .store
        .call(|c| Ok((devices::all(c)?, jobs::count_by_state(c)?)))
        .await?;
    let by_endpoint: std::collections::HashMap<(String, u16, String), &str> = all_devices
        .iter()
        .map(|d| {
            let t = services.remote.target_of(d);
            ((t.host, t.port, t.user), d.hostname.as_str())
        })
        .collect();
    let mut ssh: BTreeMap<String, SshRow> = BTreeMap::new();
    for s in services.remote.pool.stats() {
        let key = (s.target.host, s.target.port, s.target.user);
        let label = by_endpoint.get(&key).copied().unwrap_or(UNREGISTERED);
        let row = ssh.entry(label.to_owned()).or_default();
        row.open += u64::from(s.open);
        row.channels += s.channels_in_use as u64;
        row.connects += s.connects;
        row.failures += s.connect_failures;
        row.host_key_refusals += s.host_key_refusals;
    }
    let devices = devices::DeviceStatus::ALL
        .into_iter()
        .map(|status| {
            let n = all_devices.iter().filter(|d| d.status == status).count();
            (status.as_str(), n as u64)
        })
        .collect();
    Ok(Snapshot {
        ssh,
        jobs: job_counts
            .into_iter()
            .map(|(state, n)| (state.as_str(), n))
            .collect(),
        devices,
    })
}

fn gauges(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    rows: &[(&str, u64)],
) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(0i64);
    let mut family = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
    for (value, n) in rows {
        let labels = [(label, *value)];
        let metric = family.encode_family(&labels)?;
        ConstGauge::new(i64::try_from(*n).unwrap_or(i64::MAX)).encode(metric)?;
    }
    Ok(())
}

fn counters(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(&str, u64)],
) -> Result<(), std::fmt::Error> {
    let counter = ConstCounter::new(0u64);
    let mut family = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
    for (target, n) in rows {
        let labels = [("target", *target)];
        let metric = family.encode_family(&labels)?;
        ConstCounter::new(*n).encode(metric)?;
    }
    Ok(())
}

impl Collector for ScrapeValues {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.current.lock().map(|s| s.clone()).unwrap_or_default();
        let ssh = |f: fn(&SshRow) -> u64| -> Vec<(&str, u64)> {
            s.ssh.iter().map(|(t, r)| (t.as_str(), f(r))).collect()
        };
        gauges(
            &mut encoder,
            "ssh_connections_open",
            "Open SSH connections by target (a registered device, or unregistered)",
            "target",
            &ssh(|r| r.open),
        )?;
        gauges(
            &mut encoder,
            "ssh_channels_in_use",
            "SSH channels in use (commands running or opening) by target",
            "target",
            &ssh(|r| r.channels),
        )?;
        counters(
            &mut encoder,
            "ssh_connects",
            "SSH connections made by target",
            &ssh(|r| r.connects),
        )?;
        counters(
            &mut encoder,
            "ssh_connect_failures",
            "Failed SSH connection attempts by target (unreachable, authentication; host-key refusals apart)",
            &ssh(|r| r.failures),
        )?;
        counters(
            &mut encoder,
            "ssh_host_key_refusals",
            "SSH connection attempts refused over the server's host key, by target",
            &ssh(|r| r.host_key_refusals),
        )?;
        gauges(
            &mut encoder,
            "jobs",
            "Jobs kept, by state",
            "state",
            &s.jobs,
        )?;
        gauges(
            &mut encoder,
            "devices",
            "Registered devices by status (offline: the poller lost them)",
            "status",
            &s.devices,
        )?;
        Ok(())
    }
}

/// What the `/metrics` handler needs.
pub struct Endpoint {
    /// The metrics.
    pub metrics: Arc<super::Metrics>,
    /// Where the scrape-time values come from.
    pub services: Arc<HostServices>,
    /// One scrape at a time (the snapshot is shared).
    pub lock: tokio::sync::Mutex<()>,
}

/// `GET /metrics`: every family in the OpenMetrics text format. On the main listener it
/// needs a key (any scope); on `metrics.listen` no authentication is asked for.
pub async fn serve(State(endpoint): State<Arc<Endpoint>>, request: Request) -> Response {
    if let Some(caller) = request.extensions().get::<Caller>()
        && let Err(e) = caller.require(Scope::Read)
    {
        return e.into_response();
    }
    let _one = endpoint.lock.lock().await;
    match read(&endpoint.services).await {
        Ok(snapshot) => endpoint.metrics.scrape.set(snapshot),
        Err(e) => {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "METRICS_UNAVAILABLE",
                format!("cannot read the database for metrics: {e}"),
            )
            .into_response();
        }
    }
    match endpoint.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(super::CONTENT_TYPE),
            )],
            text,
        )
            .into_response(),
        Err(_) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "METRICS_UNAVAILABLE",
            "cannot encode the metrics",
        )
        .into_response(),
    }
}
