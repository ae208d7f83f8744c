//! OpenID Connect: discovery, the code flow, and reading claims.

pub mod access_token;
pub mod bearer;
pub mod claim_path;
pub mod claims;
pub mod client;
pub mod flow;
pub mod issuer_param;
pub mod logout_token;
pub mod pending;
pub mod provider;
pub mod refresh;
pub mod signed_in;
pub mod token_answer;
pub mod types;
