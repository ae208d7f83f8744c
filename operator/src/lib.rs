//! Portcullis operator: turns `OidcSettings` into the sidecar's Secret and ConfigMap.
//!
//! Pure decisions (`desired`, `status`, `watched_refs`, `leader::decision`)
//! have no IO and are tested with plain `#[test]`; IO lives in thin modules
//! around them (`reconcile`, `discovery`, `leader::lease`, `controller`,
//! `admin`, `run`).

pub mod admin;
pub mod cli;
pub mod cluster_version;
pub mod context;
pub mod controller;
pub mod crd;
pub mod crd_access;
pub mod crd_forward;
pub mod crd_identity;
pub mod crd_refs;
pub mod crd_rollout;
pub mod crd_store;
pub mod desired;
pub mod discovery;
pub mod error;
pub mod fetch_failure;
pub mod leader;
pub mod metrics;
pub mod names;
pub mod reconcile;
pub mod run;
pub mod sidecar_admin;
pub mod sidecar_container;
pub mod spec_fields;
pub mod status;
pub mod store_probe;
pub mod watched_refs;
pub mod webhook;
