//! Host services shared by the HTTP layer and by plugin imports.

use infrastructor_store::Store;

/// What host imports can use. The SSH pool and the collector join it in the next step
/// (until then the `ssh` and `collector` imports answer `unavailable`).
pub struct HostServices {
    /// The database.
    pub store: Store,
}
