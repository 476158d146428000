//! Host services shared by the HTTP layer, the collector and plugin imports.

use std::sync::Arc;

use infrastructor_store::Store;

use crate::collector::Collector;
use crate::remote::Remote;

/// What host imports can use.
pub struct HostServices {
    /// The database.
    pub store: Store,
    /// SSH execution.
    pub remote: Arc<Remote>,
    /// The unified collector.
    pub collector: Collector,
    /// Jobs: long-running routes and queued internal routes.
    pub jobs: Arc<crate::jobs::JobService>,
    /// The metrics every part of the host counts into.
    pub metrics: Arc<crate::metrics::Metrics>,
}
