//! A test plugin that panics (traps) on `GET /boom`.

use infrastructor_sdk::prelude::*;

fn app() -> App {
    App::new("trap", env!("CARGO_PKG_VERSION"))
        .description("Panics on request (end-to-end test plugin)")
        .route(Route::get("/boom", "boom").summary("Panics"), boom)
        .route(
            Route::get("/ok", "ok").summary("Answers ok"),
            |_: &Request| Ok(Json(json!({"ok": true}))),
        )
}

fn boom(_: &Request) -> Result<Response, Error> {
    panic!("boom: the trap plugin was asked to panic");
}

infrastructor_sdk::export_plugin!(app);

#[cfg(test)]
mod tests {
    #[test]
    fn description_is_valid() {
        assert_eq!(super::app().validate(), Ok(()));
    }
}
