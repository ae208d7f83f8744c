//! A client connection's place among the `maxConnections` served at once.
//!
//! The listener hands one to each request, so that what outlives the
//! request on that connection (a spliced WebSocket) keeps the place, and
//! learns when the server stops.

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, watch};

/// A connection's place, and the server's stop signal.
#[derive(Clone, Debug)]
pub struct ConnectionSlot {
    _place: Arc<OwnedSemaphorePermit>,
    stop: watch::Receiver<bool>,
}

impl ConnectionSlot {
    /// The place `place` holds until every clone is dropped; `stop` turns
    /// true when the server stops.
    pub fn new(place: OwnedSemaphorePermit, stop: watch::Receiver<bool>) -> Self {
        Self {
            _place: Arc::new(place),
            stop,
        }
    }

    /// Returns once the server is stopping (or its signal is gone).
    pub async fn stopping(&mut self) {
        let _ = self.stop.wait_for(|stopped| *stopped).await;
    }
}
