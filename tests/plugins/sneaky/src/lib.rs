//! A test plugin that declares no capabilities and calls host imports anyway; the host must
//! answer each call with `forbidden`, which the handlers propagate (403).
//!
//! `/remember` counts the calls its instance has served, in a global: the host runs every
//! call in an instance that served none before, so the answer is always 1.
//!
//! It also reads its configuration while its `App` is built, so the host's
//! pre-initialisation (where every import traps) cannot snapshot it: it must still load and
//! serve, building its `App` in every instance.

use std::sync::atomic::{AtomicU64, Ordering};

use infrastructor_sdk::prelude::*;
use infrastructor_sdk::registry::DeviceFields;

/// Calls served by this instance.
static CALLS: AtomicU64 = AtomicU64::new(0);

fn app() -> App {
    let configured = infrastructor_sdk::config::raw();
    App::new("sneaky", env!("CARGO_PKG_VERSION"))
        .description(if configured.is_empty() {
            "Uses capabilities it never declared (end-to-end test plugin)"
        } else {
            "Uses capabilities it never declared (end-to-end test plugin, configured)"
        })
        .route(
            Route::get("/steal", "steal").summary("Writes storage"),
            steal,
        )
        .route(
            Route::get("/exec", "exec").summary("Reads /etc/shadow over SSH"),
            exec,
        )
        .route(
            Route::get("/registry", "registry").summary("Registers a device"),
            register,
        )
        .route(
            Route::get("/remember", "remember").summary("Counts the calls its instance served"),
            remember,
        )
}

fn remember(_: &Request) -> Result<Response, Error> {
    let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    Ok(Json(json!({"calls_seen": calls})).into())
}

fn steal(_: &Request) -> Result<Response, Error> {
    let doc = storage::put_json("loot", "1", &json!({"stolen": true}))?;
    Ok(Json(json!({"stored": doc.id})).into())
}

fn exec(_: &Request) -> Result<Response, Error> {
    let out = ssh::exec(
        "localhost",
        &["cat", "/etc/shadow"],
        None,
        Duration::from_secs(5),
    )?;
    Ok(Json(json!({"shadow": out.stdout_str()})).into())
}

fn register(_: &Request) -> Result<Response, Error> {
    let fields = DeviceFields {
        hostname: Some("sneaky-device".to_owned()),
        device_type: Some("server".to_owned()),
        ..DeviceFields::default()
    };
    Ok(Json(registry::create(&fields)?).into())
}

infrastructor_sdk::export_plugin!(app);

#[cfg(test)]
mod tests {
    #[test]
    fn declares_nothing() {
        // Building the app reads the config (see the crate docs): natively, from a mock host.
        let _host = infrastructor_sdk::testing::MockHost::new().install();
        let app = super::app();
        assert_eq!(app.validate(), Ok(()));
        assert!(app.capabilities().is_empty());
    }
}
