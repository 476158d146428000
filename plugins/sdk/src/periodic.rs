//! Periodic collectors: collections the host runs for every device with monitoring enabled.

use std::time::Duration;

use infrastructor_manifest as model;

use crate::collector::Step;

/// A collection the host runs periodically for every device with monitoring enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collector {
    name: String,
    data_type: String,
    interval: Duration,
    steps: Vec<Step>,
    parser: String,
}

impl Collector {
    /// A collector `name` producing `data_type` every `interval` with the plugin's parser
    /// `parser`; add steps with [`Collector::step`].
    pub fn new(name: &str, data_type: &str, interval: Duration, parser: &str) -> Self {
        Self {
            name: name.to_owned(),
            data_type: data_type.to_owned(),
            interval,
            steps: Vec::new(),
            parser: parser.to_owned(),
        }
    }

    /// Adds a remote step.
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// The collector as the manifest model describes it.
    pub fn model(&self) -> model::PeriodicCollector {
        model::PeriodicCollector {
            name: self.name.clone(),
            data_type: self.data_type.clone(),
            interval_secs: u32::try_from(self.interval.as_secs()).unwrap_or(u32::MAX),
            steps: self.steps.iter().map(Step::model).collect(),
            parser: self.parser.clone(),
        }
    }
}
