//! The signed identity: a short-lived ES256 JWT of the caller the app can
//! verify with the keys the sidecar publishes, instead of trusting plain
//! headers that one misconfigured route could let a client set.
//!
//! `claims` decides what the token says (pure); `keys` turns the key file
//! into a signing key and the published JWKS, once per settings load;
//! `signer` signs, and reuses a token for the same identity while most of
//! its lifetime is left, because signing costs far more than a lookup.

pub mod claims;
pub mod keys;
pub mod signer;

pub use claims::IdentityClaims;
pub use keys::SigningKeys;
pub use signer::IdentitySigner;
