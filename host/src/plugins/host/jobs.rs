//! `jobs`: queue one of the plugin's internal routes ([`crate::plugins::jobs`]).

use crate::fault::Fault;
use crate::plugins::bindings::v0_2::WitError;
use crate::plugins::bindings::v0_2::infrastructor::plugin::jobs;
use crate::plugins::instance::InstanceState;

use super::to_wit_error;

impl jobs::Host for InstanceState {
    async fn enqueue(&mut self, operation_id: String, body: String) -> Result<(), WitError> {
        let Some(loaded) = self.loaded.clone() else {
            return Err(to_wit_error(Fault::unavailable(
                "jobs are not available while a plugin loads",
            )));
        };
        crate::plugins::jobs::enqueue(&loaded, &operation_id, &body, &self.call)
            .map_err(to_wit_error)
    }
}
