//! Portcullis sidecar: an OpenID Connect login, roles and identity headers in
//! front of an app that knows nothing about them.

pub mod config;
pub mod return_path;
pub mod roles;
pub mod session;
