//! The gRPC port's connections, bounded as the public port's are: at most
//! `connections.maxConnections` open at once, further ones waiting in the
//! kernel's listen queue, and a pause after a failed `accept` (out of
//! descriptors) instead of a spinning loop.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Pause after a failed `accept`, so the loop does not spin while the
/// condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// An accepted connection holding one of the bounded places until it ends.
pub struct Slotted {
    stream: TcpStream,
    _place: OwnedSemaphorePermit,
}

/// The connections `listener` accepts, at most `max` open at once.
pub fn bounded(
    listener: TcpListener,
    max: usize,
) -> impl futures_util::Stream<Item = io::Result<Slotted>> {
    let places = Arc::new(Semaphore::new(max));
    futures_util::stream::unfold((listener, places), |(listener, places)| async move {
        let place = places.clone().acquire_owned().await.ok()?;
        let accepted = match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                Ok(Slotted {
                    stream,
                    _place: place,
                })
            }
            Err(error) => {
                tracing::warn!(%error, "cannot accept a gRPC connection");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                Err(error)
            }
        };
        Some((accepted, (listener, places)))
    })
}

impl Connected for Slotted {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Slotted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(context, buf)
    }
}

impl AsyncWrite for Slotted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(context, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(context, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(context)
    }
}
