//! The content hash of what the sidecar reads: the contract crate's, so the
//! annotation on the generated objects and the hash a running sidecar reports
//! on `/readyz` are computed by the same code and can be compared.

pub use portcullis_contract::hash::content_hash;
