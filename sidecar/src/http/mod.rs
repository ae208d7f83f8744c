//! The public HTTP surface: login pages, the callback, and the proxy.

pub mod app;
pub mod backup;
pub mod csrf;
pub mod error;
pub mod forwarding;
pub mod identity_headers;
pub mod issue_session;
pub mod jwks;
pub mod known_device;
pub mod login;
pub mod logout;
pub mod observe;
pub mod pages;
pub mod proxy;
pub mod state;
pub mod upgrade;
