//! Running the sidecar: the public listener and its connection bounds, the
//! route table (own pages, and the proxy for every other path), the admin port (health, readiness, metrics), live reload of the mounted
//! config, and start-up and graceful shutdown.

pub mod admin;
pub mod listener;
pub mod reload;
pub mod routes;
pub mod server;
