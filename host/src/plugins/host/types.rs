//! `types`: the plugin API's error, to and from the host's [`Fault`].

use crate::fault::{Fault, FaultKind};
use crate::plugins::bindings::v0_2::WitError;
use crate::plugins::bindings::v0_2::infrastructor::plugin::types;
use crate::plugins::instance::InstanceState;

impl types::Host for InstanceState {}

/// A host fault as the plugin API's error.
pub fn to_wit_error(f: Fault) -> WitError {
    let m = f.message;
    match f.kind {
        FaultKind::NotFound => WitError::NotFound(m),
        FaultKind::BadRequest => WitError::BadRequest(m),
        FaultKind::Conflict => WitError::Conflict(m),
        FaultKind::Unavailable => WitError::Unavailable(m),
        FaultKind::Timeout => WitError::Timeout(m),
        FaultKind::Forbidden => WitError::Forbidden(m),
        FaultKind::Internal => WitError::Internal(m),
        FaultKind::Upstream => WitError::Upstream(m),
        FaultKind::Invalid => WitError::Invalid(m),
        FaultKind::TooLarge => WitError::TooLarge(m),
    }
}

/// The plugin API's error as a host fault.
pub fn from_wit_error(e: WitError) -> Fault {
    let (kind, m) = match e {
        WitError::NotFound(m) => (FaultKind::NotFound, m),
        WitError::BadRequest(m) => (FaultKind::BadRequest, m),
        WitError::Conflict(m) => (FaultKind::Conflict, m),
        WitError::Unavailable(m) => (FaultKind::Unavailable, m),
        WitError::Timeout(m) => (FaultKind::Timeout, m),
        WitError::Forbidden(m) => (FaultKind::Forbidden, m),
        WitError::Internal(m) => (FaultKind::Internal, m),
        WitError::Upstream(m) => (FaultKind::Upstream, m),
        WitError::Invalid(m) => (FaultKind::Invalid, m),
        WitError::TooLarge(m) => (FaultKind::TooLarge, m),
    };
    Fault::new(kind, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_survives_the_round_trip() {
        for kind in [
            FaultKind::NotFound,
            FaultKind::BadRequest,
            FaultKind::Conflict,
            FaultKind::Unavailable,
            FaultKind::Timeout,
            FaultKind::Forbidden,
            FaultKind::Internal,
            FaultKind::Upstream,
        ] {
            let f = Fault::new(kind, "m");
            assert_eq!(from_wit_error(to_wit_error(f.clone())), f);
        }
    }
}
