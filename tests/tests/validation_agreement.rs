//! The operator and the sidecar agree on every field: whatever the sidecar's
//! loader refuses, the operator's status path refuses too, naming the same
//! field in the spec's terms, and what one accepts the other accepts.
//!
//! Each row changes one field of an `OidcSettings` spec to a bad value; the
//! operator's side renders the config and checks it as the reconciler does
//! (the contract's validation, and its rule for the referenced Secret's
//! value); the sidecar's side loads the rendered file as a pod would, with
//! its secret files. A value of the wrong type never reaches either: the API
//! server refuses it against the CRD's schema, and the sidecar's parser names
//! the field of a hand-written file.

use portcullis_contract::config::SidecarConfig;
use portcullis_contract::problems::Problems;
use portcullis_contract::validate::validate;
use portcullis_e2e::kube::env::settings;
use portcullis_operator::crd::{OidcSettingsSpec, RoleGroupsSpec, SessionSpec};
use portcullis_operator::crd_access::{
    AccessLevel, AccessRuleSpec, AuthorizationSpec, BearerTokensSpec,
};
use portcullis_operator::crd_identity::SignedIdentitySpec;
use portcullis_operator::crd_store::{
    ClusterSpec, RedisStoreSpec, SentinelSpec, SessionStoreSpec, StoreTlsSpec,
};
use portcullis_operator::desired::config::sidecar_config;
use portcullis_operator::spec_fields::{in_spec_terms, referenced_value, spec_field};
use portcullis_sidecar::config::Settings;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io;
use std::path::Path;

/// Values a person would take for nothing, or that no provider sends.
const BLANK: [&str; 8] = [
    "",
    " ",
    "\u{a0}",
    "\u{2003}",
    "\u{3000}",
    "\t",
    "\u{b}",
    "\u{a0}\u{b}\u{2028}",
];

/// Values that are not blank but still suspect.
fn odd() -> Vec<String> {
    [
        " padded ",
        "con\u{7}trol",
        "line\nbreak",
        "/",
        "ünïcode",
        "x",
    ]
    .map(String::from)
    .into_iter()
    .chain([
        "y".repeat(5000),
        "https://exa mple.com/.well-known/openid-configuration".into(),
    ])
    .collect()
}

const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$J0GZ3k0kGfX3b0S2tP0g5r3sWY8d2m5zDk8VbZb7w9E";
const CLIENT_SECRET: &str = "s3cret";

/// One field, and how a bad value is written into the spec (or, for the
/// client secret, into the Secret it references).
struct Row {
    field: &'static str,
    set: fn(&mut Case, &str),
}

/// A spec and the client secret's value it references.
struct Case {
    spec: OidcSettingsSpec,
    client_secret: String,
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            field: "oidc.wellKnownUrl",
            set: |c, v| c.spec.well_known_url = v.into(),
        },
        Row {
            field: "oidc.clientId",
            set: |c, v| c.spec.client_id = v.into(),
        },
        Row {
            field: "oidc.clientSecretFile",
            set: |c, v| c.client_secret = v.into(),
        },
        Row {
            field: "oidc.usernameClaim",
            set: |c, v| c.spec.username_claim = v.into(),
        },
        Row {
            field: "oidc.groupClaim",
            set: |c, v| c.spec.group_claim = v.into(),
        },
        Row {
            field: "oidc.scopes",
            set: |c, v| c.spec.scopes = vec!["openid".into(), v.into()],
        },
        Row {
            field: "oidc.roleGroups.admin",
            set: |c, v| c.spec.role_groups = Some(groups(vec![v.into()], vec!["staff".into()])),
        },
        Row {
            field: "oidc.roleGroups.trusted",
            set: |c, v| c.spec.role_groups = Some(groups(vec!["ops".into()], vec![v.into()])),
        },
        Row {
            field: "oidc.allowedGroups",
            set: |c, v| c.spec.allowed_groups = vec!["staff".into(), v.into()],
        },
        Row {
            field: "publicUrl",
            set: |c, v| c.spec.public_url = v.into(),
        },
        Row {
            field: "rootAdmin.username",
            set: |c, v| {
                if let Some(root) = &mut c.spec.root_admin {
                    root.username = v.into();
                }
            },
        },
        Row {
            field: "session.cookieName",
            set: |c, v| {
                c.spec.session = Some(SessionSpec {
                    cookie_name: Some(v.into()),
                    ..SessionSpec::default()
                });
            },
        },
        Row {
            field: "authorization.rules.path",
            set: |c, v| c.spec.authorization = Some(rules(v, Vec::new())),
        },
        Row {
            field: "authorization.rules.methods",
            set: |c, v| c.spec.authorization = Some(rules("/admin/**", vec![v.into()])),
        },
        Row {
            field: "bearerTokens.audiences",
            set: |c, v| {
                c.spec.bearer_tokens = Some(BearerTokensSpec {
                    audiences: vec!["api".into(), v.into()],
                    leeway_seconds: None,
                });
            },
        },
        Row {
            field: "signedIdentity.headerName",
            set: |c, v| {
                c.spec.signed_identity = Some(SignedIdentitySpec {
                    header_name: Some(v.into()),
                    ..SignedIdentitySpec::default()
                });
            },
        },
        Row {
            field: "oidc.allowedEmailDomains",
            set: |c, v| c.spec.allowed_email_domains = vec![v.to_owned()],
        },
        Row {
            field: "trustedProxies",
            set: |c, v| c.spec.trusted_proxies = vec![v.to_owned()],
        },
        Row {
            field: "session.store.redis.url",
            set: |c, v| c.spec.session_store = Some(store(v, None)),
        },
        Row {
            field: "session.store.redis.sentinel.masterName",
            set: |c, v| c.spec.session_store = Some(sentinels(v, "sentinel:26379")),
        },
        Row {
            field: "session.store.redis.sentinel.addresses",
            set: |c, v| c.spec.session_store = Some(sentinels("mymaster", v)),
        },
        Row {
            field: "session.store.redis.cluster.addresses",
            set: |c, v| c.spec.session_store = Some(cluster(v)),
        },
        Row {
            field: "session.store.redis.keyPrefix",
            set: |c, v| c.spec.session_store = Some(store("redis://redis:6379", Some(v))),
        },
        Row {
            field: "signedIdentity.audience",
            set: |c, v| {
                c.spec.signed_identity = Some(SignedIdentitySpec {
                    audience: Some(v.into()),
                    ..SignedIdentitySpec::default()
                });
            },
        },
    ]
}

/// Writes a number into one field of the spec.
type SetNumber = fn(&mut OidcSettingsSpec, i64);

/// Number fields of the spec, each with values around its bounds.
fn number_rows() -> Vec<(&'static str, SetNumber)> {
    fn port(value: i64) -> i32 {
        i32::try_from(value).unwrap_or(i32::MAX)
    }
    vec![
        ("listen", |s, v| s.listen_port = port(v)),
        ("adminListen", |s, v| s.admin_port = port(v)),
        ("upstream", |s, v| s.upstream_port = port(v)),
        ("session.fallbackLifetimeSeconds", |s, v| {
            s.session = Some(SessionSpec {
                fallback_lifetime_seconds: Some(v),
                ..SessionSpec::default()
            });
        }),
        ("session.refreshSkewSeconds", |s, v| {
            s.session = Some(SessionSpec {
                refresh_skew_seconds: Some(v),
                ..SessionSpec::default()
            });
        }),
        ("session.refreshGraceSeconds", |s, v| {
            s.session = Some(SessionSpec {
                refresh_grace_seconds: Some(v),
                ..SessionSpec::default()
            });
        }),
        ("session.maxLifetimeSeconds", |s, v| {
            s.session = Some(SessionSpec {
                max_lifetime_seconds: Some(v),
                ..SessionSpec::default()
            });
        }),
        ("rootAdmin.sessionLifetimeSeconds", |s, v| {
            if let Some(root) = &mut s.root_admin {
                root.session_lifetime_seconds = Some(v);
            }
        }),
        ("bearerTokens.leewaySeconds", |s, v| {
            s.bearer_tokens = Some(BearerTokensSpec {
                audiences: vec!["api".into()],
                leeway_seconds: Some(v),
            });
        }),
        ("session.store.maxStalenessSeconds", |s, v| {
            let mut with = store("redis://redis:6379", None);
            with.max_staleness_seconds = Some(v);
            s.session_store = Some(with);
        }),
        ("signedIdentity.lifetimeSeconds", |s, v| {
            s.signed_identity = Some(SignedIdentitySpec {
                lifetime_seconds: Some(v),
                ..SignedIdentitySpec::default()
            });
        }),
    ]
}

/// Fields the operator writes itself, never from the spec: what it writes
/// must pass, which [`the_spec_every_test_starts_from_passes_both`] checks.
const OPERATOR_WRITTEN: [&str; 15] = [
    "session.store.redis.usernameFile",
    "session.store.redis.passwordFile",
    "session.store.redis.sentinel.passwordFile",
    "session.store.redis.tls.caFile",
    "session.keyFile",
    "signedIdentity.keyFile",
    "rootAdmin.passwordHashFile",
    "rootAdmin.enrolmentCodeHashFile",
    "oidc.logoutAtProvider",
    "oidc.backChannelLogout",
    "authorization.default",
    "authorization.rules.allow",
    "connections.headerReadTimeoutSeconds",
    "connections.maxConnections",
    "connections.maxRequestHeadBytes",
];

/// A session store at `url`, with `prefix` or the default one.
fn store(url: &str, prefix: Option<&str>) -> SessionStoreSpec {
    SessionStoreSpec {
        redis: RedisStoreSpec {
            url: Some(url.into()),
            sentinel: None,
            cluster: None,
            username_secret_ref: None,
            password_secret_ref: None,
            tls: None,
            key_prefix: prefix.map(String::from),
        },
        max_staleness_seconds: None,
    }
}

/// A session store found through one Sentinel at `address`.
fn sentinels(master_name: &str, address: &str) -> SessionStoreSpec {
    let mut spec = store("", None);
    spec.redis.url = None;
    spec.redis.sentinel = Some(SentinelSpec {
        master_name: master_name.into(),
        addresses: vec![address.into()],
        password_secret_ref: None,
    });
    spec
}

/// A Redis Cluster reached through the node at `address`.
fn cluster(address: &str) -> SessionStoreSpec {
    let mut spec = store("", None);
    spec.redis.url = None;
    spec.redis.cluster = Some(ClusterSpec {
        addresses: vec![address.into()],
    });
    spec
}

fn groups(admin: Vec<String>, trusted: Vec<String>) -> RoleGroupsSpec {
    RoleGroupsSpec { admin, trusted }
}

fn rules(path: &str, methods: Vec<String>) -> AuthorizationSpec {
    AuthorizationSpec {
        default: AccessLevel::Untrusted,
        rules: vec![AccessRuleSpec {
            path: path.into(),
            methods,
            allow: AccessLevel::Admin,
        }],
    }
}

fn base() -> Case {
    Case {
        spec: settings(
            "https://sso.example.com/realms/home/.well-known/openid-configuration",
            "https://books.example.com",
        )
        .spec,
        client_secret: CLIENT_SECRET.into(),
    }
}

/// What the operator's status path says of `case`.
fn operator_verdict(case: &Case) -> Result<(), Problems> {
    let config = sidecar_config("media", "books", &case.spec);
    let mut problems = validate(&config)
        .err()
        .map(|found| in_spec_terms(&found))
        .unwrap_or_default();
    referenced_value(
        &mut problems,
        "clientSecretRef",
        &case.spec.client_secret_ref,
        &case.client_secret,
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// What the sidecar's loader says of the file the operator renders for
/// `case`, with the secret files a pod would have.
fn sidecar_verdict(case: &Case) -> Result<(), Problems> {
    let rendered = sidecar_config("media", "books", &case.spec)
        .to_yaml()
        .expect("the config serializes");
    let config = SidecarConfig::from_yaml(&rendered).expect("the rendered file parses");
    let client_secret = format!("{}\n", case.client_secret);
    let files = move |path: &Path| -> io::Result<String> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        Ok(match name {
            "client-secret" => client_secret.clone(),
            "session-keys" => format!(
                "{}\n",
                portcullis_contract::session_keys::generate_key_line()
            ),
            "identity-keys" => format!(
                "{}\n",
                portcullis_contract::identity_keys::generate_identity_key_line()
                    .map_err(io::Error::other)?
            ),
            "root-password-hash" | "enrolment-code-hash" => format!("{HASH}\n"),
            other => return Err(io::Error::new(io::ErrorKind::NotFound, other.to_owned())),
        })
    };
    Settings::from_config(&config, files).map(|_| ())
}

/// Asserts the two sides agree on `case`; returns whether it was refused.
fn assert_agree(case: &Case, what: &str) -> bool {
    let sidecar = sidecar_verdict(case);
    let operator = operator_verdict(case);
    match (&sidecar, &operator) {
        (Ok(()), Ok(())) => false,
        (Err(refused), Err(reported)) => {
            for problem in &refused.0 {
                let named = spec_field(&problem.field);
                assert!(
                    reported.mentions(&named),
                    "{what}: the sidecar names {} but the operator does not name {named}: {reported}",
                    problem.field
                );
            }
            true
        }
        _ => panic!("{what}: the sidecar says {sidecar:?} but the operator says {operator:?}"),
    }
}

#[test]
fn the_spec_every_test_starts_from_passes_both() {
    let mut case = base();
    case.spec.signed_identity = Some(SignedIdentitySpec::default());
    case.spec.authorization = Some(rules("/admin/**", vec!["POST".into()]));
    assert!(
        !assert_agree(&case, "the base spec"),
        "the base spec is valid"
    );
}

#[test]
fn every_blank_value_of_every_text_field_is_refused_by_both() {
    for row in rows() {
        for value in BLANK {
            let mut case = base();
            (row.set)(&mut case, value);
            let what = format!("{} = {value:?}", row.field);
            assert!(assert_agree(&case, &what), "{what} was accepted");
        }
    }
}

#[test]
fn odd_values_of_every_text_field_get_the_same_answer_from_both() {
    for row in rows() {
        for value in odd() {
            let mut case = base();
            (row.set)(&mut case, &value);
            let shown: String = value.chars().take(40).collect();
            assert_agree(&case, &format!("{} = {shown:?}", row.field));
        }
    }
}

#[test]
fn numbers_around_their_bounds_get_the_same_answer_from_both() {
    for (field, set) in number_rows() {
        for value in [
            -1,
            0,
            1,
            4,
            5,
            600,
            601,
            4180,
            9090,
            65_535,
            65_536,
            i64::MAX,
        ] {
            let mut case = base();
            set(&mut case.spec, value);
            assert_agree(&case, &format!("{field} = {value}"));
        }
    }
}

#[test]
fn the_table_covers_every_field_of_the_config_file() {
    let mut full = sidecar_config("media", "books", &base().spec);
    full.signed_identity = Some(portcullis_contract::identity::SignedIdentityConfig {
        audience: Some("books".into()),
        ..Default::default()
    });
    full.bearer_tokens = Some(portcullis_contract::bearer::BearerConfig {
        audiences: vec!["api".into()],
        ..Default::default()
    });
    full.authorization
        .rules
        .push(portcullis_contract::access::AccessRule {
            path: "/a".into(),
            methods: vec!["GET".into()],
            allow: portcullis_contract::access::Access::Admin,
        });
    full.oidc.allowed_groups.push("staff".into());
    full.oidc.role_groups.admin = vec!["ops".into()];
    full.connections.max_connections += 1;
    full.trusted_proxies.push("10.0.0.0/8".into());
    let mut with_store = store("rediss://redis:6379", None);
    let secret = |name: &str| portcullis_operator::crd::SecretKeyRef {
        name: name.into(),
        key: "k".into(),
    };
    with_store.redis.username_secret_ref = Some(secret("user"));
    with_store.redis.password_secret_ref = Some(secret("password"));
    with_store.redis.tls = Some(StoreTlsSpec {
        ca_secret_ref: Some(secret("ca")),
    });
    full.session.store = Some(with_store.to_config("media", "books"));
    let mut with_sentinels = sentinels("mymaster", "sentinel:26379");
    if let Some(sentinel) = &mut with_sentinels.redis.sentinel {
        sentinel.password_secret_ref = Some(secret("sentinel"));
    }
    if let Some(store) = &mut full.session.store {
        store.redis.sentinel = with_sentinels.to_config("media", "books").redis.sentinel;
        store.redis.cluster = cluster("redis:6379")
            .to_config("media", "books")
            .redis
            .cluster;
    }
    let mut fields = BTreeSet::new();
    leaves(
        &serde_json::to_value(&full).expect("serializes"),
        "",
        &mut fields,
    );
    let covered: BTreeSet<String> = rows()
        .iter()
        .map(|row| row.field.to_owned())
        .chain(number_rows().iter().map(|(field, _)| (*field).to_owned()))
        .chain(OPERATOR_WRITTEN.map(String::from))
        .collect();
    let missing: Vec<&String> = fields.difference(&covered).collect();
    assert!(missing.is_empty(), "fields no row covers: {missing:?}");
    for field in [
        "bearerTokens.audiences",
        "signedIdentity.audience",
        "oidc.roleGroups.admin",
        "session.store.redis.passwordFile",
    ] {
        assert!(fields.contains(field), "{field} not among {fields:?}");
    }
}

/// The dotted paths of every leaf of `value`, list indexes left out.
fn leaves(value: &Value, at: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                leaves(inner, &path, out);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            for item in items {
                leaves(item, at, out);
            }
        }
        _ => {
            out.insert(at.to_owned());
        }
    }
}
