//! The ceiling the benchmarks compare with: a bare axum server with no middleware.

/// A bare axum server on loopback answering `GET /list` with `body` as JSON; its address.
pub async fn bare_json_server(body: axum::body::Bytes) -> std::net::SocketAddr {
    let app = axum::Router::new().route(
        "/list",
        axum::routing::get(move || {
            let body = body.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}
