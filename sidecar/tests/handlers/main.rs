//! In-process tests of the sidecar's HTTP handlers.
//!
//! Each test builds the real router from settings read out of an in-memory
//! config and sends it requests with `oneshot`, so a handler's decisions
//! (redirects, refusals, headers) are checked in milliseconds. The identity
//! provider is a closed port on 127.0.0.1; the app, where one is needed, is
//! a small listener on 127.0.0.1 inside the test. The end-to-end tests in
//! `tests/` still run every path against real processes.

mod access;
mod backup;
mod callback;
mod connections;
mod envoy_check;
mod envoy_question;
mod forward_auth;
mod gate_table;
mod gate_vectors;
mod identity;
mod logout;
mod me;
mod observe;
mod own_pages;
mod proxy;
mod support;
