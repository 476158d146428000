//! The plugin interface's exports (`manifest`, `handle`, `parse`) of one component: found
//! and type-checked once, at load; in each instance afterwards only looked up by index.
//!
//! The bindings `bindgen!` generates type-check every export of every new instance (their
//! `GuestIndices::load`), although the types are the component's and cannot differ between
//! its instances. With a fresh instance per request that check ran on every request: about
//! 3 % of a sequentially served plugin route's CPU (`perf`, `plugin_overhead`). Here the
//! check runs on the first instance of a component ([`v0_2::checked`]); every later call
//! looks its one function up by index and uses it with the types that check proved.
//!
//! A check cannot be skipped: an [`Exports`] exists only once its types are proven
//! ([`v0_2::checked`]), it names the API version they were proven for, and an index of one
//! component names nothing in an instance of another.

use wasmtime::component::{ComponentExportIndex, Func, Instance, TypedFunc};
use wasmtime::{AsContextMut, Store};

use super::bindings::{ApiVersion, PACKAGE};

/// The export indices of the plugin interface's functions in one component, for one API
/// version. Only [`v0_1::checked`] and [`v0_2::checked`] make one, after proving the
/// functions' types on an instance of the component, so holding one is that proof.
#[derive(Debug, Clone)]
pub struct Exports {
    version: ApiVersion,
    manifest: ComponentExportIndex,
    handle: ComponentExportIndex,
    parse: ComponentExportIndex,
}

impl Exports {
    /// Finds the plugin interface of `version` and its three functions in `instance`'s
    /// component. Their types are not checked here.
    fn find<T>(
        store: &mut Store<T>,
        instance: &Instance,
        version: ApiVersion,
    ) -> wasmtime::Result<Exports> {
        let interface = format!("{PACKAGE}/plugin@{}", version.as_str());
        let scope = instance
            .get_export_index(&mut *store, None, &interface)
            .ok_or_else(|| wasmtime::format_err!("it does not export `{interface}`"))?;
        let mut func = |name: &str| {
            instance
                .get_export_index(&mut *store, Some(&scope), name)
                .ok_or_else(|| wasmtime::format_err!("it does not export `{interface}#{name}`"))
        };
        Ok(Exports {
            version,
            manifest: func("manifest")?,
            handle: func("handle")?,
            parse: func("parse")?,
        })
    }

    /// The API version whose types were proven.
    pub fn version(&self) -> ApiVersion {
        self.version
    }

    /// The function at `index` in `instance`, an instance of the component these indices
    /// were found in, for a call with `version`'s types.
    fn func<T>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        index: &ComponentExportIndex,
        version: ApiVersion,
    ) -> wasmtime::Result<Func> {
        if self.version != version {
            wasmtime::bail!(
                "exports checked for API {} called as {version}",
                self.version
            );
        }
        // An index of another component names nothing here (`get_func` checks whose it is).
        instance
            .get_func(&mut *store, index)
            .ok_or_else(|| wasmtime::format_err!("the export is not a function of this instance"))
    }
}

/// The typed calls of one API version's plugin interface, with the types its bindings
/// generate (`bindings::$version::api`).
macro_rules! typed_calls {
    ($version:ident, $variant:ident) => {
        /// The plugin interface's calls with this API version's types.
        // The calls make their typed functions unchecked, as the generated bindings' own
        // `call_*` methods do, on the proof `checked` gives (see the module's docs).
        #[allow(unsafe_code)]
        pub mod $version {
            use super::*;
            use crate::plugins::bindings::$version::{WitError, api};

            type ManifestFn = TypedFunc<(), (api::PluginManifest,)>;
            type HandleFn<'a> = TypedFunc<(&'a api::Request,), (Result<api::Response, WitError>,)>;
            type ParseFn<'a> =
                TypedFunc<(&'a str, &'a [api::StepOutput], &'a str), (Result<String, WitError>,)>;

            /// The exports of `instance`'s component, once `manifest`, `handle` and `parse`
            /// are proven to have this version's types (any instance of a component proves
            /// it for all of them).
            pub fn checked<T>(
                store: &mut Store<T>,
                instance: &Instance,
            ) -> wasmtime::Result<Exports> {
                let exports = Exports::find(store, instance, ApiVersion::$variant)?;
                // The very types the calls below use.
                let _: ManifestFn = instance.get_typed_func(&mut *store, &exports.manifest)?;
                let _: HandleFn<'_> = instance.get_typed_func(&mut *store, &exports.handle)?;
                let _: ParseFn<'_> = instance.get_typed_func(&mut *store, &exports.parse)?;
                Ok(exports)
            }

            /// Calls `manifest` of `instance`.
            pub async fn manifest<T: Send>(
                exports: &Exports,
                store: &mut Store<T>,
                instance: &Instance,
            ) -> wasmtime::Result<api::PluginManifest> {
                let func =
                    exports.func(store, instance, &exports.manifest, ApiVersion::$variant)?;
                // SAFETY: `checked` proved this export of this component has these types.
                let typed: ManifestFn = unsafe { TypedFunc::new_unchecked(func) };
                Ok(typed.call_async(store.as_context_mut(), ()).await?.0)
            }

            /// Calls `handle` of `instance`.
            pub async fn handle<T: Send>(
                exports: &Exports,
                store: &mut Store<T>,
                instance: &Instance,
                request: &api::Request,
            ) -> wasmtime::Result<Result<api::Response, WitError>> {
                let func = exports.func(store, instance, &exports.handle, ApiVersion::$variant)?;
                // SAFETY: `checked` proved this export of this component has these types.
                let typed: HandleFn<'_> = unsafe { TypedFunc::new_unchecked(func) };
                Ok(typed
                    .call_async(store.as_context_mut(), (request,))
                    .await?
                    .0)
            }

            /// Calls `parse` of `instance`.
            pub async fn parse<T: Send>(
                exports: &Exports,
                store: &mut Store<T>,
                instance: &Instance,
                name: &str,
                outputs: &[api::StepOutput],
                args: &str,
            ) -> wasmtime::Result<Result<String, WitError>> {
                let func = exports.func(store, instance, &exports.parse, ApiVersion::$variant)?;
                // SAFETY: `checked` proved this export of this component has these types.
                let typed: ParseFn<'_> = unsafe { TypedFunc::new_unchecked(func) };
                Ok(typed
                    .call_async(store.as_context_mut(), (name, outputs, args))
                    .await?
                    .0)
            }
        }
    };
}

typed_calls!(v0_1, V0_1);
typed_calls!(v0_2, V0_2);

#[cfg(test)]
mod tests {
    use wasmtime::component::{Component, Linker};
    use wasmtime::{Engine, Store};

    use super::*;
    use crate::builtin::PLUGINS;

    /// An instance of the built-in `name` in a store of its own, every import a trap (no
    /// guest code runs in these tests).
    fn instance(engine: &Engine, name: &str) -> (Store<()>, Instance) {
        let plugin = PLUGINS
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no built-in {name}"));
        let component = Component::new(engine, plugin.wasm).expect("compiles");
        let mut linker = Linker::<()>::new(engine);
        linker
            .define_unknown_imports_as_traps(&component)
            .expect("traps for imports");
        let mut store = Store::new(engine, ());
        let instance = linker
            .instantiate(&mut store, &component)
            .expect("instantiates");
        (store, instance)
    }

    #[tokio::test]
    async fn exports_exist_only_as_proven_and_serve_only_their_version_and_component() {
        let engine = Engine::default();
        let (mut store, containers) = instance(&engine, "containers");

        let proven = v0_2::checked(&mut store, &containers).expect("a 0.2.0 plugin");
        assert_eq!(proven.version(), ApiVersion::V0_2);

        let refused = v0_1::checked(&mut store, &containers).expect_err("not a 0.1.0 plugin");
        assert!(
            refused
                .to_string()
                .contains("infrastructor:plugin/plugin@0.1.0"),
            "{refused}"
        );

        // Exports proven for 0.2.0 are not called with 0.1.0's types.
        let wrong_types = v0_1::manifest(&proven, &mut store, &containers)
            .await
            .expect_err("0.1.0 types on 0.2.0 exports");
        assert!(
            wrong_types.to_string().contains("checked for API 0.2.0"),
            "{wrong_types}"
        );

        // Indices found in one component name nothing in an instance of another, even one
        // with the same interface.
        let (mut other_store, vms) = instance(&engine, "vms");
        let foreign = v0_2::handle(
            &proven,
            &mut other_store,
            &vms,
            &crate::plugins::bindings::v0_2::api::Request {
                operation_id: "list".into(),
                method: crate::plugins::bindings::v0_2::api::Method::Get,
                path: "/".into(),
                path_params: vec![],
                query: vec![],
                body: None,
                request_id: "test".into(),
                principal: None,
            },
        )
        .await
        .expect_err("another component's instance");
        assert!(
            foreign
                .to_string()
                .contains("not a function of this instance")
        );
    }
}
