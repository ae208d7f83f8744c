//! What the sidecar tells its operators: Prometheus metrics and the fields
//! of its JSON logs (never a secret, token or cookie).

pub mod log_fields;
pub mod metrics;
