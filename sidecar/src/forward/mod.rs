//! The forward-auth door: an ingress or proxy asks, before it forwards a
//! request to an app, whether the request may pass and as whom.
//!
//! The proxy holds the request; the sidecar sees only the proxy's question
//! to [`FORWARD_AUTH_PATH`](portcullis_contract::paths::FORWARD_AUTH_PATH),
//! with the original request's method, host and target in the proxy's own
//! headers ([`original`]) and the client's headers beside them. Those
//! headers are believed from the proxies in `trustedProxies` only, and each
//! contract's headers alone: a client's `X-Forwarded-Uri` never stands in
//! for nginx's `X-Original-URL`. The gate decides as it does for the
//! reverse proxy, and [`verify`] answers in the proxy's terms: 2xx with the
//! identity headers to copy onto the request, or the refusal. Envoy may ask
//! over gRPC instead ([`check`]), on a port of its own.

pub mod check;
pub mod original;
pub mod verify;

pub use verify::answer;
