//! Portcullis sidecar: an OpenID Connect login, roles and identity headers in
//! front of an app that knows nothing about them.
//!
//! The crate is split so that decisions are pure and tested on their own
//! (`roles`, `return_path`, `session`, `oidc::claims`, `oidc::pending`,
//! `config`), while IO lives in thin layers (`oidc::provider`,
//! `oidc::flow`, `http`, `admin`, `server`). The config file's types and
//! defaults, password hashing and the session-key format come from the
//! `portcullis-contract` crate, which the operator uses too.

pub mod access;
pub mod admin;
pub mod app_connection;
pub mod backup_gate;
pub mod cli;
pub mod config;
pub mod gate;
pub mod http;
pub mod identity;
pub mod listener;
pub mod log_fields;
pub mod metrics;
pub mod oidc;
pub mod password_checks;
pub mod rate_limit;
pub mod reload;
pub mod return_path;
pub mod roles;
pub mod server;
pub mod session;
