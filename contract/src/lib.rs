//! What the Portcullis operator and sidecar agree on, in one small crate.
//!
//! The operator writes the sidecar's config file and Secret; the sidecar reads
//! them. Both sides take the file's types, its defaults, the fixed paths and
//! the formats of the secret values from here, so neither keeps a copy that
//! could drift. The crate has no IO, no HTTP and no Kubernetes client, and
//! no async runtime but in its `pool` feature (the argon2 work pool both
//! sides run password hashes in): depending on it costs either side almost
//! nothing.

pub mod access;
pub mod bearer;
pub mod ca_bundle;
pub mod claim_path;
pub mod config;
pub mod cookie_names;
pub mod defaults;
pub mod email_domains;
pub mod enrolment;
pub mod forward_auth;
pub mod hash;
pub mod header_value;
pub mod identity;
pub mod identity_keys;
pub mod many_hosts;
pub mod password;
#[cfg(feature = "pool")]
pub mod password_pool;
pub mod paths;
pub mod problems;
pub mod random;
pub mod secret;
pub mod secret_text;
pub mod session_keys;
pub mod session_store;
pub mod validate;
