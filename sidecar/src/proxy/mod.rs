//! The reverse-proxy door: a request the gate ([`crate::gate`]) lets through
//! is forwarded to the app on 127.0.0.1, streamed both ways.
//!
//! [`forward`] rewrites the request (hop-by-hop headers, the sidecar's
//! cookies, the identity, the forwarding headers of [`forwarding`]) and
//! sends it on the client connection's own [`app_connection`]; [`upgrade`]
//! splices WebSocket handshakes the app confirms, and nothing else.

pub mod app_connection;
pub mod connection_slot;
pub mod forward;
pub mod forwarding;
pub mod hop_by_hop;
pub mod upgrade;

pub use forward::proxy_request;
