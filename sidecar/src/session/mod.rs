//! Sessions: what a login grants, sealed into a cookie.

pub mod keys;
