//! Sessions: what a login grants, sealed into a cookie.

pub mod cookie;
pub mod kept_refresh;
pub mod keys;
pub mod model;
pub mod opened;
pub mod session_cookies;
pub mod split_cookie;

pub use self::cookie::{NoSession, open_session, seal_session};
pub use keys::KeyRing;
pub use model::{LoginMethod, Session};
pub mod refreshes;
pub mod revoked;
pub mod seen_once;
pub mod store;
