//! Authorization at the door: which caller may use which path of the app.
//!
//! [`rules`] turns the request path into the access it needs; [`verdict`]
//! weighs that against who is calling. Both are pure, so every case is a
//! plain unit test; the proxy handler only acts on the verdict.

pub mod rules;
pub mod verdict;

pub use rules::AccessRules;
pub use verdict::{Caller, Verdict, verdict};
