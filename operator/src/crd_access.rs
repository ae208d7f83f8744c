//! `spec.authorization` and `spec.bearerTokens` of `OidcSettings`: the
//! sidecar's access rules and API clients.
//!
//! The CEL rules below repeat, in the API server's terms, the pattern syntax
//! the contract crate enforces (`portcullis_contract::access::pattern`), so a
//! bad pattern is refused at `kubectl apply` with the rule's index in the
//! field path (`spec.authorization.rules[2].path`) instead of being written
//! into a config the sidecar would refuse. The API server bounds what CEL
//! may cost per object, so the rules are bounded: at most 32 rules, paths
//! of at most 128 characters, at most 8 methods.

use kube::KubeSchema;
use portcullis_contract::access::{Access, AccessRule, AuthorizationConfig};
use portcullis_contract::bearer::{BearerConfig, DEFAULT_LEEWAY_SECONDS};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Who may use which paths of the app.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationSpec {
    /// What a request that no rule matches needs (default `untrusted`: any signed-in user).
    #[serde(default = "default_access")]
    pub default: AccessLevel,
    /// Rules tried in order; the first whose path (and method) matches decides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub rules: Vec<AccessRuleSpec>,
}

/// One rule: requests on `path` (with one of `methods`, if given) need `allow`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AccessRuleSpec {
    /// A path pattern in normal form: `/exact`, `/one/*/segment`, `/prefix/**`.
    #[x_kube(validation = Rule::new("self.startsWith('/')").message("must start with /"))]
    #[x_kube(validation = Rule::new(r#"self.matches("^[-A-Za-z0-9/._~!$&'()*+,=:@%]*$")"#)
        .message("may hold only letters, digits, -._~!$&'()*+,=:@/ and percent escapes (no ?, #, ; or spaces)"))]
    #[x_kube(validation = Rule::new("!self.contains('//')")
        .message("must not hold empty segments (//): requests are matched after merging them"))]
    #[x_kube(validation = Rule::new(r#"!self.matches("(^|/)[.][.]?(/|$)")"#)
        .message("must not hold . or .. segments: requests are matched after resolving them"))]
    #[x_kube(validation = Rule::new(r#"!self.matches("[^/*][*]|[*][^/*]|[*][*][*]|[*][*]/")"#)
        .message("* and ** must be whole segments, and ** only the last one"))]
    #[x_kube(validation = Rule::new(r#"!self.matches("%($|.$|[^0-9A-F]|.[^0-9A-F])")"#)
        .message("percent escapes must be % and two upper-case hex digits"))]
    #[x_kube(validation = Rule::new(r#"!self.matches("%(2[DEF]|3[0-9]|4[1-9A-F]|5[0-9ACF]|6[1-9A-F]|7[0-9AEF]|[01][0-9A-F])")"#)
        .message("must not escape letters, digits, -._~ (write them plainly), nor /, \\ or control characters"))]
    #[schemars(length(min = 1, max = 128))]
    pub path: String,
    /// Upper-case methods the rule applies to; empty: every method.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = Rule::new("self.all(m, m.matches('^[A-Z]{1,20}$'))")
        .message("each method must be upper-case letters, like GET"))]
    #[schemars(length(max = 8), inner(length(min = 1, max = 20)))]
    pub methods: Vec<String>,
    /// The least access the request needs.
    pub allow: AccessLevel,
}

/// Accept `Authorization: Bearer` JWT access tokens from the provider.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BearerTokensSpec {
    /// Audiences accepted (a resource indicator or API name); `clientId`
    /// only when listed, since a token for the client alone is usually an
    /// ID token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1, max = 16), inner(length(min = 1, max = 2048)))]
    pub audiences: Vec<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 300))]
    pub leeway_seconds: Option<i64>,
}

impl From<&BearerTokensSpec> for BearerConfig {
    fn from(spec: &BearerTokensSpec) -> Self {
        BearerConfig {
            audiences: spec.audiences.clone(),
            // A value outside the schema's range becomes one the contract's
            // validation names.
            leeway_seconds: spec.leeway_seconds.map_or(DEFAULT_LEEWAY_SECONDS, |s| {
                u64::try_from(s).unwrap_or(u64::MAX)
            }),
        }
    }
}

/// The least access a path needs, from anyone to the root admin only.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum AccessLevel {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in user.
    Untrusted,
    /// Role `trusted` or `admin`.
    Trusted,
    /// Role `admin`.
    Admin,
    /// Only the root admin.
    RootAdmin,
}

fn default_access() -> AccessLevel {
    AccessLevel::Untrusted
}

impl From<AccessLevel> for Access {
    fn from(level: AccessLevel) -> Self {
        match level {
            AccessLevel::Public => Access::Public,
            AccessLevel::Untrusted => Access::Untrusted,
            AccessLevel::Trusted => Access::Trusted,
            AccessLevel::Admin => Access::Admin,
            AccessLevel::RootAdmin => Access::RootAdmin,
        }
    }
}

impl From<&AuthorizationSpec> for AuthorizationConfig {
    fn from(spec: &AuthorizationSpec) -> Self {
        AuthorizationConfig {
            default: spec.default.into(),
            rules: spec
                .rules
                .iter()
                .map(|rule| AccessRule {
                    path: rule.path.clone(),
                    methods: rule.methods.clone(),
                    allow: rule.allow.into(),
                })
                .collect(),
        }
    }
}
