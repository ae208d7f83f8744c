//! What goes into `status`: pure checks and the condition bookkeeping.
//!
//! `checks` turns what the reconciler found (Secrets, discovery document)
//! into named checks, in order; each check that reads the document has its
//! own module (`issuer`, `compatibility`, `claims`, `provider_logout`,
//! `session_renewal`), all making the one
//! `check::Check` type. `conditions` turns checks into conditions, keeping
//! each `lastTransitionTime` unless the status flipped, so an unchanged world
//! yields an identical status and nothing is written. `provider` recognises
//! Keycloak and Dex from their discovery documents, so a warning can say
//! what their group claim needs. The imports run one way: `checks` →
//! the check modules → `provider` → `discovery_document`.

pub mod check;
pub mod checks;
pub mod claims;
pub mod compatibility;
pub mod conditions;
pub mod discovery_document;
pub mod forward_snippets;
pub mod issuer;
pub mod provider;
pub mod provider_logout;
pub mod reason;
pub mod refusal;
pub mod rollout;
pub mod service_ports;
pub mod session_renewal;
