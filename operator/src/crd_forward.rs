//! `spec.forwardAuth` of `OidcSettings`: the operator runs the settings as
//! a forward-auth service (a Deployment and a Service) that an ingress or
//! a gateway asks before it forwards a request, instead of a sidecar
//! injected into the app's pods.
//!
//! A field of `OidcSettings` rather than a resource of its own: a
//! forward-auth service needs every setting a sidecar needs (the provider,
//! roles, rules, session, store, signed identity), checked by the same
//! contract and reported in the same status; only the door differs.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Run the settings as a forward-auth service.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ForwardAuthSpec {
    /// Replicas of the service (default 1). More than one needs
    /// `spec.sessionStore`, so that a log out seen by one is seen by all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: Option<i32>,
    /// Hosts answered for beside `publicUrl`'s, each under
    /// `spec.session.cookieDomain`; the sign-in stays on `publicUrl`'s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 253)))]
    pub hosts: Vec<String>,
    /// Answer Envoy's gRPC `ext_authz` (Istio, Envoy Gateway) on this
    /// port too; absent: HTTP only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub grpc_port: Option<i32>,
}

/// Where a forward-auth service answers, and what to paste into the proxy
/// that asks it; written while `spec.forwardAuth` is set.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ForwardAuthStatus {
    /// The URL nginx and Traefik ask:
    /// `http://<service>.<namespace>.svc.cluster.local:<listenPort>/auth/verify`.
    pub verify_url: String,
    /// Where Envoy's gRPC `ext_authz` is answered (`<host>:<grpcPort>`),
    /// when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_address: Option<String>,
    /// The exact configuration to paste, by proxy: `ingressNginx` (an
    /// Ingress's annotations), `traefik` (a `Middleware`), `envoyGateway`
    /// (a `SecurityPolicy`), `istio` (the mesh config's provider and an
    /// `AuthorizationPolicy`). Names in angle brackets are yours to fill.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub snippets: std::collections::BTreeMap<String, String>,
}
