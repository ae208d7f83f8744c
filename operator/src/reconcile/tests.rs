//! One reconcile against the API server stand-in: which objects it writes,
//! how, and what it reports in `status`.
//!
//! The discovery document is fetched for real, from a port on 127.0.0.1
//! that nobody listens on (refused at once) or from a small server in the
//! test serving a matching document.

use super::reconcile;
use crate::context::fake_api::{ApiServer, path};
use crate::context::{Context, spread};
use crate::crd::{OidcSettings, OidcSettingsSpec, OidcSettingsStatus};
use crate::desired::config::sidecar_config;
use crate::names::{CLIENT_SECRET_KEY, CONFIG_KEY, FIELD_MANAGER, STORE_PASSWORD_KEY};
use hyper::Method;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use kube::ResourceExt;
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

const NAMESPACE: &str = "media";
const UID: &str = "3f1c2a9e-0000-4000-8000-00000000b00c";

/// `books` in `media`, without a root admin (no password to hash), its
/// provider at `well_known_url`.
fn books(well_known_url: &str) -> OidcSettings {
    let spec = OidcSettingsSpec {
        well_known_url: well_known_url.to_owned(),
        root_admin: None,
        ..crate::desired::config::tests::spec()
    };
    let mut settings = OidcSettings::new("books", spec);
    settings.metadata.namespace = Some(NAMESPACE.into());
    settings.metadata.uid = Some(UID.into());
    settings.metadata.generation = Some(1);
    settings
}

/// A port of 127.0.0.1 that nobody listens on (the listener that found it
/// is closed again).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// A discovery URL on a port of 127.0.0.1 that nobody listens on.
fn unreachable_provider() -> String {
    format!(
        "http://127.0.0.1:{}/.well-known/openid-configuration",
        free_port()
    )
}

/// Serves a discovery document that matches [`books`]; returns its URL.
async fn matching_provider() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let issuer = format!("http://{}", listener.local_addr().expect("its address"));
    let document = json!({
        "issuer": issuer,
        "scopes_supported": ["openid", "profile", "groups", "email"],
        "claims_supported": ["sub", "preferred_username", "groups"],
    });
    let app = axum::Router::new().route(
        "/.well-known/openid-configuration",
        axum::routing::get(move || async move { axum::Json(document) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("{issuer}/.well-known/openid-configuration")
}

/// The referenced client secret, as a user would create it.
fn client_secret() -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some("books-oidc".into()),
            namespace: Some(NAMESPACE.into()),
            uid: Some("7d0f5b1e-0000-4000-8000-0000000000c5".into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "client-secret".to_owned(),
            ByteString(b"s3cret".to_vec()),
        )])),
        ..Secret::default()
    }
}

/// The stand-in holding `settings` (at its own name), as the API server
/// would, with no pods running.
fn cluster(settings: &OidcSettings) -> (Arc<Context>, ApiServer) {
    let (ctx, server) = Context::for_tests();
    server.insert(
        &path::<OidcSettings>(NAMESPACE, &settings.name_any()),
        settings,
    );
    running_pods(&server, &[]);
    (ctx, server)
}

/// The namespace's pods the API server lists: each named, running at an
/// address (a label selector is not applied by the stand-in).
fn running_pods(server: &ApiServer, pods: &[(&str, &str)]) {
    let items: Vec<Value> = pods
        .iter()
        .map(|(name, ip)| {
            json!({
                "metadata": {"name": name, "namespace": NAMESPACE},
                "status": {"phase": "Running", "podIP": ip},
            })
        })
        .collect();
    server.insert(
        &format!("/api/v1/namespaces/{NAMESPACE}/pods"),
        &json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}),
    );
}

fn settings_path() -> String {
    path::<OidcSettings>(NAMESPACE, "books")
}

fn generated_secret() -> String {
    path::<Secret>(NAMESPACE, "books-portcullis")
}

fn generated_config_map() -> String {
    path::<ConfigMap>(NAMESPACE, "books-portcullis")
}

/// The condition `type_` of the status written in `patch`.
fn condition(patch: &Value, type_: &str) -> Condition {
    let status: OidcSettingsStatus =
        serde_json::from_value(patch["status"].clone()).expect("a status patch");
    status
        .conditions
        .into_iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {patch}"))
}

fn index_of(server: &ApiServer, method: &Method, path: &str) -> usize {
    server
        .seen()
        .iter()
        .position(|seen| seen.method == *method && seen.path == path)
        .unwrap_or_else(|| panic!("no {method} {path}"))
}

#[tokio::test]
async fn a_missing_client_secret_writes_nothing_and_reports_secret_not_found() {
    let settings = Arc::new(books(&unreachable_provider()));
    let (ctx, server) = cluster(&settings);

    let action = server
        .within(reconcile(settings.clone(), ctx.clone()))
        .await
        .expect("a missing Secret is reported, not an error");

    server.assert_not_written(&generated_secret());
    server.assert_not_written(&generated_config_map());
    let patch = server
        .expect(Method::PATCH, &format!("{}/status", settings_path()))
        .await;
    let secrets = condition(&patch.body, "SecretsResolved");
    assert_eq!(
        (secrets.status.as_str(), secrets.reason.as_str()),
        ("False", "SecretNotFound")
    );
    assert!(
        secrets.message.contains("books-oidc"),
        "{}",
        secrets.message
    );
    let ready = condition(&patch.body, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "SecretNotFound")
    );
    assert_eq!(action, Action::requeue(spread(ctx.retry, "media/books")));
}

#[tokio::test]
async fn a_valid_spec_with_its_secret_applies_the_secret_then_the_config_map() {
    let settings = Arc::new(books(&unreachable_provider()));
    let (ctx, server) = cluster(&settings);
    server.insert(&path::<Secret>(NAMESPACE, "books-oidc"), &client_secret());

    server
        .within(reconcile(settings.clone(), ctx))
        .await
        .expect("reconciled");

    let secret_apply = server.expect(Method::PATCH, &generated_secret()).await;
    let config_apply = server.expect(Method::PATCH, &generated_config_map()).await;
    for apply in [&secret_apply, &config_apply] {
        assert!(
            apply.content_type.starts_with("application/apply-patch"),
            "{apply}: {}",
            apply.content_type
        );
        assert!(
            apply.has_query("fieldManager", FIELD_MANAGER),
            "{}",
            apply.query
        );
        assert!(apply.has_query("force", "true"), "{}", apply.query);
        assert_eq!(apply.body["metadata"]["ownerReferences"][0]["uid"], UID);
    }
    assert!(
        index_of(&server, &Method::PATCH, &generated_secret())
            < index_of(&server, &Method::PATCH, &generated_config_map()),
        "the Secret goes first, so a reloading sidecar finds the files the config names"
    );

    let secret: Secret = serde_json::from_value(secret_apply.body).expect("a Secret");
    let data = secret.data.expect("data");
    assert_eq!(data[CLIENT_SECRET_KEY].0, b"s3cret");
    let config_map: ConfigMap = serde_json::from_value(config_apply.body).expect("a ConfigMap");
    let expected = sidecar_config("media", "books", &settings.spec)
        .to_yaml()
        .expect("renders");
    assert_eq!(config_map.data.expect("data")[CONFIG_KEY], expected);

    let patch = server
        .expect(Method::PATCH, &format!("{}/status", settings_path()))
        .await;
    let secrets = condition(&patch.body, "SecretsResolved");
    assert_eq!(
        (secrets.status.as_str(), secrets.reason.as_str()),
        ("True", "SecretsFound")
    );
    let ready = condition(&patch.body, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "DiscoveryUnreachable"),
        "{}",
        ready.message
    );
}

#[tokio::test]
async fn a_valid_spec_at_a_matching_provider_is_ready_and_rechecked_later() {
    let settings = Arc::new(books(&matching_provider().await));
    let (ctx, server) = cluster(&settings);
    server.insert(&path::<Secret>(NAMESPACE, "books-oidc"), &client_secret());

    let action = server
        .within(reconcile(settings.clone(), ctx.clone()))
        .await
        .expect("reconciled");

    let patch = server
        .expect(Method::PATCH, &format!("{}/status", settings_path()))
        .await;
    let ready = condition(&patch.body, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Reconciled"),
        "{}",
        ready.message
    );
    assert!(ready.message.contains("is not https"), "{}", ready.message);
    let event = server
        .expect(
            Method::POST,
            &format!("/apis/events.k8s.io/v1/namespaces/{NAMESPACE}/events"),
        )
        .await;
    assert_eq!(
        (event.body["type"].as_str(), event.body["reason"].as_str()),
        (Some("Normal"), Some("Reconciled"))
    );
    assert_eq!(action, Action::requeue(spread(ctx.recheck, "media/books")));
}

#[tokio::test]
async fn a_second_reconcile_of_an_unchanged_world_writes_nothing() {
    let settings = Arc::new(books(&unreachable_provider()));
    let (ctx, server) = cluster(&settings);
    server.insert(&path::<Secret>(NAMESPACE, "books-oidc"), &client_secret());
    server
        .within(reconcile(settings.clone(), ctx.clone()))
        .await
        .expect("first reconcile");
    let first = server.writes().len();
    for written in [
        generated_secret(),
        generated_config_map(),
        path::<NetworkPolicy>(NAMESPACE, "books-portcullis"),
    ] {
        assert!(server.object(&written).is_some(), "{written} not written");
    }

    server
        .within(reconcile(settings.clone(), ctx))
        .await
        .expect("second reconcile");

    let again: Vec<String> = server.writes()[first..]
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(again.is_empty(), "written again: {again:?}");
}

#[tokio::test]
async fn a_spec_the_sidecar_refuses_writes_nothing_and_reports_invalid_spec() {
    let mut refused = books(&unreachable_provider());
    refused.spec.public_url = "https://exa mple.com".into();
    let settings = Arc::new(refused);
    let (ctx, server) = cluster(&settings);
    server.insert(&path::<Secret>(NAMESPACE, "books-oidc"), &client_secret());

    server
        .within(reconcile(settings.clone(), ctx))
        .await
        .expect("a refused spec is reported, not an error");

    server.assert_not_written(&generated_secret());
    server.assert_not_written(&generated_config_map());
    let patch = server
        .expect(Method::PATCH, &format!("{}/status", settings_path()))
        .await;
    let ready = condition(&patch.body, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "InvalidSpec")
    );
    assert!(ready.message.contains("publicUrl"), "{}", ready.message);
}

#[tokio::test]
async fn a_forbidden_read_fails_the_reconcile_and_is_reported_as_forbidden() {
    let settings = Arc::new(books(&unreachable_provider()));
    let (ctx, server) = cluster(&settings);
    server.refuse(Method::GET, &path::<Secret>(NAMESPACE, "books-oidc"), 403);

    let result = server.within(reconcile(settings.clone(), ctx)).await;

    assert!(result.is_err(), "a refused read is retried with backoff");
    server.assert_not_written(&generated_secret());
    server.assert_not_written(&generated_config_map());
    let patch = server
        .expect(Method::PATCH, &format!("{}/status", settings_path()))
        .await;
    let ready = condition(&patch.body, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Forbidden")
    );
}

#[tokio::test]
async fn a_root_admin_gets_an_enrolment_code_and_the_sidecar_only_its_hash() {
    let mut settings = books(&unreachable_provider());
    settings.spec.root_admin = crate::desired::config::tests::spec().root_admin;
    let settings = Arc::new(settings);
    let (ctx, server) = cluster(&settings);
    server.insert(&path::<Secret>(NAMESPACE, "books-oidc"), &client_secret());

    server
        .within(reconcile(settings.clone(), ctx))
        .await
        .expect("reconciled");

    let made = server
        .object(&path::<Secret>(NAMESPACE, "books-enrolment"))
        .expect("the enrolment Secret");
    let made: Secret = serde_json::from_value(made).expect("a Secret");
    assert_eq!(made.metadata.owner_references.expect("owned")[0].uid, UID);
    let code = String::from_utf8(made.data.expect("data")["code"].0.clone()).expect("text");
    let applied = server.expect(Method::PATCH, &generated_secret()).await;
    let generated: Secret = serde_json::from_value(applied.body).expect("a Secret");
    let data = generated.data.expect("data");
    let hash = std::str::from_utf8(&data["enrolment-code-hash"].0).expect("text");
    assert!(portcullis_contract::enrolment::code_matches(&code, hash));
    assert!(
        !data.values().any(|value| value.0 == code.as_bytes()),
        "the code itself stays out of the sidecar's Secret"
    );
}

/// `books` with a session store whose password is in Secret `redis`.
fn books_with_store() -> OidcSettings {
    let mut settings = books(&unreachable_provider());
    settings.spec.session_store = Some(
        serde_json::from_value(json!({
            "redis": {
                "url": "redis://127.0.0.1:1/0",
                "passwordSecretRef": {"name": "redis", "key": "password"},
            }
        }))
        .expect("a store spec"),
    );
    settings
}

#[tokio::test]
async fn the_session_store_password_is_copied_into_the_generated_secret() {
    let settings = Arc::new(books_with_store());
    let (ctx, server) = cluster(&settings);
    server.insert(&path::<Secret>(NAMESPACE, "books-oidc"), &client_secret());
    let mut redis = client_secret();
    redis.metadata.name = Some("redis".into());
    redis.data = Some(BTreeMap::from([(
        "password".to_owned(),
        ByteString(b"hunter2".to_vec()),
    )]));
    server.insert(&path::<Secret>(NAMESPACE, "redis"), &redis);

    server
        .within(reconcile(settings.clone(), ctx))
        .await
        .expect("reconciled");

    let secret_apply = server.expect(Method::PATCH, &generated_secret()).await;
    let secret: Secret = serde_json::from_value(secret_apply.body).expect("a Secret");
    assert_eq!(secret.data.expect("data")[STORE_PASSWORD_KEY].0, b"hunter2");
    let config_apply = server.expect(Method::PATCH, &generated_config_map()).await;
    let config_map: ConfigMap = serde_json::from_value(config_apply.body).expect("a ConfigMap");
    let yaml = &config_map.data.expect("data")[CONFIG_KEY];
    assert!(
        yaml.contains("passwordFile: /etc/portcullis/secret/session-store-password"),
        "{yaml}"
    );
    assert!(
        yaml.contains("keyPrefix: 'portcullis:media/books:'"),
        "{yaml}"
    );
    assert!(!yaml.contains("hunter2"), "the config holds paths only");
}

#[tokio::test]
async fn a_missing_session_store_secret_is_named_and_nothing_is_written() {
    let settings = Arc::new(books_with_store());
    let (ctx, server) = cluster(&settings);
    server.insert(&path::<Secret>(NAMESPACE, "books-oidc"), &client_secret());

    server
        .within(reconcile(settings.clone(), ctx))
        .await
        .expect("a missing Secret is reported, not an error");

    server.assert_not_written(&generated_secret());
    let patch = server
        .expect(Method::PATCH, &format!("{}/status", settings_path()))
        .await;
    let secrets = condition(&patch.body, "SecretsResolved");
    assert_eq!(secrets.reason, "SecretNotFound");
    assert!(
        secrets
            .message
            .contains("sessionStore.redis.passwordSecretRef"),
        "{}",
        secrets.message
    );
}

/// A sidecar's admin port on `ip`:`port` whose `/readyz` names the hash in
/// `serves`, as it stands when asked.
async fn sidecar_admin(ip: &str, port: u16, serves: Arc<std::sync::Mutex<String>>) {
    let listener = tokio::net::TcpListener::bind((ip, port))
        .await
        .expect("the admin port");
    let app = axum::Router::new().route(
        "/readyz",
        axum::routing::get(move || async move {
            let hash = serves.lock().expect("the hash").clone();
            axum::Json(json!({"ready": true, "config": {"hash": hash}}))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
}

#[tokio::test]
async fn the_roll_out_counts_the_pods_serving_the_written_settings_until_all_do() {
    let port = free_port();
    let mut settings = books(&unreachable_provider());
    settings.spec.admin_port = i32::from(port);
    let settings = Arc::new(settings);
    let (ctx, server) = cluster(&settings);
    server.insert(&path::<Secret>(NAMESPACE, "books-oidc"), &client_secret());
    running_pods(
        &server,
        &[("books-a", "127.0.0.1"), ("books-b", "127.0.0.2")],
    );
    let a = Arc::new(std::sync::Mutex::new("older".to_owned()));
    let b = Arc::new(std::sync::Mutex::new("older".to_owned()));
    sidecar_admin("127.0.0.1", port, Arc::clone(&a)).await;
    sidecar_admin("127.0.0.2", port, Arc::clone(&b)).await;
    let rollout = || {
        let written = server.object(&settings_path()).expect("the settings");
        let status: OidcSettingsStatus =
            serde_json::from_value(written["status"].clone()).expect("a status");
        status.rollout.expect("a roll-out in status")
    };

    let action = server
        .within(reconcile(settings.clone(), ctx.clone()))
        .await
        .expect("first reconcile");
    let hash = server
        .object(&generated_config_map())
        .expect("the ConfigMap")["metadata"]["annotations"]["portcullis.dev/config-hash"]
        .as_str()
        .expect("its hash")
        .to_owned();
    let started = rollout();
    assert_eq!(
        (
            started.config_hash.as_str(),
            started.pods,
            started.pods_current
        ),
        (hash.as_str(), 2, 0)
    );
    assert!(
        started.message.contains("books-a, books-b"),
        "{}",
        started.message
    );
    assert_eq!(
        action,
        Action::requeue(spread(super::ROLLOUT_LOOK, "media/books")),
        "an unfinished roll-out is looked at again soon"
    );

    *a.lock().expect("a") = hash.clone();
    server
        .within(reconcile(settings.clone(), ctx.clone()))
        .await
        .expect("second reconcile");
    let halfway = rollout();
    assert_eq!(
        (halfway.pods_current, halfway.completed_at.as_ref()),
        (1, None)
    );
    assert_eq!(halfway.started_at, started.started_at);

    *b.lock().expect("b") = hash.clone();
    let action = server
        .within(reconcile(settings.clone(), ctx.clone()))
        .await
        .expect("third reconcile");
    let done = rollout();
    assert_eq!(done.pods_current, 2);
    assert!(
        done.completed_at.is_some() && done.seconds.is_some(),
        "{done:?}"
    );
    assert_eq!(
        action,
        Action::requeue(spread(ctx.retry, "media/books")),
        "a finished roll-out is left to the usual schedule (a retry: the provider is away)"
    );
}

#[tokio::test]
async fn forward_auth_settings_whose_name_no_service_can_carry_are_refused_naming_the_name() {
    let long = "a-name-long-enough-that-its-service-overflows";
    let mut settings = books(&unreachable_provider());
    settings.metadata.name = Some(long.to_owned());
    settings.spec.forward_auth = Some(crate::crd_forward::ForwardAuthSpec::default());
    settings.spec.trusted_proxies = vec!["10.0.0.0/8".to_owned()];
    let settings = Arc::new(settings);
    let (ctx, server) = cluster(&settings);
    let settings_at = path::<OidcSettings>(NAMESPACE, long);
    server.insert(&path::<Secret>(NAMESPACE, "books-oidc"), &client_secret());

    server
        .within(reconcile(settings.clone(), ctx))
        .await
        .expect("reconciled");

    let patch = server
        .expect(Method::PATCH, &format!("{settings_at}/status"))
        .await;
    let valid = condition(&patch.body, "SpecValid");
    assert_eq!(valid.reason, "InvalidSpec");
    assert!(
        valid
            .message
            .contains("metadata.name: with spec.forwardAuth at most 44 characters"),
        "{}",
        valid.message
    );
    assert!(
        server.writes().iter().all(
            |write| !write.path.contains("/deployments/") && !write.path.contains("/services/")
        ),
        "a Deployment or Service was written"
    );
}
