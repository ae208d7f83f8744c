//! The sidecar's own HTTP surface: the route table, the login, callback
//! and log-out pages, and the shared state and errors of its handlers.

pub mod app;
pub mod csrf;
pub mod error;
pub mod issue_session;
pub mod jwks;
pub mod login;
pub mod logout;
pub mod observe;
pub mod pages;
pub mod return_path;
pub mod state;
