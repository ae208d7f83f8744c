//! OpenID Connect: discovery, the code flow, and reading claims.

pub mod claims;
pub mod flow;
pub mod pending;
pub mod provider;
pub mod types;
