//! What a reload did, plugin by plugin: the answer of `POST /api/plugins/reload` and the
//! log line of every reload.

use std::sync::Arc;
use std::time::Instant;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plugins::PluginSet;
use crate::plugins::loader::FailedPlugin;

/// What a reload did to one plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReloadAction {
    /// Same bytes and section: its load is kept as it was.
    Unchanged,
    /// Not mounted before, mounted now.
    Added,
    /// A new component or section replaced the running one.
    Replaced,
    /// The new component or section failed to load: the running version stays (`error`).
    Kept,
    /// Its file is gone: unmounted.
    Removed,
    /// Config disables it now: unmounted.
    Disabled,
    /// Not running, and could not be loaded (`error`).
    Failed,
}

impl ReloadAction {
    /// Every action, in the order the log summary lists them (`Unchanged` first).
    pub const ALL: [ReloadAction; 7] = [
        ReloadAction::Unchanged,
        ReloadAction::Added,
        ReloadAction::Replaced,
        ReloadAction::Kept,
        ReloadAction::Removed,
        ReloadAction::Disabled,
        ReloadAction::Failed,
    ];

    /// Its name in the answer (`replaced`…).
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadAction::Unchanged => "unchanged",
            ReloadAction::Added => "added",
            ReloadAction::Replaced => "replaced",
            ReloadAction::Kept => "kept",
            ReloadAction::Removed => "removed",
            ReloadAction::Disabled => "disabled",
            ReloadAction::Failed => "failed",
        }
    }
}

/// One plugin in a [`ReloadReport`].
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ReloadedPlugin {
    /// Name.
    pub name: String,
    /// What the reload did.
    pub action: ReloadAction,
    /// The version serving now (none when it is not mounted).
    pub version: Option<String>,
    /// The version that served before, when it differs or is gone.
    pub previous_version: Option<String>,
    /// SHA-256 of the component serving now, or of the one refused.
    pub sha256: Option<String>,
    /// Why a new component was refused (`kept`, `failed`).
    pub error: Option<String>,
}

/// The answer of a reload.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ReloadReport {
    /// The plugin generation serving now (0 = as started; a reload that changes nothing
    /// keeps the number).
    pub generation: u64,
    /// Whether anything was swapped.
    pub changed: bool,
    /// Milliseconds the reload took (reading, compiling, swapping).
    pub took_ms: f64,
    /// Every plugin mounted now, and every one the reload unmounted or refused.
    pub plugins: Vec<ReloadedPlugin>,
}

impl ReloadReport {
    /// What going from `old` to `new` does (its generation and time set by
    /// [`ReloadReport::finish`]).
    pub fn compare(old: &PluginSet, new: &PluginSet) -> ReloadReport {
        let kept = |name: &str| new.kept.iter().find(|k| k.name == name);
        let mut plugins = Vec::new();
        for p in &new.loaded {
            let name = &p.manifest.name;
            let before = old.get(name);
            let action = match before {
                None => ReloadAction::Added,
                Some(b) if !Arc::ptr_eq(b, p) => ReloadAction::Replaced,
                Some(_) if kept(name).is_some() => ReloadAction::Kept,
                Some(_) => ReloadAction::Unchanged,
            };
            let refused = kept(name);
            plugins.push(ReloadedPlugin {
                name: name.clone(),
                action,
                version: Some(p.manifest.version.clone()),
                previous_version: before
                    .filter(|b| b.manifest.version != p.manifest.version)
                    .map(|b| b.manifest.version.clone()),
                sha256: Some(
                    refused
                        .and_then(|k| k.sha256.clone())
                        .unwrap_or_else(|| p.sha256.clone()),
                ),
                error: refused.map(|k| k.error.clone()),
            });
        }
        for b in &old.loaded {
            let name = &b.manifest.name;
            if new.get(name).is_some() {
                continue;
            }
            let failed = new.failed.iter().find(|f| &f.name == name);
            let action = if new.disabled.iter().any(|d| &d.name == name) {
                ReloadAction::Disabled
            } else {
                ReloadAction::Removed
            };
            plugins.push(ReloadedPlugin {
                name: name.clone(),
                action,
                version: None,
                previous_version: Some(b.manifest.version.clone()),
                sha256: failed.and_then(|f| f.sha256.clone()),
                error: failed.map(|f| f.error.clone()),
            });
        }
        for f in &new.failed {
            if old.get(&f.name).is_some() {
                continue;
            }
            plugins.push(ReloadedPlugin {
                name: f.name.clone(),
                action: ReloadAction::Failed,
                version: None,
                previous_version: None,
                sha256: f.sha256.clone(),
                error: Some(f.error.clone()),
            });
        }
        let changed = plugins.iter().any(|p| {
            matches!(
                p.action,
                ReloadAction::Added
                    | ReloadAction::Replaced
                    | ReloadAction::Removed
                    | ReloadAction::Disabled
            )
        }) || !same_refusals(&old.failed, &new.failed)
            || !same_refusals(&old.kept, &new.kept)
            || old.disabled.len() != new.disabled.len();
        ReloadReport {
            generation: 0,
            changed,
            took_ms: 0.0,
            plugins,
        }
    }

    /// The report of a reload that serves generation `number` now, started at `started`.
    pub fn finish(mut self, number: u64, started: Instant) -> ReloadReport {
        self.generation = number;
        self.took_ms = started.elapsed().as_secs_f64() * 1000.0;
        self
    }

    /// One log line: what changed, by action.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for action in ReloadAction::ALL
            .into_iter()
            .filter(|a| *a != ReloadAction::Unchanged)
        {
            let names: Vec<String> = self
                .plugins
                .iter()
                .filter(|p| p.action == action)
                .map(|p| match (&p.version, &p.error) {
                    (_, Some(e)) => format!("{} ({e})", p.name),
                    (Some(v), None) => format!("{} {v}", p.name),
                    (None, None) => p.name.clone(),
                })
                .collect();
            if !names.is_empty() {
                parts.push(format!("{}: {}", action.as_str(), names.join(", ")));
            }
        }
        if parts.is_empty() {
            parts.push("nothing changed".into());
        }
        format!(
            "plugins reloaded (generation {}, {:.0} ms): {}",
            self.generation,
            self.took_ms,
            parts.join("; ")
        )
    }
}

/// Whether two lists of refused plugins say the same.
fn same_refusals(a: &[FailedPlugin], b: &[FailedPlugin]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.name == y.name && x.error == y.error && x.sha256 == y.sha256)
}

#[cfg(test)]
mod tests {
    use super::ReloadAction;

    #[test]
    fn action_names_are_the_serialized_ones() {
        for action in ReloadAction::ALL {
            assert_eq!(
                serde_json::to_value(action).ok(),
                Some(serde_json::Value::from(action.as_str()))
            );
        }
    }
}
