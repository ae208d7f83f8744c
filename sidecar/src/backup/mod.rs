//! The root admin's way back in: the backup login at `/login?backup=1`.
//!
//! It must keep working while the identity provider is down or
//! misconfigured, and must not become the easy door: [`budgets`] decides
//! who may try a password now (per client, overall, and per known device,
//! with [`rate_limit`]'s buckets), [`password_checks`] bounds the memory of
//! argon2id checks, [`known_device`] is the cookie of a browser that got in
//! before, [`enrolment`] makes a new browser a known device with a one-time
//! code, and [`guard`] holds the live budgets and checks of a running
//! sidecar. The form's handler that ties them together is
//! [`crate::http::backup_login`].

pub mod budgets;
pub mod enrolment;
pub mod guard;
pub mod known_device;
pub mod password_checks;
pub mod rate_limit;
