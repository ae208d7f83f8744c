//! The gate: whether a request may pass, and as whom. One decision behind
//! every door.
//!
//! A door is a way a request reaches the sidecar: today the reverse proxy
//! ([`crate::proxy`]); a forward-auth endpoint for ingresses and Envoy's
//! ext_authz are doors too. Doors differ only in how they read the original
//! request ([`Asked`]) and how they answer; the gate reads the session or
//! bearer token, weighs the access rules, and returns a [`Pass`] (with what
//! the app must be told, [`Pass::write_identity`]) or a [`Refusal`] (and
//! what each door answers for it, in HTTP [`crate::http::refusal`]). A shared table of
//! request vectors (`sidecar/tests/handlers/gate_vectors.rs`) holds the gate
//! and every door to the same verdicts.

mod asked;
pub mod caller;
pub mod client_hops;
mod decide;
pub mod identity_headers;
pub mod method_overrides;
mod pass;
mod refresh;
mod refusal;
mod renewal_across;
pub mod verdict;

pub use asked::Asked;
pub use caller::current_session;
pub use client_hops::ClientHops;
pub use decide::decide;
pub use pass::{IdentityNotWritten, Pass};
pub use refresh::{Fresh, fresh_session};
pub use refusal::Refusal;
pub use verdict::{Caller, Verdict, verdict};
