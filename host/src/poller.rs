//! The background poller: runs every plugin's periodic collectors for devices with
//! monitoring enabled, with jitter, a global concurrency limit, exponential back-off per
//! device on connection errors, and device status upkeep (`offline` after 3 consecutive
//! connection failures, `online` + `last_seen` on success).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use infrastructor_store::devices::{self, DeviceStatus};
use tokio::sync::{Mutex, Semaphore, watch};

use crate::config::PollerConfig;
use crate::fault::{Fault, FaultKind};
use crate::plugins::manifest::CollectorSpec;
use crate::plugins::{CallContext, CollectSpec, LoadedPlugin, PluginSet};
use crate::reload::PluginGeneration;
use crate::services::HostServices;

/// Consecutive connection failures after which a device is marked offline.
pub const OFFLINE_AFTER: u32 = 3;

#[derive(Default)]
struct DeviceHealth {
    failures: u32,
    /// No collection for this device before this instant.
    backoff_until: Option<Instant>,
}

type JobKey = (String, String, String); // (hostname, plugin, collector)

/// Spawns the poller; it runs until the returned handle is aborted.
/// It follows `plugins`: after a reload it runs the new generation's collectors.
pub fn spawn(
    services: Arc<HostServices>,
    plugins: watch::Receiver<Arc<PluginGeneration>>,
    config: PollerConfig,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(services, plugins, config))
}

/// Every periodic collector of `plugins`, with its plugin.
fn collectors_of(plugins: &PluginSet) -> Vec<(Arc<LoadedPlugin>, CollectorSpec)> {
    plugins
        .loaded
        .iter()
        .flat_map(|p| {
            p.manifest
                .collectors
                .iter()
                .map(move |c| (p.clone(), c.clone()))
        })
        .collect()
}

fn jitter(max: Duration) -> Duration {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let r = u64::from_le_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
    ]);
    let ms = max.as_millis().max(1) as u64;
    Duration::from_millis(r % ms)
}

/// The back-off after `failures` consecutive connection failures: base × 2^(n−1), capped.
pub fn backoff(config: &PollerConfig, failures: u32) -> Duration {
    let base = Duration::from_millis(config.backoff_base_ms);
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    (base * factor).min(Duration::from_millis(config.backoff_max_ms))
}

async fn run(
    services: Arc<HostServices>,
    mut plugins: watch::Receiver<Arc<PluginGeneration>>,
    config: PollerConfig,
) {
    let mut jobs = collectors_of(&plugins.borrow_and_update().plugins);
    if jobs.is_empty() {
        tracing::info!("poller: no plugin declares a periodic collector (yet)");
    }
    let slots = Arc::new(Semaphore::new(config.max_concurrency));
    let health: Arc<Mutex<HashMap<String, DeviceHealth>>> = Arc::default();
    let mut due: HashMap<JobKey, Instant> = HashMap::new();
    let mut running: HashMap<JobKey, tokio::task::JoinHandle<()>> = HashMap::new();
    let tick = Duration::from_millis(config.tick_ms.max(10));
    let mut devices_at = Instant::now() - Duration::from_secs(3600);
    let mut monitored = Vec::new();
    loop {
        if devices_at.elapsed() >= Duration::from_secs(config.refresh_secs.max(1)) {
            match services.store.call(|c| devices::monitored(c)).await {
                Ok(list) => monitored = list,
                Err(e) => tracing::warn!(error = %e, "poller: cannot read devices"),
            }
            devices_at = Instant::now();
        }
        if plugins.has_changed().unwrap_or(false) {
            jobs = collectors_of(&plugins.borrow_and_update().plugins);
        }
        running.retain(|_, h| !h.is_finished());
        let now = Instant::now();
        for device in &monitored {
            if device.status == DeviceStatus::Maintenance {
                continue;
            }
            let blocked = health
                .lock()
                .await
                .get(&device.hostname)
                .and_then(|h| h.backoff_until)
                .is_some_and(|t| t > now);
            for (plugin, spec) in &jobs {
                let key = (
                    device.hostname.clone(),
                    plugin.manifest.name.clone(),
                    spec.name.clone(),
                );
                let interval = Duration::from_secs(u64::from(spec.interval_secs));
                let next = *due
                    .entry(key.clone())
                    .or_insert_with(|| now + jitter(interval.min(Duration::from_secs(30))));
                if next > now || blocked || running.contains_key(&key) {
                    continue;
                }
                due.insert(key.clone(), now + interval);
                let task = tokio::spawn(poll_once(
                    services.clone(),
                    plugin.clone(),
                    spec.clone(),
                    device.hostname.clone(),
                    slots.clone(),
                    health.clone(),
                    config.clone(),
                ));
                running.insert(key, task);
            }
        }
        tokio::time::sleep(tick).await;
    }
}

async fn poll_once(
    services: Arc<HostServices>,
    plugin: Arc<LoadedPlugin>,
    spec: CollectorSpec,
    hostname: String,
    slots: Arc<Semaphore>,
    health: Arc<Mutex<HashMap<String, DeviceHealth>>>,
    config: PollerConfig,
) {
    let Ok(_permit) = slots.acquire().await else {
        return;
    };
    let request = CollectSpec {
        data_type: spec.data_type.clone(),
        target: hostname.clone(),
        params: Vec::new(),
        steps: spec.steps.clone(),
        parser: spec.parser.clone(),
        parser_args: String::new(),
        max_age: Duration::ZERO,
        force_refresh: true,
    };
    let call = CallContext {
        request_id: format!("poller:{}:{}", plugin.manifest.name, spec.name),
        principal: Some("poller".into()),
        hosts: crate::remote::HostAccess::RegisteredOnly,
    };
    let result = plugin.collect(request, &call).await;
    services
        .metrics
        .poller_run(&plugin.manifest.name, &spec.name, result.is_err());
    let mut table = health.lock().await;
    let entry = table.entry(hostname.clone()).or_default();
    match result {
        Ok(_) => {
            entry.failures = 0;
            entry.backoff_until = None;
            drop(table);
            let now = crate::time::now_rfc3339();
            let host = hostname.clone();
            if let Err(e) = services
                .store
                .call(move |c| devices::set_status(c, &host, DeviceStatus::Online, Some(&now)))
                .await
            {
                tracing::warn!(device = %hostname, error = %e, "poller: cannot record status");
            }
        }
        Err(Fault {
            kind: FaultKind::Unavailable,
            message,
        }) => {
            entry.failures += 1;
            let failures = entry.failures;
            let wait = backoff(&config, failures);
            entry.backoff_until = Some(Instant::now() + wait);
            drop(table);
            tracing::info!(device = %hostname, failures, backoff_ms = wait.as_millis() as u64, %message,
                "poller: device unreachable");
            if failures >= OFFLINE_AFTER {
                let host = hostname.clone();
                let changed = services
                    .store
                    .call(move |c| {
                        let current = devices::get(c, &host)?;
                        match current {
                            Some(d) if d.status != DeviceStatus::Offline => {
                                devices::set_status(c, &host, DeviceStatus::Offline, None)
                            }
                            _ => Ok(false),
                        }
                    })
                    .await;
                if let Ok(true) = changed {
                    tracing::warn!(device = %hostname, failures, "poller: device marked offline");
                }
            }
        }
        Err(e) => {
            drop(table);
            tracing::warn!(device = %hostname, plugin = %plugin.manifest.name, collector = %spec.name,
                error = %e, "poller: collection failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_30s_to_5min() {
        let c = PollerConfig::default();
        let secs: Vec<u64> = (1..=6).map(|n| backoff(&c, n).as_secs()).collect();
        assert_eq!(secs, vec![30, 60, 120, 240, 300, 300]);
    }
}
