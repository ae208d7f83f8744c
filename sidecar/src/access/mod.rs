//! Authorization at the door: which caller may use which path of the app.
//!
//! [`rules`] turns the request path into the access it needs; the gate
//! ([`crate::gate`]) weighs that against who is calling. Pure, so every
//! case is a plain unit test.

pub mod roles;
pub mod rules;

pub use rules::AccessRules;
