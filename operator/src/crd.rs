//! The `OidcSettings` custom resource, defined in Rust so the CRD is generated.
//!
//! Validation lives in the schema (OpenAPI bounds and CEL rules) so that a
//! mistake is rejected by the API server at `kubectl apply` time with a message
//! naming the field, before any sidecar sees it. `crds/oidcsettings.yaml` is
//! generated from these types by the `crdgen` binary; a test fails on drift.

use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use portcullis_contract::defaults::{
    DEFAULT_ADMIN_GROUP, DEFAULT_ADMIN_PORT, DEFAULT_GROUP_CLAIM, DEFAULT_PORT, DEFAULT_SCOPES,
    DEFAULT_TRUSTED_GROUP, DEFAULT_USERNAME_CLAIM, REQUIRED_SCOPE,
};
use portcullis_contract::paths::WELL_KNOWN_SUFFIX;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use crate::crd_refs::{CaBundleRef, ConfigMapKeyRef, SecretKeyRef};

/// Group of every Portcullis resource.
pub const GROUP: &str = "portcullis.dev";

/// The OpenID Connect login a set of pods gets, and how the sidecar reaches the app.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
// Every printcolumn repeats `type_ = "string"`, which the lint takes for a
// duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[kube(
    group = "portcullis.dev",
    version = "v1alpha1",
    kind = "OidcSettings",
    plural = "oidcsettings",
    singular = "oidcsettings",
    shortname = "oidcs",
    namespaced,
    status = "OidcSettingsStatus",
    derive = "PartialEq",
    doc = "OpenID Connect login settings for the Portcullis auth sidecar",
    printcolumn(name = "Issuer", type_ = "string", json_path = ".status.issuer"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Current",
        type_ = "integer",
        json_path = ".status.rollout.podsCurrent"
    ),
    printcolumn(name = "Pods", type_ = "integer", json_path = ".status.rollout.pods"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.listenPort != self.adminPort && self.upstreamPort != self.listenPort && self.upstreamPort != self.adminPort")
    .message("listenPort, adminPort and upstreamPort must be three different ports")
    .field_path(".listenPort"))]
#[x_kube(validation = Rule::new("!has(self.forwardAuth) || has(self.trustedProxies) && size(self.trustedProxies) > 0")
    .message("forwardAuth needs trustedProxies: the addresses of the ingress or gateway pods that ask")
    .field_path(".trustedProxies"))]
#[x_kube(validation = Rule::new("!has(self.forwardAuth) || !has(self.forwardAuth.replicas) || self.forwardAuth.replicas <= 1 || has(self.sessionStore)")
    .message("more than one forward-auth replica needs sessionStore, so that a log out seen by one is seen by all")
    .field_path(".forwardAuth.replicas"))]
#[x_kube(validation = Rule::new("!has(self.forwardAuth) || !has(self.forwardAuth.grpcPort) || self.forwardAuth.grpcPort != self.listenPort && self.forwardAuth.grpcPort != self.adminPort")
    .message("forwardAuth.grpcPort must differ from listenPort and adminPort")
    .field_path(".forwardAuth.grpcPort"))]
pub struct OidcSettingsSpec {
    /// The provider's discovery document URL; the issuer is this URL without
    /// `/.well-known/openid-configuration`.
    #[x_kube(validation = Rule::new("self.startsWith('https://') || self.startsWith('http://')")
        .message("must start with https:// or http://"))]
    #[x_kube(validation = Rule::new(URL_PARSES).message("must be a URL"))]
    #[x_kube(validation = Rule::new(URL_PORT_IN_RANGE).message("the port must be at most 65535"))]
    #[x_kube(validation = Rule::new(format!("self.endsWith('{WELL_KNOWN_SUFFIX}')"))
        .message(format!("must end with {WELL_KNOWN_SUFFIX}").as_str()))]
    #[schemars(length(max = 2048))]
    pub well_known_url: String,
    /// Claim used as the (unique) username.
    #[serde(default = "default_username_claim")]
    #[schemars(length(min = 1))]
    pub username_claim: String,
    /// Claim holding the groups: a name, or a dotted path into nested claims
    /// (`realm_access.roles`); `\.` is a literal dot, `\\` a literal backslash.
    #[serde(default = "default_group_claim")]
    #[x_kube(validation = Rule::new(GROUP_CLAIM_RULE)
        .message("must be a claim name or a dotted path without empty segments; escape a literal dot as \\. and a backslash as \\\\"))]
    #[schemars(length(min = 1, max = 256))]
    pub group_claim: String,
    /// Scopes requested at login; must contain `openid`.
    #[serde(default = "default_scopes")]
    #[x_kube(validation = Rule::new(format!("'{REQUIRED_SCOPE}' in self"))
        .message(format!("must contain {REQUIRED_SCOPE}").as_str()))]
    #[x_kube(validation = Rule::new("self.all(s, s.matches('^[!#-\\\\[\\\\]-~]+$'))")
        .message("each scope must be a single word without spaces, quotes or backslashes"))]
    #[schemars(length(max = 32), inner(length(min = 1, max = 128)))]
    pub scopes: Vec<String>,
    /// The client id registered at the provider.
    #[schemars(length(min = 1))]
    pub client_id: String,
    /// Where the client secret is: a key of a Secret in the same namespace.
    pub client_secret_ref: SecretKeyRef,
    /// The origin people type into their browser (the callback is this + `/auth/oidc`).
    #[x_kube(validation = Rule::new("self.matches('^https?://[^/?#]+/?$')")
        .message("must be an origin like https://books.example.com (no path, query or fragment)"))]
    #[x_kube(validation = Rule::new(URL_PARSES).message("must be a URL with a valid host"))]
    #[x_kube(validation = Rule::new(URL_PORT_IN_RANGE).message("the port must be at most 65535"))]
    #[schemars(length(max = 2048))]
    pub public_url: String,
    /// Port the app listens on at 127.0.0.1 inside the pod.
    #[serde(default = "default_upstream_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub upstream_port: i32,
    /// Port of the sidecar's public listener: point the Service here.
    #[serde(default = "default_listen_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub listen_port: i32,
    /// Port of the sidecar's health and metrics (`/healthz`, `/readyz`, `/metrics`).
    #[serde(default = "default_admin_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub admin_port: i32,
    /// On log out, also end the session at the provider (when it publishes
    /// `end_session_endpoint`).
    #[serde(default = "default_true")]
    pub logout_at_provider: bool,
    /// Accept the provider's back-channel logout at `/auth/backchannel-logout`
    /// when it says it sends it (default true): a user whose session ends
    /// at the provider is logged out of the app at once.
    #[serde(default = "default_true")]
    pub back_channel_logout: bool,
    /// The CA certificates (PEM) the provider's certificate chains to, when
    /// it is not signed by a web root (a company CA): trusted beside the
    /// web's roots by the sidecar and by the operator's provider check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<CaBundleRef>,
    /// The session cookie's name and lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionSpec>,
    /// The local root admin, whose backup login works while the provider is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_admin: Option<RootAdminSpec>,
    /// Which provider groups grant which role (default: the groups named
    /// `admin` and `trusted`); everyone else is `untrusted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_groups: Option<RoleGroupsSpec>,
    /// When set, only members of one of these groups may sign in; others see
    /// a refusal page (the root admin's username always may).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = Rule::new(GROUP_NAMES_RULE).message(GROUP_NAMES_MESSAGE))]
    #[schemars(length(max = 64), inner(length(min = 1, max = 256)))]
    pub allowed_groups: Vec<String>,
    /// When not empty, only users whose email is in one of these domains
    /// may sign in: `example.com` for that domain, `*.example.com` for its
    /// subdomains; an email the provider calls unverified never may. The
    /// root admin's username always may.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 255)))]
    pub allowed_email_domains: Vec<String>,
    /// Proxies in front of the sidecar whose `X-Forwarded-For` is believed
    /// (an Ingress controller's pod network, a load balancer): addresses or
    /// CIDRs such as `10.0.0.0/8`. Empty: the peer is the client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 2, max = 64)))]
    pub trusted_proxies: Vec<String>,
    /// The NetworkPolicy that admits traffic to injected pods only through the
    /// sidecar; written unless `enabled: false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicySettings>,
    /// Who may use which paths of the app (see the README's "Access rules");
    /// absent: any signed-in user may use every path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<crate::crd_access::AuthorizationSpec>,
    /// Accept bearer tokens from the provider for API clients; absent: only
    /// session cookies count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_tokens: Option<crate::crd_access::BearerTokensSpec>,
    /// Add a signed JWT of the caller's identity to each request the app
    /// receives, verifiable with the keys the sidecar publishes at
    /// `/.well-known/portcullis/jwks.json`; absent: plain headers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_identity: Option<crate::crd_identity::SignedIdentitySpec>,
    /// Share the log-out list and backup-login budgets between replicas
    /// through Redis (see the README's "Many replicas"); absent: each
    /// replica keeps its own, right for one replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_store: Option<crate::crd_store::SessionStoreSpec>,
    /// Run these settings as a forward-auth service (a Deployment and a
    /// Service) that an ingress or gateway asks, instead of a sidecar in
    /// the app's pods; see the README's "Forward-auth".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_auth: Option<crate::crd_forward::ForwardAuthSpec>,
}

/// A claim name or dotted path, segments of anything but `.` and `\`, or an
/// escaped `\.` or `\\` (RE2 inside a CEL string).
const GROUP_CLAIM_RULE: &str =
    r"self.matches('^([^.\\\\]|\\\\[.\\\\])+(\\.([^.\\\\]|\\\\[.\\\\])+)*$')";
/// Every group is a name: not only spaces or a lone `/`.
const GROUP_NAMES_RULE: &str = r"self.all(g, !g.matches('^\\s*/?\\s*$'))";
const GROUP_NAMES_MESSAGE: &str = "each group must be a name, not empty or a lone /";

/// The provider groups that grant each role, matched case-insensitively and
/// with or without one leading `/` (Keycloak's group paths).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RoleGroupsSpec {
    /// Groups that make a user `admin` (default `[admin]`).
    #[serde(default = "default_admin_groups")]
    #[x_kube(validation = Rule::new(GROUP_NAMES_RULE).message(GROUP_NAMES_MESSAGE))]
    #[schemars(length(max = 64), inner(length(min = 1, max = 256)))]
    pub admin: Vec<String>,
    /// Groups that make a user `trusted` (default `[trusted]`).
    #[serde(default = "default_trusted_groups")]
    #[x_kube(validation = Rule::new(GROUP_NAMES_RULE).message(GROUP_NAMES_MESSAGE))]
    #[schemars(length(max = 64), inner(length(min = 1, max = 256)))]
    pub trusted: Vec<String>,
}

/// The session cookie.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SessionSpec {
    /// Name of the session cookie; default `portcullis_<metadata.name>`, so
    /// two apps on one host never share a cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub cookie_name: Option<String>,
    /// Session lifetime when the provider's token response has no
    /// `expires_in` (default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 31_536_000))]
    pub fallback_lifetime_seconds: Option<i64>,
    /// The longest a session lasts from the sign-in, whatever the
    /// provider's token says (default 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 60, max = 31_536_000))]
    pub max_lifetime_seconds: Option<i64>,
    /// A request this close to the access token's expiry refreshes the
    /// session (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 3600))]
    pub refresh_skew_seconds: Option<i64>,
    /// How long past the access token's expiry the session is served while
    /// the provider cannot refresh it (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86_400))]
    pub refresh_grace_seconds: Option<i64>,
    /// The parent domain the session cookie is set for, so every host of a
    /// forward-auth service under it shares one sign-in (forward-auth
    /// only); absent: `publicUrl`'s host only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub cookie_domain: Option<String>,
}

/// Whether and how the operator writes the `<name>-portcullis` NetworkPolicy.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySettings {
    /// Write the NetworkPolicy (default true). It takes effect only where the
    /// cluster's network plugin enforces NetworkPolicy.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Who may reach the sidecar's admin port (health and metrics), e.g. the
    /// monitoring namespace. Empty: no other pod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admin_from: Vec<NetworkPolicyPeer>,
}

/// The root admin account of the backup login.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RootAdminSpec {
    /// Whoever logs in with this username is root admin.
    #[schemars(length(min = 1))]
    pub username: String,
    /// The password; when absent, one is generated into `<name>-root-admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,
    /// How long a backup-login session lasts (default 28800, 8 hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 31_536_000))]
    pub session_lifetime_seconds: Option<i64>,
}

/// What the operator found, written only when it changes.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OidcSettingsStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The issuer derived from `spec.wellKnownUrl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `Ready` and the checks behind it, in the Kubernetes `Condition` shape.
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// A forward-auth service's address and the snippets for its proxies;
    /// `null` when the settings run no such service (a merge patch then
    /// removes what was there).
    #[serde(default)]
    pub forward_auth: Option<crate::crd_forward::ForwardAuthStatus>,
    /// How many running pods serve the settings last written, and how long
    /// that took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<crate::crd_rollout::RolloutStatus>,
}

fn default_username_claim() -> String {
    DEFAULT_USERNAME_CLAIM.into()
}
fn default_group_claim() -> String {
    DEFAULT_GROUP_CLAIM.into()
}
fn default_admin_groups() -> Vec<String> {
    vec![DEFAULT_ADMIN_GROUP.into()]
}
fn default_trusted_groups() -> Vec<String> {
    vec![DEFAULT_TRUSTED_GROUP.into()]
}
fn default_scopes() -> Vec<String> {
    DEFAULT_SCOPES
        .iter()
        .map(|scope| (*scope).to_owned())
        .collect()
}
fn default_true() -> bool {
    true
}
fn default_upstream_port() -> i32 {
    8080
}
fn default_listen_port() -> i32 {
    i32::from(DEFAULT_PORT)
}
fn default_admin_port() -> i32 {
    i32::from(DEFAULT_ADMIN_PORT)
}

/// CEL: the string parses as a URL (Kubernetes' `isURL`, stricter than a pattern).
const URL_PARSES: &str = "isURL(self) && url(self).getHostname() != ''";
/// CEL: a port in the URL, if any, is a valid TCP port.
const URL_PORT_IN_RANGE: &str =
    "!isURL(self) || url(self).getPort() == '' || int(url(self).getPort()) <= 65535";

/// The longest `metadata.name`: generated names add `-portcullis` (11
/// characters) and must still fit in a label value (63).
pub const MAX_NAME_LENGTH: i64 = 52;

/// The CRD: the derived one, with `metadata.name` limited in the schema
/// (the one restriction on metadata a CRD may make), so the API server's
/// message names the field; a CEL rule at the root could only name `<nil>`.
pub fn crd() -> CustomResourceDefinition {
    use kube::CustomResourceExt;
    let mut crd = OidcSettings::crd();
    for version in &mut crd.spec.versions {
        let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|validation| validation.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        let name = JSONSchemaProps {
            type_: Some("string".into()),
            max_length: Some(MAX_NAME_LENGTH),
            ..JSONSchemaProps::default()
        };
        let metadata = JSONSchemaProps {
            type_: Some("object".into()),
            properties: Some(BTreeMap::from([("name".to_owned(), name)])),
            ..JSONSchemaProps::default()
        };
        schema
            .properties
            .get_or_insert_with(BTreeMap::new)
            .insert("metadata".to_owned(), metadata);
    }
    crd
}

/// The CRD as YAML, with a header saying where it comes from.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    let body = serde_yaml::to_string(&crd())?;
    Ok(format!(
        "# Generated from operator/src/crd.rs by `cargo run -p portcullis-operator --bin crdgen`.\n# Do not edit by hand.\n{body}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_crd_matches_the_types() {
        let committed = include_str!("../../crds/oidcsettings.yaml");
        let generated = crd_yaml().expect("renders");
        assert!(
            committed == generated,
            "crds/oidcsettings.yaml is stale: run `cargo run -p portcullis-operator --bin crdgen`"
        );
    }

    #[test]
    fn helm_chart_crd_matches_the_types() {
        let committed = include_str!("../../charts/portcullis/crds/oidcsettings.yaml");
        let generated = crd_yaml().expect("renders");
        assert!(
            committed == generated,
            "charts/portcullis/crds/oidcsettings.yaml is stale: run `cargo run -p portcullis-operator --bin crdgen`"
        );
    }

    #[test]
    fn spec_defaults_fill_optional_fields() {
        let spec: OidcSettingsSpec = serde_json::from_value(serde_json::json!({
            "wellKnownUrl": "https://sso.example.com/.well-known/openid-configuration",
            "clientId": "books",
            "clientSecretRef": {"name": "books-oidc", "key": "client-secret"},
            "publicUrl": "https://books.example.com",
        }))
        .expect("parses");
        assert_eq!(spec.username_claim, "preferred_username");
        assert_eq!(spec.group_claim, "groups");
        assert_eq!(spec.scopes, ["openid", "profile", "email"]);
        assert_eq!(spec.upstream_port, 8080);
        assert_eq!((spec.listen_port, spec.admin_port), (4180, 9090));
        assert!(spec.logout_at_provider);
        assert_eq!(spec.session, None);
        assert_eq!(spec.root_admin, None);
    }

    #[test]
    fn ready_has_a_reason_column_and_the_roll_out_its_pod_counts() {
        let crd = crd();
        let columns = crd.spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap_or_default();
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["Issuer", "Ready", "Reason", "Current", "Pods", "Age"]
        );
        assert!(columns[2].json_path.ends_with(".reason"));
        assert_eq!(columns[3].json_path, ".status.rollout.podsCurrent");
    }

    #[test]
    fn conditions_are_a_list_map_keyed_by_type() {
        let crd = serde_json::to_value(crd()).expect("serializes");
        let conditions = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
            ["properties"]["conditions"];
        assert_eq!(conditions["x-kubernetes-list-type"], "map");
        assert_eq!(conditions["x-kubernetes-list-map-keys"][0], "type");
    }
}
