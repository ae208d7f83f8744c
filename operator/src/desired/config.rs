//! The sidecar config, rendered through the contract crate's types.
//!
//! Rendering through [`SidecarConfig`] (instead of a template) means a field
//! the sidecar does not know cannot be written, and the sidecar, which loads
//! the file through the same types, reads back exactly what the operator meant.
//! The reconciler then checks the result with the contract crate's
//! validation, the sidecar's own, before writing it.
//!
//! The cookie name defaults to one derived from the `OidcSettings` name:
//! two apps on one host (cookies ignore ports) with the same name would
//! overwrite each other's session cookie and log each other out.

use crate::crd::OidcSettingsSpec;
use crate::names::{
    CLIENT_SECRET_KEY, ENROLMENT_HASH_KEY, PROVIDER_CA_KEY, ROOT_HASH_KEY, SESSION_KEYS_KEY,
    secret_path,
};
use portcullis_contract::config::{
    ConnectionsConfig, OidcConfig, RoleGroups, RootAdminConfig, SessionConfig, SidecarConfig,
};
use portcullis_contract::defaults::{
    DEFAULT_FALLBACK_LIFETIME_SECONDS, DEFAULT_MAX_SESSION_LIFETIME_SECONDS,
    DEFAULT_REFRESH_GRACE_SECONDS, DEFAULT_REFRESH_SKEW_SECONDS,
    DEFAULT_ROOT_SESSION_LIFETIME_SECONDS,
};
use portcullis_contract::forward_auth::ForwardAuthConfig;

/// The sidecar config of the `OidcSettings` `namespace/name`, with secrets
/// as paths under the Secret mount.
pub fn sidecar_config(namespace: &str, name: &str, spec: &OidcSettingsSpec) -> SidecarConfig {
    let session = spec.session.clone().unwrap_or_default();
    SidecarConfig {
        listen: format!("0.0.0.0:{}", spec.listen_port),
        admin_listen: format!("0.0.0.0:{}", spec.admin_port),
        upstream: match spec.forward_auth {
            Some(_) => String::new(),
            None => format!("http://127.0.0.1:{}", spec.upstream_port),
        },
        forward_auth: spec.forward_auth.as_ref().map(|forward| ForwardAuthConfig {
            grpc_listen: forward.grpc_port.map(|port| format!("0.0.0.0:{port}")),
            hosts: forward.hosts.clone(),
        }),
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
            allowed_email_domains: spec.allowed_email_domains.clone(),
            logout_at_provider: spec.logout_at_provider,
            back_channel_logout: spec.back_channel_logout,
            ca_file: spec
                .ca_bundle
                .as_ref()
                .map(|_| secret_path(PROVIDER_CA_KEY).into()),
        },
        root_admin: spec.root_admin.as_ref().map(|root| RootAdminConfig {
            username: root.username.clone(),
            password_hash_file: Some(secret_path(ROOT_HASH_KEY).into()),
            session_lifetime_seconds: seconds(
                root.session_lifetime_seconds,
                DEFAULT_ROOT_SESSION_LIFETIME_SECONDS,
            ),
            enrolment_code_hash_file: Some(secret_path(ENROLMENT_HASH_KEY).into()),
        }),
        session: SessionConfig {
            key_file: secret_path(SESSION_KEYS_KEY).into(),
            cookie_name: session
                .cookie_name
                .unwrap_or_else(|| default_cookie_name(name)),
            cookie_domain: session.cookie_domain.clone(),
            fallback_lifetime_seconds: seconds(
                session.fallback_lifetime_seconds,
                DEFAULT_FALLBACK_LIFETIME_SECONDS,
            ),
            max_lifetime_seconds: seconds(
                session.max_lifetime_seconds,
                DEFAULT_MAX_SESSION_LIFETIME_SECONDS,
            ),
            refresh_skew_seconds: seconds(
                session.refresh_skew_seconds,
                DEFAULT_REFRESH_SKEW_SECONDS,
            ),
            refresh_grace_seconds: seconds(
                session.refresh_grace_seconds,
                DEFAULT_REFRESH_GRACE_SECONDS,
            ),
            store: spec
                .session_store
                .as_ref()
                .map(|store| store.to_config(namespace, name)),
        },
        connections: ConnectionsConfig::default(),
        trusted_proxies: spec.trusted_proxies.clone(),
        authorization: spec
            .authorization
            .as_ref()
            .map(Into::into)
            .unwrap_or_default(),
        bearer_tokens: spec.bearer_tokens.as_ref().map(Into::into),
        signed_identity: spec.signed_identity.as_ref().map(Into::into),
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

/// The session cookie name when the spec names none: `portcullis_<name>`,
/// with the dots a Kubernetes name may hold (not allowed in the cookie name
/// here) as `_`, which no Kubernetes name holds, so names stay distinct.
pub fn default_cookie_name(name: &str) -> String {
    format!("portcullis_{}", name.replace('.', "_"))
}

/// A lifetime from the spec, or `default` (a negative one becomes 0, which
/// validation names).
fn seconds(value: Option<i64>, default: u64) -> u64 {
    value.map_or(default, |value| u64::try_from(value).unwrap_or(0))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crd::{RootAdminSpec, SecretKeyRef, SessionSpec};

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
            listen_port: 4180,
            admin_port: 9090,
            logout_at_provider: true,
            back_channel_logout: true,
            session: None,
            root_admin: Some(RootAdminSpec {
                username: "admin".into(),
                password_secret_ref: None,
                session_lifetime_seconds: None,
            }),
            role_groups: None,
            allowed_groups: Vec::new(),
            trusted_proxies: Vec::new(),
            allowed_email_domains: Vec::new(),
            ca_bundle: None,
            network_policy: None,
            authorization: None,
            bearer_tokens: None,
            signed_identity: None,
            session_store: None,
            forward_auth: None,
        }
    }

    #[test]
    fn without_a_role_mapping_the_rendered_file_does_not_mention_one() {
        let yaml = sidecar_config("media", "books", &spec())
            .to_yaml()
            .expect("renders");
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
        let parsed = SidecarConfig::from_yaml(
            &sidecar_config("media", "books", &spec)
                .to_yaml()
                .expect("renders"),
        )
        .expect("parses");
        assert_eq!(parsed.oidc.group_claim, "realm_access.roles");
        assert_eq!(parsed.oidc.role_groups.admin, ["/ops"]);
        assert_eq!(parsed.oidc.role_groups.trusted, ["staff"]);
        assert_eq!(parsed.oidc.allowed_groups, ["family"]);
    }

    #[test]
    fn config_points_at_the_mounted_secret_files() {
        let config = sidecar_config("media", "books", &spec());
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
        let yaml = sidecar_config("media", "books", &spec())
            .to_yaml()
            .expect("renders");
        let parsed = SidecarConfig::from_yaml(&yaml).expect("parses");
        assert_eq!(parsed, sidecar_config("media", "books", &spec()));
        assert_eq!(parsed.oidc.scopes, ["openid", "profile", "groups"]);
    }

    #[test]
    fn access_rules_are_rendered_in_order_and_absent_ones_leave_no_trace() {
        let yaml = sidecar_config("media", "books", &spec())
            .to_yaml()
            .expect("renders");
        assert!(!yaml.contains("authorization"), "{yaml}");

        let mut spec = spec();
        spec.authorization = serde_json::from_value(serde_json::json!({
            "rules": [
                {"path": "/healthz", "allow": "public"},
                {"path": "/admin/**", "methods": ["GET", "POST"], "allow": "rootAdmin"},
            ],
        }))
        .expect("parses");
        let config = sidecar_config("media", "books", &spec);
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
            leeway_seconds: Some(10),
        });
        let bearer = sidecar_config("media", "books", &spec)
            .bearer_tokens
            .expect("rendered");
        assert_eq!(bearer.audiences, ["https://books.example.com/api"]);
        assert_eq!(bearer.leeway_seconds, 10);
    }

    #[test]
    fn trailing_slash_of_public_url_is_dropped() {
        let mut spec = spec();
        spec.public_url = "https://books.example.com/".into();
        assert_eq!(
            sidecar_config("media", "books", &spec).public_url,
            "https://books.example.com"
        );
    }

    #[test]
    fn cookie_name_is_derived_from_the_name_unless_set() {
        let books = sidecar_config("media", "books", &spec());
        let films = sidecar_config("media", "films.v2", &spec());
        assert_eq!(books.session.cookie_name, "portcullis_books");
        assert_eq!(films.session.cookie_name, "portcullis_films_v2");
        let mut spec = spec();
        spec.session = Some(SessionSpec {
            cookie_name: Some("portcullis_session".into()),
            fallback_lifetime_seconds: Some(600),
            ..SessionSpec::default()
        });
        let kept = sidecar_config("media", "books", &spec);
        assert_eq!(kept.session.cookie_name, "portcullis_session");
        assert_eq!(kept.session.fallback_lifetime_seconds, 600);
    }

    #[test]
    fn ports_lifetimes_logout_and_trusted_proxies_come_from_the_spec() {
        let mut spec = spec();
        spec.listen_port = 8443;
        spec.admin_port = 8444;
        spec.logout_at_provider = false;
        spec.trusted_proxies = vec!["10.0.0.0/8".into(), "192.168.1.7".into()];
        if let Some(root) = spec.root_admin.as_mut() {
            root.session_lifetime_seconds = Some(900);
        }
        let config = sidecar_config("media", "books", &spec);
        assert_eq!(
            (config.listen.as_str(), config.admin_listen.as_str()),
            ("0.0.0.0:8443", "0.0.0.0:8444")
        );
        assert!(!config.oidc.logout_at_provider);
        assert_eq!(config.trusted_proxies, ["10.0.0.0/8", "192.168.1.7"]);
        assert_eq!(
            config.root_admin.map(|r| r.session_lifetime_seconds),
            Some(900)
        );
        assert!(
            portcullis_contract::validate::validate(&sidecar_config(
                "media",
                "books",
                &self::spec()
            ))
            .is_ok()
        );
    }

    #[test]
    fn no_root_admin_means_no_backup_login() {
        let mut spec = spec();
        spec.root_admin = None;
        assert_eq!(sidecar_config("media", "books", &spec).root_admin, None);
    }

    #[test]
    fn a_forward_auth_service_has_no_upstream_and_its_hosts_and_cookie_domain() {
        let mut spec = spec();
        spec.public_url = "https://auth.example.com".into();
        spec.trusted_proxies = vec!["10.0.0.0/8".into()];
        spec.forward_auth = Some(crate::crd_forward::ForwardAuthSpec {
            replicas: None,
            hosts: vec!["films.example.com".into()],
            grpc_port: Some(9191),
        });
        spec.session = Some(SessionSpec {
            cookie_domain: Some("example.com".into()),
            ..SessionSpec::default()
        });
        let config = sidecar_config("media", "books", &spec);
        assert_eq!(config.upstream, "");
        let forward = config.forward_auth.as_ref().expect("forwardAuth");
        assert_eq!(forward.grpc_listen.as_deref(), Some("0.0.0.0:9191"));
        assert_eq!(forward.hosts, ["films.example.com"]);
        assert_eq!(config.session.cookie_domain.as_deref(), Some("example.com"));
        let valid = portcullis_contract::validate::validate(&config).expect("the contract agrees");
        assert!(valid.upstream.is_none());
        assert_eq!(valid.many_hosts.hosts, ["films.example.com"]);
    }
}
