//! A test plugin that allocates without bound on `GET /grow`, for the memory limit.

use std::hint::black_box;

use infrastructor_sdk::prelude::*;

/// One allocation: 1 MiB.
const CHUNK: usize = 1 << 20;

fn app() -> App {
    App::new("membomb", env!("CARGO_PKG_VERSION"))
        .description("Allocates memory until stopped (end-to-end test plugin)")
        .route(
            Route::get("/grow", "grow").summary("Never stops allocating"),
            grow,
        )
        .route(
            Route::get("/ok", "ok").summary("Answers ok"),
            |_: &Request| Ok(Json(json!({"ok": true}))),
        )
}

fn grow(_: &Request) -> Result<Response, Error> {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; CHUNK];
        // Touch every page so the memory is really used.
        for byte in chunk.iter_mut().step_by(4096) {
            *byte = 1;
        }
        kept.push(black_box(chunk));
        black_box(&kept);
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
