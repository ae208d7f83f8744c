//! The sidecar's own HTTP surface: the login, callback, backup-login and
//! log-out handlers and pages, and the errors its handlers answer with.
//! The route table that puts them beside the proxy is
//! [`crate::serve::routes`].

pub mod backchannel_logout;
pub mod backup_login;
pub mod csrf;
pub mod error;
mod error_page;
pub mod frontchannel_logout;
pub mod issue_session;
pub mod jwks;
pub mod login;
pub mod logout;
pub mod observe;
pub mod pages;
pub mod refusal;
pub mod return_path;
pub mod session_end;
