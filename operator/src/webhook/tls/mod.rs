//! The webhook's TLS: the API server only calls webhooks over HTTPS, with a
//! CA it is told about in the webhook configuration's `caBundle`.
//!
//! `certs` decides and makes (pure), `store` keeps the pair in a Secret and
//! the bundle in the configuration (IO), `serve` is the listener that swaps
//! certificates without a restart.

pub mod certs;
pub mod serve;
pub mod store;
