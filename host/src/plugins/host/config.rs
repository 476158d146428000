//! `config`: the plugin's own configuration section.

use crate::plugins::bindings::v0_2::infrastructor::plugin::config;
use crate::plugins::instance::InstanceState;

impl config::Host for InstanceState {
    async fn get(&mut self) -> String {
        self.plugin.config_json.clone()
    }
}
