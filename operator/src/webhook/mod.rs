//! The mutating admission webhook that injects the sidecar into labelled pods.
//!
//! A pod labelled `portcullis.dev/inject: <OidcSettings name>` gets the
//! sidecar, the generated ConfigMap and Secret as volumes, and an annotation
//! that marks it injected. The webhook is registered with `failurePolicy:
//! Fail`: a pod meant to be protected never starts without its sidecar.
//! Every replica serves it, leader or not.
//!
//! The sidecar container itself is [`crate::sidecar_container`]'s (a
//! forward-auth Deployment runs it too); `pre_stop` and `patch` are pure; `admission` is the HTTP handler that looks
//! the `OidcSettings` up; `tls` keeps the HTTPS certificate.

pub mod admission;
pub mod patch;
pub mod pre_stop;
pub mod start;
pub mod tls;
