//! Bindings of the frozen plugin API 0.1.0 (`wit/since_v0.1.0`).

#![allow(missing_docs, unsafe_code)]

wasmtime::component::bindgen!({
    world: "domain-plugin",
    path: "../wit/since_v0.1.0",
    imports: { default: async },
    exports: { default: async },
});

pub use self::infrastructor::plugin::types::Error as WitError;
pub use exports::infrastructor::plugin::plugin as api;
