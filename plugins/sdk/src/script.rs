//! Constant scripts a plugin declares.

use infrastructor_manifest as model;

/// A constant POSIX `sh` script the plugin may run with [`crate::ssh::run_script`] or as a
/// collector step; user input reaches it only as `$1…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script(pub(crate) model::Script);

impl Script {
    /// The script's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The script's text.
    pub fn body(&self) -> &str {
        &self.0.body
    }

    /// The programs it runs; each must be covered by a declared `exec:` capability.
    pub fn programs(&self) -> &[String] {
        &self.0.programs
    }
}
