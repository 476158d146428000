//! A test plugin whose description breaks the manifest rules (a route without a summary):
//! the SDK refuses to describe it and the host must report why, in one line naming the
//! plugin's version and its own route.

use infrastructor_sdk::prelude::*;

fn app() -> App {
    App::new("oops", env!("CARGO_PKG_VERSION"))
        .description("Described incorrectly (end-to-end test plugin)")
        .route(
            Route::get("/fine", "fine").summary("Answers"),
            |_: &Request| Ok(Json(json!({"ok": true}))),
        )
        .route(Route::get("/nosummary", "no_summary"), |_: &Request| {
            Ok(Json(json!({})))
        })
}

infrastructor_sdk::export_plugin!(app);
