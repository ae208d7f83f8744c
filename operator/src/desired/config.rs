//! The sidecar config, rendered through the contract crate's types.
//!
//! Rendering through [`SidecarConfig`] (instead of a template) means a field
//! the sidecar does not know cannot be written, and the sidecar, which loads
//! the file through the same types, reads back exactly what the operator meant.

use crate::crd::OidcSettingsSpec;
use crate::names::{CLIENT_SECRET_KEY, ROOT_HASH_KEY, SESSION_KEYS_KEY, secret_path};
use portcullis_contract::config::{
    ConnectionsConfig, OidcConfig, RoleGroups, RootAdminConfig, SessionConfig, SidecarConfig,
};
use portcullis_contract::defaults::{
    DEFAULT_ADMIN_LISTEN, DEFAULT_LISTEN, DEFAULT_ROOT_SESSION_LIFETIME_SECONDS,
};

/// The sidecar config for `spec`, with secrets as paths under the Secret mount.
pub fn sidecar_config(spec: &OidcSettingsSpec) -> SidecarConfig {
    SidecarConfig {
        listen: DEFAULT_LISTEN.into(),
        admin_listen: DEFAULT_ADMIN_LISTEN.into(),
        upstream: format!("http://127.0.0.1:{}", spec.upstream_port),
        public_url: spec.public_url.trim_end_matches('/').to_owned(),
        oidc: OidcConfig {
            well_known_url: spec.well_known_url.clone(),
            client_id: spec.client_id.clone(),
            client_secret_file: secret_path(CLIENT_SECRET_KEY).into(),
            scopes: spec.scopes.clone(),
            username_claim: spec.username_claim.clone(),
            group_claim: spec.group_claim.clone(),
            role_groups: role_groups(spec),
            allowed_groups: spec.allowed_groups.clone(),
            ..OidcConfig::default()
        },
        root_admin: spec.root_admin.as_ref().map(|root| RootAdminConfig {
            username: root.username.clone(),
            password_hash_file: Some(secret_path(ROOT_HASH_KEY).into()),
            session_lifetime_seconds: DEFAULT_ROOT_SESSION_LIFETIME_SECONDS,
        }),
        session: SessionConfig {
            key_file: secret_path(SESSION_KEYS_KEY).into(),
            ..SessionConfig::default()
        },
        connections: ConnectionsConfig::default(),
        trusted_proxies: Vec::new(),
        authorization: spec
            .authorization
            .as_ref()
            .map(Into::into)
            .unwrap_or_default(),
        bearer_tokens: spec.bearer_tokens.as_ref().map(Into::into),
    }
}

/// The role mapping for the sidecar; the contract's default when the spec has none.
fn role_groups(spec: &OidcSettingsSpec) -> RoleGroups {
    spec.role_groups
        .as_ref()
        .map_or_else(RoleGroups::default, |groups| RoleGroups {
            admin: groups.admin.clone(),
            trusted: groups.trusted.clone(),
        })
}

/// The sidecar config as the YAML text of the ConfigMap.
pub fn sidecar_yaml(spec: &OidcSettingsSpec) -> Result<String, serde_yaml::Error> {
    sidecar_config(spec).to_yaml()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crd::{RootAdminSpec, SecretKeyRef};

    pub(crate) fn spec() -> OidcSettingsSpec {
        OidcSettingsSpec {
            well_known_url: "https://sso.example.com/realms/home/.well-known/openid-configuration"
                .into(),
            username_claim: "preferred_username".into(),
            group_claim: "groups".into(),
            scopes: ["openid", "profile", "groups"].map(String::from).to_vec(),
            client_id: "books".into(),
            client_secret_ref: SecretKeyRef {
                name: "books-oidc".into(),
                key: "client-secret".into(),
            },
            public_url: "https://books.example.com".into(),
            upstream_port: 3000,
            root_admin: Some(RootAdminSpec {
                username: "admin".into(),
                password_secret_ref: None,
            }),
            role_groups: None,
            allowed_groups: Vec::new(),
            network_policy: None,
            authorization: None,
            bearer_tokens: None,
        }
    }

    #[test]
    fn without_a_role_mapping_the_rendered_file_does_not_mention_one() {
        let yaml = sidecar_yaml(&spec()).expect("renders");
        assert!(!yaml.contains("roleGroups"), "{yaml}");
        assert!(!yaml.contains("allowedGroups"), "{yaml}");
    }

    #[test]
    fn role_mapping_and_allow_list_are_rendered() {
        let mut spec = spec();
        spec.group_claim = "realm_access.roles".into();
        spec.role_groups = Some(crate::crd::RoleGroupsSpec {
            admin: vec!["/ops".into()],
            trusted: vec!["staff".into()],
        });
        spec.allowed_groups = vec!["family".into()];
        let parsed =
            SidecarConfig::from_yaml(&sidecar_yaml(&spec).expect("renders")).expect("parses");
        assert_eq!(parsed.oidc.group_claim, "realm_access.roles");
        assert_eq!(parsed.oidc.role_groups.admin, ["/ops"]);
        assert_eq!(parsed.oidc.role_groups.trusted, ["staff"]);
        assert_eq!(parsed.oidc.allowed_groups, ["family"]);
    }

    #[test]
    fn config_points_at_the_mounted_secret_files() {
        let config = sidecar_config(&spec());
        assert_eq!(config.upstream, "http://127.0.0.1:3000");
        assert_eq!(
            config.oidc.client_secret_file.to_str(),
            Some("/etc/portcullis/secret/client-secret")
        );
        assert_eq!(
            config.session.key_file.to_str(),
            Some("/etc/portcullis/secret/session-keys")
        );
        let root = config.root_admin.expect("root admin");
        assert_eq!(
            root.password_hash_file.as_deref().and_then(|p| p.to_str()),
            Some("/etc/portcullis/secret/root-password-hash")
        );
    }

    #[test]
    fn rendered_yaml_reads_back_through_the_sidecar_parser() {
        let yaml = sidecar_yaml(&spec()).expect("renders");
        let parsed = SidecarConfig::from_yaml(&yaml).expect("parses");
        assert_eq!(parsed, sidecar_config(&spec()));
        assert_eq!(parsed.oidc.scopes, ["openid", "profile", "groups"]);
    }

    #[test]
    fn access_rules_are_rendered_in_order_and_absent_ones_leave_no_trace() {
        let yaml = sidecar_yaml(&spec()).expect("renders");
        assert!(!yaml.contains("authorization"), "{yaml}");

        let mut spec = spec();
        spec.authorization = serde_json::from_value(serde_json::json!({
            "rules": [
                {"path": "/healthz", "allow": "public"},
                {"path": "/admin/**", "methods": ["GET", "POST"], "allow": "rootAdmin"},
            ],
        }))
        .expect("parses");
        let config = sidecar_config(&spec);
        let rules = &config.authorization.rules;
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].path, "/admin/**");
        assert_eq!(rules[1].methods, ["GET", "POST"]);
        assert_eq!(
            rules[1].allow,
            portcullis_contract::access::Access::RootAdmin
        );
        assert_eq!(
            config.authorization.default,
            portcullis_contract::access::Access::Untrusted
        );
        let yaml = config.to_yaml().expect("renders");
        assert_eq!(SidecarConfig::from_yaml(&yaml).expect("reads back"), config);
        assert!(!yaml.contains("bearerTokens"), "{yaml}");
    }

    #[test]
    fn bearer_tokens_are_rendered_with_their_audiences() {
        let mut spec = spec();
        spec.bearer_tokens = Some(crate::crd_access::BearerTokensSpec {
            audiences: vec!["https://books.example.com/api".into()],
        });
        let bearer = sidecar_config(&spec).bearer_tokens.expect("rendered");
        assert_eq!(bearer.audiences, ["https://books.example.com/api"]);
    }

    #[test]
    fn trailing_slash_of_public_url_is_dropped() {
        let mut spec = spec();
        spec.public_url = "https://books.example.com/".into();
        assert_eq!(
            sidecar_config(&spec).public_url,
            "https://books.example.com"
        );
    }

    #[test]
    fn no_root_admin_means_no_backup_login() {
        let mut spec = spec();
        spec.root_admin = None;
        assert_eq!(sidecar_config(&spec).root_admin, None);
    }
}
