//! What the generated ConfigMap and Secret should contain: pure decisions.
//!
//! Nothing here talks to the API server; the reconciler reads what exists,
//! asks these functions what should exist, and applies the answer.

pub mod config;
pub mod forward_service;
pub mod hash;
pub mod network_policy;
pub mod objects;
pub mod secrets;
pub mod unchanged;
