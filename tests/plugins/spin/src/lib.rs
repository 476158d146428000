//! A test plugin that never returns from `GET /forever`, for the epoch deadline.

use std::hint::black_box;

use infrastructor_sdk::prelude::*;

fn app() -> App {
    App::new("spin", env!("CARGO_PKG_VERSION"))
        .description("Loops forever on request (end-to-end test plugin)")
        .route(
            Route::get("/forever", "forever").summary("Never answers"),
            forever,
        )
        .route(
            Route::get("/ok", "ok").summary("Answers ok"),
            |_: &Request| Ok(Json(json!({"ok": true}))),
        )
}

fn forever(_: &Request) -> Result<Response, Error> {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

infrastructor_sdk::export_plugin!(app);

#[cfg(test)]
mod tests {
    #[test]
    fn description_is_valid() {
        assert_eq!(super::app().validate(), Ok(()));
    }
}
