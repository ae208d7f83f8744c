//! The connection to the app that belongs to one client connection.
//!
//! A client connection gets at most one connection to the app: opened at
//! its first proxied request, reused by the next ones, and driven by the
//! client connection's own task ([`AppConnectionDriver`]). So there is no
//! pool shared by every connection, no lock taken across connections per
//! request, and no wake-up of another task (often on the other thread) to
//! write each request and read each answer. The app sees at most
//! `maxConnections` connections from the sidecar, each closed when its
//! client's connection closes, and no request waits in a queue for one.
//!
//! HTTP/1.1 answers a connection's requests one after the other, so one
//! connection to the app is enough for each client connection. A WebSocket
//! handshake gets a connection of its own in a task of its own
//! ([`send_on_own_connection`]), because the splice outlives the request.

use axum::body::Body;
use http::uri::Authority;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::{
    TrySendError,
    http1::{self, SendRequest},
};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::net::TcpStream;

/// How long opening a connection to the app may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a request did not reach the app, or got no answer from it.
#[derive(Debug, thiserror::Error)]
pub enum AppConnectionError {
    /// The TCP connection could not be opened.
    #[error("cannot connect to the app: {0}")]
    Connect(#[source] std::io::Error),
    /// The TCP connection did not open within [`CONNECT_TIMEOUT`].
    #[error("the app did not accept a connection within {CONNECT_TIMEOUT:?}")]
    ConnectTimedOut,
    /// The HTTP exchange failed.
    #[error("the app's connection failed: {0}")]
    Http(#[from] hyper::Error),
}

/// A client connection's way to the app, handed to each of its requests.
#[derive(Clone, Default)]
pub struct AppConnection {
    shared: Arc<Mutex<Shared>>,
}

/// Drives the connection to the app; polled by the client connection's task
/// next to the client connection, and dropped with it.
pub struct AppConnectionDriver {
    shared: Arc<Mutex<Shared>>,
}

type Driven = Pin<Box<dyn Future<Output = ()> + Send>>;

#[derive(Default)]
struct Shared {
    /// The sender of the open connection, while no request holds it.
    sender: Option<SendRequest<Body>>,
    /// The open connection's protocol state, until it ends.
    connection: Option<Driven>,
    /// Wakes the driver, to poll a connection it has not seen yet.
    driver: Option<Waker>,
}

// === impl AppConnection ===

impl AppConnection {
    /// A client connection's way to the app, and the driver its task polls.
    pub fn new() -> (Self, AppConnectionDriver) {
        let connection = Self::default();
        let driver = AppConnectionDriver {
            shared: connection.shared.clone(),
        };
        (connection, driver)
    }

    /// Sends `request` (origin-form, with a `Host`) to the app at
    /// `authority`, on this client connection's connection to the app,
    /// opening one if there is none or the app closed it. A request that
    /// a reused connection could not take, because the app closed it between
    /// the check and the write, is sent once more on a new one; a request
    /// the app may have received is never sent again.
    pub async fn send(
        &self,
        authority: &Authority,
        request: Request<Body>,
    ) -> Result<Response<Incoming>, AppConnectionError> {
        let (mut sender, reused) = match self.reusable_sender().await {
            Some(sender) => (sender, true),
            None => (Box::pin(self.open(authority)).await?, false),
        };
        let response = match sender.try_send_request(request).await {
            Err(mut refused) if reused => match refused.take_message() {
                Some(unsent) => {
                    sender = Box::pin(self.open(authority)).await?;
                    sender.send_request(unsent).await
                }
                None => Err(refused.into_error()),
            },
            sent => sent.map_err(TrySendError::into_error),
        }?;
        self.lock().sender = Some(sender);
        Ok(response)
    }

    /// The open connection's sender, once it can take a request; none when
    /// there is no connection or the app has closed it.
    async fn reusable_sender(&self) -> Option<SendRequest<Body>> {
        let mut sender = self.lock().sender.take()?;
        sender.ready().await.ok()?;
        Some(sender)
    }

    /// Opens a connection to the app and hands it to the driver. Callers box
    /// this future: it is awaited once per connection, and its size would
    /// otherwise be carried (and copied) by every proxied request's future.
    async fn open(&self, authority: &Authority) -> Result<SendRequest<Body>, AppConnectionError> {
        let (sender, connection) = handshake(authority).await?;
        let mut shared = self.lock();
        shared.connection = Some(Box::pin(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "a connection to the app ended");
            }
        }));
        if let Some(driver) = &shared.driver {
            driver.wake_by_ref();
        }
        Ok(sender)
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }
}

// === impl AppConnectionDriver ===

impl AppConnectionDriver {
    /// Runs `serving` (the client connection) to its end, polling the
    /// connection to the app first on each wake-up, so that an answer the
    /// app has sent is ready when the client connection's request asks.
    pub async fn serve_alongside(self, serving: impl Future<Output = ()>) {
        let mut driver = std::pin::pin!(self);
        let mut serving = std::pin::pin!(serving);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(never) = driver.as_mut().poll(cx) {
                match never {}
            }
            serving.as_mut().poll(cx)
        })
        .await;
    }
}

impl Future for AppConnectionDriver {
    type Output = Infallible;

    /// Polls the open connection, if any; never ends on its own.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Infallible> {
        let mut shared = lock(&self.shared);
        if let Some(connection) = shared.connection.as_mut()
            && connection.as_mut().poll(cx).is_ready()
        {
            shared.connection = None;
        }
        if !shared
            .driver
            .as_ref()
            .is_some_and(|driver| driver.will_wake(cx.waker()))
        {
            shared.driver = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Sends `request` on a new connection to the app, driven by a task of its
/// own that supports protocol switches: for a WebSocket handshake, and for
/// a request served outside a client connection.
pub async fn send_on_own_connection(
    authority: &Authority,
    request: Request<Body>,
) -> Result<Response<Incoming>, AppConnectionError> {
    let (mut sender, connection) = handshake(authority).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "a connection to the app ended");
        }
    });
    Ok(sender.send_request(request).await?)
}

async fn handshake(
    authority: &Authority,
) -> Result<
    (
        SendRequest<Body>,
        http1::Connection<TokioIo<TcpStream>, Body>,
    ),
    AppConnectionError,
> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(authority.as_str()))
        .await
        .map_err(|_| AppConnectionError::ConnectTimedOut)?
        .map_err(AppConnectionError::Connect)?;
    stream
        .set_nodelay(true)
        .map_err(AppConnectionError::Connect)?;
    Ok(http1::handshake(TokioIo::new(stream)).await?)
}

/// The shared state, also after a panic elsewhere: every field stays valid
/// on its own, at worst an open connection is dropped.
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
