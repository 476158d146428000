//! The built-in plugins, compiled by the build script and embedded: built for
//! `wasm32-unknown-unknown` and made components (`infrastructor-plugin-builder`), so each
//! imports WASI only where it reads the clock or granted files.

/// One built-in plugin.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinPlugin {
    /// Its name.
    pub name: &'static str,
    /// The component bytes, embedded in the binary.
    pub wasm: &'static [u8],
    /// SHA-256 of `wasm` (hex), taken at build time.
    pub sha256: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    use crate::plugins::bindings::{Names, top_level_names};

    fn imports(wasm: &[u8]) -> Vec<String> {
        top_level_names(wasm, Names::Imports)
    }

    /// "Guests link no WASI unless they ask for it": a built-in imports the WASI clocks only
    /// if it reads the time, the filesystem only if it reads granted files (devices), and
    /// nothing else of WASI (no `cli`, `random`, `sockets`…, which a `wasm32-wasip2` build
    /// links into every guest).
    #[test]
    fn built_ins_import_only_the_wasi_they_use() {
        assert!(PLUGINS.len() >= 6, "{PLUGINS:?}");
        for plugin in PLUGINS {
            let imports = imports(plugin.wasm);
            assert!(
                imports
                    .iter()
                    .any(|i| i.starts_with("infrastructor:plugin/")),
                "{}: {imports:?}",
                plugin.name
            );
            for import in imports.iter().filter(|i| i.starts_with("wasi:")) {
                let allowed = import.starts_with("wasi:clocks/")
                    || (plugin.name == "devices"
                        && ["wasi:filesystem/", "wasi:io/"]
                            .iter()
                            .any(|p| import.starts_with(p)));
                assert!(allowed, "{} imports {import}: {imports:?}", plugin.name);
            }
        }
        let containers = PLUGINS.iter().find(|p| p.name == "containers");
        let containers = imports(containers.expect("containers").wasm);
        assert!(
            !containers.iter().any(|i| i.starts_with("wasi:")),
            "containers reads no clock and no file: {containers:?}"
        );
    }
}
