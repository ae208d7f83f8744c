//! Serving the public port: HTTP/1.1 only, with bounds on what a slow,
//! idle or greedy client can hold.
//!
//! - A client must send each request head within the header-read timeout,
//!   counted from the connection's start or the end of the previous
//!   response, so half-sent heads (slowloris) and idle keep-alive
//!   connections are closed.
//! - At most `maxConnections` connections are served at once; further ones
//!   wait in the kernel's listen queue rather than exhausting descriptors.
//!   A connection spliced to the app as a WebSocket keeps its place until
//!   the splice ends, so long-lived sockets count like any other.
//! - A request head larger than `maxRequestHeadBytes` is refused (431).
//! - HTTP/2 is not spoken here: a client opening with the HTTP/2 preface is
//!   refused by the HTTP/1.1 parser and the connection closed; requests reach
//!   the app as HTTP/1.1 only.
//!
//! On stop, the listener closes, open connections finish their current
//! request, spliced WebSockets are closed, and the call returns once every
//! connection has ended.

use crate::config::connections::ConnectionLimits;
use crate::proxy::app_connection::AppConnection;
use crate::proxy::connection_slot::ConnectionSlot;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// Pause after a failed `accept` (for example, out of descriptors), so the
/// loop does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` within `limits` until `stop` turns true and
/// every connection has ended. `app` answers each request, given the
/// client's address; the request carries it too, as `ConnectInfo`.
pub async fn serve_bounded<App, Answer>(
    listener: TcpListener,
    app: App,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) where
    App: Fn(SocketAddr, Request<Body>) -> Answer + Clone + Send + Sync + 'static,
    Answer: Future<Output = Response> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_request_head_bytes);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let slot = ConnectionSlot::new(permit, stop.clone());
        let service_slot = slot.clone();
        let (app_connection, app_driver) = AppConnection::new();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(service_slot.clone());
            request.extensions_mut().insert(app_connection.clone());
            let answer = app(peer, request.map(Body::new));
            async move { Ok::<_, Infallible>(answer.await) }
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let serving = async {
                let mut connection = std::pin::pin!(connection);
                tokio::select! {
                    _ = connection.as_mut() => {}
                    () = stopped(&mut stop) => {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.await;
                    }
                }
            };
            app_driver.serve_alongside(serving).await;
            drop(slot);
        });
    }
    drop(listener);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
}

/// Returns once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
