//! What a forward-auth service's status tells a platform team to paste:
//! the address of the Service, and the configuration of each proxy that
//! may ask it (ingress-nginx's annotations, a Traefik `Middleware`, an
//! Envoy Gateway `SecurityPolicy`, Istio's mesh-config provider and
//! `AuthorizationPolicy`), with this service's names, ports and headers
//! filled in, so nothing is typed by hand.
//!
//! The snippets are built as data and written as YAML, so they parse;
//! names in angle brackets (the app's `HTTPRoute`, its pods' labels) are
//! the reader's to fill. The identity headers to copy are the six every
//! app receives, plus the signed identity's when there is one.

use crate::crd_forward::ForwardAuthStatus;
use crate::names::forward_auth_name;
use portcullis_contract::config::SidecarConfig;
use portcullis_contract::cookie_names::{session_cookie_name, session_cookie_names};
use portcullis_contract::paths::{
    ENVOY_AUTHZ_PREFIX, FORWARD_AUTH_PATH, IDENTITY_HEADERS, SIGN_IN_START_PATH,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The status of the `OidcSettings` `namespace/name` run as a forward-auth
/// service with the rendered `config`; `None` when it is not one.
pub fn forward_status(
    namespace: &str,
    name: &str,
    config: &SidecarConfig,
) -> Option<ForwardAuthStatus> {
    let forward = config.forward_auth.as_ref()?;
    let host = format!("{}.{namespace}.svc.cluster.local", forward_auth_name(name));
    let port = port_of(&config.listen)?;
    let grpc_port = forward.grpc_listen.as_deref().and_then(port_of);
    let service = Service {
        namespace,
        name: forward_auth_name(name),
        host: host.clone(),
        port,
        grpc_port,
        policy_name: format!("{name}-portcullis"),
    };
    let public_url = config.public_url.trim_end_matches('/');
    let headers = identity_headers(config);
    let cookies = session_cookie_names(&session_cookie_name(
        &config.session.cookie_name,
        public_url.starts_with("https://"),
        config.session.cookie_domain.is_some(),
    ));
    let snippets = BTreeMap::from([
        (
            "ingressNginx".to_owned(),
            ingress_nginx(&service, public_url, &headers),
        ),
        ("traefik".to_owned(), traefik(&service, &headers, &cookies)),
        ("envoyGateway".to_owned(), envoy_gateway(&service, &headers)),
        ("istio".to_owned(), istio(&service, &headers)),
    ]);
    Some(ForwardAuthStatus {
        verify_url: service.verify_url(),
        grpc_address: grpc_port.map(|grpc| format!("{host}:{grpc}")),
        snippets,
    })
}

/// The Service a proxy asks.
struct Service<'a> {
    namespace: &'a str,
    name: String,
    host: String,
    port: u16,
    grpc_port: Option<u16>,
    /// The name the snippets give their own objects.
    policy_name: String,
}

impl Service<'_> {
    fn verify_url(&self) -> String {
        format!("http://{}:{}{FORWARD_AUTH_PATH}", self.host, self.port)
    }
}

/// The port of a `host:port` listen address.
fn port_of(listen: &str) -> Option<u16> {
    listen.rsplit_once(':')?.1.parse().ok()
}

/// The headers a proxy copies from an answer onto the request.
fn identity_headers(config: &SidecarConfig) -> Vec<String> {
    IDENTITY_HEADERS
        .iter()
        .map(|name| (*name).to_owned())
        .chain(
            config
                .signed_identity
                .as_ref()
                .map(|identity| identity.header_name.clone()),
        )
        .collect()
}

/// ingress-nginx: the annotations of each app's Ingress. `rd` is the whole
/// URL, which the service keeps for a listed host and reads as a path on
/// its own.
fn ingress_nginx(service: &Service, public_url: &str, headers: &[String]) -> String {
    yaml(&json!({
        "nginx.ingress.kubernetes.io/auth-url": service.verify_url(),
        "nginx.ingress.kubernetes.io/auth-signin":
            format!("{public_url}{SIGN_IN_START_PATH}?rd=$scheme://$host$escaped_request_uri"),
        "nginx.ingress.kubernetes.io/auth-response-headers": headers.join(", "),
        "nginx.ingress.kubernetes.io/auth-always-set-cookie": "true",
    }))
}

/// Traefik: a `ForwardAuth` middleware that never trusts a client's
/// `X-Forwarded-*`, copies the identity and a renewed session's cookies.
fn traefik(service: &Service, headers: &[String], cookies: &[String]) -> String {
    yaml(&json!({
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "Middleware",
        "metadata": {"name": service.policy_name, "namespace": service.namespace},
        "spec": {"forwardAuth": {
            "address": service.verify_url(),
            "trustForwardHeader": false,
            "authResponseHeaders": headers,
            "addAuthCookiesToResponse": cookies,
        }},
    }))
}

/// Envoy Gateway: a `SecurityPolicy` on the app's `HTTPRoute`, over gRPC
/// when the service answers it, else over HTTP.
fn envoy_gateway(service: &Service, headers: &[String]) -> String {
    let ext_auth = match service.grpc_port {
        Some(grpc) => json!({"grpc": {"backendRefs": [
            {"name": service.name, "namespace": service.namespace, "port": grpc}
        ]}}),
        None => json!({"http": {
            "backendRefs": [{"name": service.name, "namespace": service.namespace, "port": service.port}],
            "path": ENVOY_AUTHZ_PREFIX,
            "headersToBackend": headers,
        }}),
    };
    yaml(&json!({
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "SecurityPolicy",
        "metadata": {"name": service.policy_name, "namespace": "<the HTTPRoute's namespace>"},
        "spec": {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "<the app's HTTPRoute>"}],
            "extAuth": ext_auth,
        },
    }))
}

/// Istio: the mesh config's extension provider, and a `CUSTOM` policy on
/// the app's pods that leaves the sign-in paths to the service.
fn istio(service: &Service, headers: &[String]) -> String {
    let provider = match service.grpc_port {
        Some(grpc) => json!({"name": service.policy_name, "envoyExtAuthzGrpc": {
            "service": service.host, "port": grpc,
        }}),
        None => json!({"name": service.policy_name, "envoyExtAuthzHttp": {
            "service": service.host,
            "port": service.port,
            "pathPrefix": ENVOY_AUTHZ_PREFIX,
            "includeRequestHeadersInCheck": ["cookie", "authorization", "accept"],
            "headersToUpstreamOnAllow": headers,
            "headersToDownstreamOnAllow": ["set-cookie"],
            "headersToDownstreamOnDeny": ["location", "set-cookie"],
        }}),
    };
    let mesh = yaml(&json!({"meshConfig": {"extensionProviders": [provider]}}));
    let policy = yaml(&json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": service.policy_name, "namespace": "<the app's namespace>"},
        "spec": {
            "selector": {"matchLabels": {"app": "<the app's pod label>"}},
            "action": "CUSTOM",
            "provider": {"name": service.policy_name},
            "rules": [{"to": [{"operation": {"notPaths": ["/auth/*", "/login", "/logout"]}}]}],
        },
    }));
    format!("{mesh}---\n{policy}")
}

/// `value` as YAML; a JSON value always writes.
fn yaml(value: &Value) -> String {
    serde_yaml::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::config::{sidecar_config, tests::spec};

    fn config(grpc_port: Option<i32>) -> SidecarConfig {
        let mut spec = spec();
        spec.forward_auth = Some(crate::crd_forward::ForwardAuthSpec {
            replicas: None,
            hosts: Vec::new(),
            grpc_port,
        });
        sidecar_config("media", "books", &spec)
    }

    fn parsed(text: &str) -> Vec<serde_yaml::Value> {
        text.split("---\n")
            .map(|document| serde_yaml::from_str(document).expect("a snippet parses"))
            .collect()
    }

    #[test]
    fn settings_without_forward_auth_have_no_snippets() {
        let config = sidecar_config("media", "books", &spec());
        assert_eq!(forward_status("media", "books", &config), None);
    }

    #[test]
    fn every_snippet_parses_and_names_this_service() {
        let status = forward_status("media", "books", &config(None)).expect("a status");
        let host = "books-portcullis-forward.media.svc.cluster.local";
        assert_eq!(status.verify_url, format!("http://{host}:4180/auth/verify"));
        assert_eq!(status.grpc_address, None);
        assert_eq!(
            status.snippets.keys().collect::<Vec<_>>(),
            ["envoyGateway", "ingressNginx", "istio", "traefik"]
        );
        for (proxy, text) in &status.snippets {
            assert!(!parsed(text).is_empty(), "{proxy}");
            assert!(text.contains("books-portcullis-forward"), "{proxy}: {text}");
        }
        let nginx = &parsed(&status.snippets["ingressNginx"])[0];
        assert_eq!(
            nginx["nginx.ingress.kubernetes.io/auth-signin"],
            "https://books.example.com/auth/start?rd=$scheme://$host$escaped_request_uri"
        );
        assert!(
            nginx["nginx.ingress.kubernetes.io/auth-response-headers"]
                .as_str()
                .is_some_and(|headers| headers.contains("X-Portcullis-Role")),
            "{nginx:?}"
        );
        let traefik = &parsed(&status.snippets["traefik"])[0];
        let forward = &traefik["spec"]["forwardAuth"];
        assert_eq!(
            forward["trustForwardHeader"], false,
            "a client's X-Forwarded-* is never trusted"
        );
        assert_eq!(
            forward["addAuthCookiesToResponse"][0],
            "__Host-portcullis_books"
        );
        let gateway = &parsed(&status.snippets["envoyGateway"])[0];
        assert_eq!(gateway["spec"]["extAuth"]["http"]["path"], "/auth/envoy");
    }

    #[test]
    fn with_a_grpc_port_envoy_asks_over_grpc() {
        let status = forward_status("media", "books", &config(Some(9191))).expect("a status");
        assert_eq!(
            status.grpc_address.as_deref(),
            Some("books-portcullis-forward.media.svc.cluster.local:9191")
        );
        let gateway = &parsed(&status.snippets["envoyGateway"])[0];
        assert_eq!(
            gateway["spec"]["extAuth"]["grpc"]["backendRefs"][0]["port"],
            9191
        );
        let istio = parsed(&status.snippets["istio"]);
        assert_eq!(istio.len(), 2, "the provider and the policy");
        let provider = &istio[0]["meshConfig"]["extensionProviders"][0];
        assert_eq!(provider["envoyExtAuthzGrpc"]["port"], 9191);
        assert_eq!(istio[1]["spec"]["action"], "CUSTOM");
        assert_eq!(istio[1]["spec"]["provider"]["name"], provider["name"]);
    }
}
