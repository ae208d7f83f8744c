//! What goes into `status`: pure checks and the condition bookkeeping.
//!
//! `checks` turns what the reconciler found (Secrets, discovery document)
//! into named checks; `conditions` turns checks into conditions, keeping each
//! `lastTransitionTime` unless the status flipped, so an unchanged world
//! yields an identical status and nothing is written. `provider` recognises
//! Keycloak and Dex from their discovery documents, so a warning can say
//! what their group claim needs.

pub mod checks;
pub mod conditions;
pub mod provider;
pub mod reason;
pub mod refusal;
