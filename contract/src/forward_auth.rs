//! The forward-auth door's settings: the sidecar answers a proxy's question
//! ("may this request pass, and as whom?") instead of proxying to an app.
//!
//! An ingress (ingress-nginx's `auth-url`, nginx's `auth_request`) or a
//! proxy (Traefik's `ForwardAuth`) asks before it forwards a request to the
//! app, and tells the original request in headers of its own. Those headers
//! are only as true as the peer that sent them, so a forward-auth service
//! answers only the proxies listed in `trustedProxies`, and a config without
//! any is refused.
//!
//! Envoy (Istio's `CUSTOM` action, Envoy Gateway's `extAuth`) may ask over
//! gRPC instead (`envoy.service.auth.v3.Authorization/Check`), on a port of
//! its own, `grpcListen`: gRPC needs HTTP/2, which the public port does not
//! speak.

use crate::problems::Problems;
use serde::{Deserialize, Serialize};

/// The `forwardAuth` section. Its presence switches the door: the service
/// proxies to no app, so `upstream` is left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForwardAuthConfig {
    /// Where Envoy's gRPC `ext_authz` is answered, e.g. `0.0.0.0:9191`;
    /// absent: not answered over gRPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_listen: Option<String>,
    /// Hosts answered for beside the public URL's, each under
    /// `session.cookieDomain` (see [`crate::many_hosts`]); empty: the
    /// public URL's host only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

/// Checks a config's door: `upstream` for the proxy, or `forwardAuth` with
/// the proxies it answers.
pub(crate) fn check_door(
    problems: &mut Problems,
    forward_auth: Option<&ForwardAuthConfig>,
    upstream: &str,
    trusted_proxies: &[String],
) {
    if forward_auth.is_none() {
        return;
    }
    if !upstream.is_empty() {
        problems.push(
            "upstream",
            "must be left out with `forwardAuth`: a forward-auth service answers a proxy and forwards to no app",
        );
    }
    if trusted_proxies.is_empty() {
        problems.push(
            "trustedProxies",
            "must list the proxies `forwardAuth` answers (the ingress's or gateway's addresses): the original request is read from their headers, which anyone else could forge",
        );
    }
}
