//! Envoy's gRPC `ext_authz`: `envoy.service.auth.v3.Authorization/Check`,
//! as Istio's `CUSTOM` action (`envoyExtAuthzGrpc`) and Envoy Gateway's
//! `extAuth` call it.
//!
//! The question is a `CheckRequest`: the original request's method, path
//! and host in attributes Envoy fills, its headers beside them
//! ([`question`]). It is believed as the HTTP doors' questions are (a
//! trusted peer, a protected host), judged by the same gate, and answered
//! in Envoy's terms ([`answer`]): `OK` with the identity headers to set on
//! the request and every client spelling of them to remove, or `Denied`
//! with the HTTP answer the client is to get. [`service`] serves it on a
//! port of its own, since gRPC needs HTTP/2 and the public port speaks
//! HTTP/1.1 only.

pub mod answer;
pub mod bounded_incoming;
pub mod question;
pub mod service;
