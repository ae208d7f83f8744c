//! Portcullis sidecar: an OpenID Connect login, roles and identity headers in
//! front of an app that knows nothing about them.
//!
//! The folders name its parts: `gate` decides whether a request may pass
//! and as whom (behind every door); `access` holds the rules, the path
//! normal form and the roles; `session` the sealed cookies and keys; `oidc`
//! the sign-in with the provider and bearer tokens; `backup` the root
//! admin's way in; `identity` the signed identity for the app; `proxy` the
//! reverse-proxy door; `http` the sidecar's own pages and route table;
//! `config` the settings, built from the file; `runtime` the live state
//! every handler shares (settings swapped at reload, caches, budgets); `serve` the listeners,
//! reload and shutdown; `observe` metrics and log fields. Decisions are
//! pure and tested on their own; IO lives in thin layers around them. The
//! config file's types, its validation, password hashing and the
//! session-key format come from the `portcullis-contract` crate, which the
//! operator uses too.

pub mod access;
pub mod backup;
pub mod cli;
pub mod config;
pub mod forward;
pub mod gate;
pub mod http;
pub mod identity;
pub mod observe;
pub mod oidc;
pub mod proxy;
pub mod runtime;
pub mod serve;
pub mod session;
