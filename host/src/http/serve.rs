//! The accept loop: HTTP/1.1 connections with bounds a slow or hostile client cannot get
//! around.
//!
//! - **Connection cap** (`server.max_connections`): at the cap the loop stops accepting, so
//!   further clients wait in the kernel's backlog instead of costing a descriptor and
//!   memory each.
//! - **Header read timeout** (`server.header_read_timeout_secs`): a connection that does
//!   not deliver a whole request head in time (slowloris), or stays idle between
//!   keep-alive requests that long, is closed, which frees its slot.
//! - Body reads have their own timeout where bodies are read
//!   ([`super::plugin_routes`]: 408).
//! - Accept errors (out of descriptors…) are logged at debug and retried after a pause,
//!   never a busy loop.
//! - On shutdown the loop stops accepting, every connection finishes its request in flight
//!   and closes, and the loop waits at most `drain` for them.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::reload::RouterSlot;

/// The bounds of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Open connections at most.
    pub max_connections: usize,
    /// Longest time to receive a request head (also the keep-alive idle limit).
    pub header_read_timeout: Duration,
    /// Longest wait for open connections at shutdown.
    pub drain: Duration,
}

/// Serves the router in `slot` on `listener` within `limits` until `shutdown` completes,
/// then drains. Each request is routed by the router current when it arrives.
pub async fn serve(
    listener: TcpListener,
    slot: Arc<RouterSlot>,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let slot = slot.clone();
        let mut stop = stop_rx.clone();
        let header_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let service = TowerToHyperService::new(tower::service_fn(
                move |mut request: http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    let router = slot.current();
                    async move {
                        Ok::<_, Infallible>(
                            router
                                .oneshot(request.map(Body::new))
                                .await
                                .unwrap_or_else(|e| match e {}),
                        )
                    }
                },
            ));
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!(error = %e, %peer, "connection ended with an error");
                        }
                        break;
                    }
                    changed = stop.changed() => {
                        connection.as_mut().graceful_shutdown();
                        if changed.is_err() {
                            // The loop is gone: keep serving the request in flight only.
                            let _ = connection.as_mut().await;
                            break;
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a slot until it closes: all slots back means all closed.
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.drain, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {:?}; closing", limits.drain);
    }
    Ok(())
}
