//! The operator against a real kube-apiserver (and the real test IdP).
//!
//! Each test gets its own namespace and its own operator process (watching
//! only that namespace, with its Lease there); the API server is shared.

use anyhow::{Context, Result};
use argon2::{PasswordHash, PasswordVerifier};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::ClusterRole;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use portcullis_contract::config::SidecarConfig;
use portcullis_e2e::idp::CLIENT_SECRET;
use portcullis_e2e::idp::Idp;
use portcullis_e2e::kube::env::{
    CRD_NAME, Env, NAME, SECRET_NAME, assert_says, client, data, ensure_crd, eventually, namespace,
    settings,
};
use portcullis_e2e::kube::rbac::{apply_cluster_role, cluster_role, operator_kubeconfig};
use portcullis_e2e::kube::{Cluster, Operator};
use portcullis_e2e::process::free_port;
use portcullis_e2e::sidecar::reserve_public_url;
use portcullis_operator::crd::{OidcSettings, SessionSpec};
use portcullis_sidecar::config::Settings;
use portcullis_sidecar::config::hash::config_hash;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test]
async fn crd_is_accepted_and_established() -> Result<()> {
    let client = client().await?;
    ensure_crd(&client).await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let crd = crds.get(CRD_NAME).await?;
    let names = crd.spec.names;
    assert_eq!(names.short_names, Some(vec!["oidcs".to_owned()]));
    Ok(())
}

#[tokio::test]
async fn invalid_settings_are_rejected_with_a_readable_message() -> Result<()> {
    let client = client().await?;
    ensure_crd(&client).await?;
    let namespace = namespace(&client, "invalid").await?;
    let api: Api<OidcSettings> = Api::namespaced(client, &namespace);
    let mut bad = settings(
        "https://sso.example.com/realms/home",
        "https://books.example.com",
    );
    bad.spec.scopes = vec!["profile".into()];
    bad.spec.upstream_port = 0;
    let error = api
        .create(&PostParams::default(), &bad)
        .await
        .expect_err("the API server refuses it");
    let message = error.to_string();
    for expected in [
        "spec.wellKnownUrl",
        "must end with /.well-known/openid-configuration",
        "spec.scopes",
        "must contain openid",
        "spec.upstreamPort",
    ] {
        assert!(message.contains(expected), "`{expected}` not in: {message}");
    }
    Ok(())
}

#[tokio::test]
async fn bad_access_rules_are_rejected_naming_the_rule_by_index() -> Result<()> {
    let client = client().await?;
    ensure_crd(&client).await?;
    let namespace = namespace(&client, "badrules").await?;
    let api: Api<OidcSettings> = Api::namespaced(client, &namespace);
    let mut bad = settings(
        "https://sso.example.com/realms/home/.well-known/openid-configuration",
        "https://books.example.com",
    );
    bad.spec.authorization = serde_json::from_value(serde_json::json!({
        "rules": [
            {"path": "/healthz", "allow": "public"},
            {"path": "/admin//x", "allow": "admin"},
            {"path": "/static/**/x", "methods": ["get"], "allow": "public"},
            {"path": "/%61dmin", "allow": "admin"},
        ],
    }))?;
    let error = api
        .create(&PostParams::default(), &bad)
        .await
        .expect_err("the API server refuses it");
    let message = error.to_string();
    for expected in [
        "spec.authorization.rules[1].path",
        "must not hold empty segments",
        "spec.authorization.rules[2].path",
        "** only the last one",
        "spec.authorization.rules[2].methods",
        "spec.authorization.rules[3].path",
        "must not escape letters",
    ] {
        assert!(message.contains(expected), "`{expected}` not in: {message}");
    }
    assert!(!message.contains("rules[0]"), "{message}");
    let mut good = bad.clone();
    good.metadata.name = Some("good-rules".into());
    good.spec.authorization = serde_json::from_value(serde_json::json!({
        "default": "trusted",
        "rules": [
            {"path": "/healthz", "allow": "public"},
            {"path": "/api/*/items", "methods": ["GET"], "allow": "untrusted"},
            {"path": "/caf%C3%A9/**", "allow": "rootAdmin"},
        ],
    }))?;
    api.create(&PostParams::default(), &good).await?;
    Ok(())
}

#[tokio::test]
async fn a_malformed_group_claim_path_or_an_empty_group_name_is_rejected_naming_the_field()
-> Result<()> {
    let client = client().await?;
    ensure_crd(&client).await?;
    let namespace = namespace(&client, "roles").await?;
    let api: Api<OidcSettings> = Api::namespaced(client, &namespace);
    let mut bad = settings(
        "https://sso.example.com/realms/home/.well-known/openid-configuration",
        "https://books.example.com",
    );
    bad.spec.group_claim = "realm_access..roles".into();
    bad.spec.role_groups = Some(portcullis_operator::crd::RoleGroupsSpec {
        admin: vec!["/".into()],
        trusted: vec!["staff".into()],
    });
    bad.spec.allowed_groups = vec!["  ".into()];
    let message = api
        .create(&PostParams::default(), &bad)
        .await
        .expect_err("the API server refuses it")
        .to_string();
    for expected in [
        "spec.groupClaim",
        "dotted path without empty segments",
        "spec.roleGroups.admin",
        "spec.allowedGroups",
        "each group must be a name",
    ] {
        assert!(message.contains(expected), "`{expected}` not in: {message}");
    }
    let mut good = bad;
    good.spec.group_claim = r"resource_access.https://books\.example\.com.roles".into();
    good.spec.role_groups = Some(portcullis_operator::crd::RoleGroupsSpec {
        admin: vec!["/Platform/Ops".into()],
        trusted: vec!["staff".into()],
    });
    good.spec.allowed_groups = vec!["staff".into()];
    api.create(&PostParams::default(), &good).await?;
    Ok(())
}

#[tokio::test]
async fn valid_settings_produce_a_config_the_sidecar_loads() -> Result<()> {
    let env = Env::start("valid").await?;
    let ready = env.wait_ready().await?;
    assert_eq!(ready.reason, "Reconciled");
    // The test cluster's API server is 1.33 or later: a Service may name
    // the sidecar's port, and no Service is listed to say so.
    let ports = env
        .wait_condition("ServicePortsResolvable", |_| true)
        .await?;
    assert_eq!(
        (ports.status.as_str(), ports.reason.as_str()),
        ("True", "NamedSidecarPortsResolved"),
        "{}",
        ports.message
    );
    let log = std::fs::read_to_string(&env.operator.log)?;
    assert!(
        !log.contains('\u{1b}'),
        "--log-format plain into a file carries no colour codes"
    );
    let settings = env.settings_api().get(NAME).await?;
    let status = settings.status.context("status")?;
    assert_eq!(status.issuer.as_deref(), Some(env.idp.issuer.as_str()));
    assert_eq!(status.observed_generation, settings.metadata.generation);

    let config_map = env.config_maps().get("books-portcullis").await?;
    let secret = env.secrets().get("books-portcullis").await?;
    for meta in [&config_map.metadata, &secret.metadata] {
        let owner = &meta.owner_references.as_ref().context("owner refs")?[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("OidcSettings", NAME)
        );
        let labels = meta.labels.as_ref().context("labels")?;
        assert_eq!(
            labels["app.kubernetes.io/managed-by"],
            "portcullis-operator"
        );
        let annotations = meta.annotations.as_ref().context("annotations")?;
        assert_eq!(annotations["portcullis.dev/config-hash"].len(), 64);
    }

    // What the operator writes, the sidecar reads: parse and validate with the
    // Secret's data standing in for the mounted files.
    let yaml = &config_map.data.as_ref().context("data")?["sidecar.yaml"];
    let config = SidecarConfig::from_yaml(yaml)?;
    let files = data(&secret);
    let loaded = Settings::from_config(&config, |path| {
        let key = path
            .strip_prefix("/etc/portcullis/secret")
            .map_err(std::io::Error::other)?;
        files
            .get(key.to_str().unwrap_or_default())
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such key"))
    })
    .map_err(|problems| anyhow::anyhow!("{problems}"))?;
    assert_eq!(loaded.oidc.client_secret.expose(), CLIENT_SECRET);
    // A sidecar with these files mounted reports the hash the annotation carries.
    let served = config_hash(yaml, &config, |path| {
        let key = path
            .strip_prefix("/etc/portcullis/secret")
            .map_err(std::io::Error::other)?;
        files
            .get(key.to_str().unwrap_or_default())
            .map(|value| value.clone().into_bytes())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such key"))
    });
    let annotations = config_map
        .metadata
        .annotations
        .as_ref()
        .context("annotations")?;
    assert_eq!(annotations["portcullis.dev/config-hash"], served);
    let upstream = loaded
        .door
        .upstream()
        .expect("the operator's sidecar proxies");
    assert_eq!(upstream.url.as_str(), "http://127.0.0.1:8080/");

    // The generated root password is readable by the admin; only its hash reaches the sidecar.
    let root = env.secrets().get("books-root-admin").await?;
    let password = data(&root)["password"].clone();
    let hash = files["root-password-hash"].trim();
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &PasswordHash::new(hash)?)
        .context("the hash verifies the generated password")?;
    assert!(!files.values().any(|value| value.contains(&password)));

    // So is the enrolment code: its hash is the sidecar's, the code the admin's.
    let enrolment = data(&env.secrets().get("books-enrolment").await?);
    let code = &enrolment["code"];
    let code_hash = files["enrolment-code-hash"].trim();
    assert!(portcullis_contract::enrolment::code_matches(
        code, code_hash
    ));
    assert!(!files.values().any(|value| value.contains(code.as_str())));
    Ok(())
}

#[tokio::test]
async fn deleting_the_enrolment_code_makes_a_new_one_and_its_hash() -> Result<()> {
    let env = Env::start("enrol").await?;
    env.wait_ready().await?;
    let used = data(&env.secrets().get("books-enrolment").await?)["code"].clone();
    env.secrets()
        .delete("books-enrolment", &Default::default())
        .await?;
    let after = env
        .wait_secret("books-portcullis", |data| {
            data.get("enrolment-code-hash")
                .is_some_and(|hash| !portcullis_contract::enrolment::code_matches(&used, hash))
        })
        .await?;
    let fresh = data(&env.secrets().get("books-enrolment").await?)["code"].clone();
    assert_ne!(fresh, used);
    assert!(portcullis_contract::enrolment::code_matches(
        &fresh,
        &after["enrolment-code-hash"]
    ));
    Ok(())
}

#[tokio::test]
async fn changing_the_client_secret_keeps_the_session_keys() -> Result<()> {
    let env = Env::start("rotate").await?;
    env.wait_ready().await?;
    let before = data(&env.secrets().get("books-portcullis").await?);
    env.put_client_secret("a-new-secret").await?;
    let after = env
        .wait_secret("books-portcullis", |data| {
            data.get("client-secret").map(String::as_str) == Some("a-new-secret")
        })
        .await?;
    assert_eq!(after["session-keys"], before["session-keys"]);
    assert_eq!(after["root-password-hash"], before["root-password-hash"]);
    Ok(())
}

#[tokio::test]
async fn missing_secret_is_reported_and_nothing_generated_is_deleted() -> Result<()> {
    let env = Env::start("missing").await?;
    env.wait_ready().await?;
    let before = data(&env.secrets().get("books-portcullis").await?);
    env.secrets()
        .delete(SECRET_NAME, &DeleteParams::default())
        .await?;
    let ready = env.wait_condition("Ready", |c| c.status == "False").await?;
    assert_eq!(ready.reason, "SecretNotFound");
    assert!(ready.message.contains(SECRET_NAME), "{}", ready.message);
    let after = data(&env.secrets().get("books-portcullis").await?);
    assert_eq!(after, before);
    env.config_maps().get("books-portcullis").await?;
    env.secrets().get("books-root-admin").await?;
    let warning = env.wait_event("SecretNotFound").await?;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    assert!(
        warning
            .note
            .as_deref()
            .unwrap_or_default()
            .contains(SECRET_NAME),
        "{warning:?}"
    );

    // Putting it back heals it, and says so: a second Reconciled occurrence
    // (the Recorder counts repeats in the Event's series).
    env.put_client_secret(CLIENT_SECRET).await?;
    env.wait_ready().await?;
    eventually("a second Reconciled Event", || async {
        let events = env.events("Reconciled").await.ok()?;
        (occurrences(&events) >= 2).then_some(())
    })
    .await?;
    // Each transition is told once, not once per reconcile.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(occurrences(&env.events("SecretNotFound").await?), 1);
    assert_eq!(occurrences(&env.events("Reconciled").await?), 2);
    Ok(())
}

#[tokio::test]
async fn unreachable_provider_is_reported_in_status() -> Result<()> {
    let env = Env::start_with("unreachable", |spec| {
        spec.well_known_url = format!(
            "http://127.0.0.1:{}/.well-known/openid-configuration",
            free_port()
        );
    })
    .await?;
    let reachable = env
        .wait_condition("ProviderReachable", |c| c.status == "False")
        .await?;
    assert_eq!(reachable.reason, "DiscoveryUnreachable");
    assert!(
        reachable.message.ends_with(": connection refused"),
        "{}",
        reachable.message
    );
    let ready = env.wait_condition("Ready", |_| true).await?;
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "DiscoveryUnreachable")
    );
    // The sidecar still gets its config: the backup login works without the provider.
    env.config_maps().get("books-portcullis").await?;
    Ok(())
}

#[tokio::test]
async fn restarting_the_operator_writes_nothing_new() -> Result<()> {
    let mut env = Env::start("restart").await?;
    env.wait_ready().await?;
    // Let the first reconciles settle, then record every resourceVersion.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let versions = env.resource_versions().await?;
    env.operator.stop().await?;
    let operator = Operator::start(Cluster::shared(), &env.namespace, "second").await?;
    eventually("the new operator to reconcile", || async {
        (operator
            .metric("portcullis_operator_reconcile_runs_total")
            .await
            .ok()?
            >= 1.0)
            .then_some(())
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        env.resource_versions().await?,
        versions,
        "{}",
        operator.logs()
    );
    Ok(())
}

#[tokio::test]
async fn two_operators_never_both_reconcile() -> Result<()> {
    let mut env = Env::start("leader").await?;
    env.wait_ready().await?;
    let standby = Operator::start(Cluster::shared(), &env.namespace, "standby").await?;
    // Changes while the first one leads are handled by it alone.
    env.put_client_secret("changed-once").await?;
    env.wait_secret("books-portcullis", |data| {
        data.get("client-secret").map(String::as_str) == Some("changed-once")
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        env.operator.metric("portcullis_operator_leader").await?,
        1.0
    );
    assert_eq!(standby.metric("portcullis_operator_leader").await?, 0.0);
    assert_eq!(
        standby
            .metric("portcullis_operator_reconcile_runs_total")
            .await?,
        0.0,
        "{}",
        standby.logs()
    );
    // When the leader stops, the standby takes over and reconciles.
    env.operator.stop().await?;
    env.put_client_secret("changed-twice").await?;
    env.wait_secret("books-portcullis", |data| {
        data.get("client-secret").map(String::as_str) == Some("changed-twice")
    })
    .await?;
    assert_eq!(standby.metric("portcullis_operator_leader").await?, 1.0);
    Ok(())
}

/// How many times these Events happened, repeats included.
fn occurrences(events: &[Event]) -> i32 {
    events
        .iter()
        .map(|event| event.series.as_ref().map_or(1, |series| series.count))
        .sum()
}

#[tokio::test]
async fn urls_that_do_not_parse_are_rejected_at_apply() -> Result<()> {
    let client = client().await?;
    ensure_crd(&client).await?;
    let namespace = namespace(&client, "badurl").await?;
    let api: Api<OidcSettings> = Api::namespaced(client, &namespace);
    for public_url in ["http://10.250.0.1:99999", "https://exa mple.com"] {
        let bad = settings(
            "https://sso.example.com/realms/home/.well-known/openid-configuration",
            public_url,
        );
        let error = api
            .create(&PostParams::default(), &bad)
            .await
            .expect_err(public_url);
        let message = error.to_string();
        assert!(
            message.contains("spec.publicUrl"),
            "{public_url}: {message}"
        );
    }
    let mut long = settings(
        "https://sso.example.com/realms/home/.well-known/openid-configuration",
        "https://books.example.com",
    );
    long.metadata.name = Some("b".repeat(53));
    let message = api
        .create(&PostParams::default(), &long)
        .await
        .expect_err("too long")
        .to_string();
    // The field is named (the API server may add a line of its own about
    // rules it skipped on an invalid object).
    assert!(
        message.contains("metadata.name: Too long: may not be more than 52"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn a_spec_the_sidecar_refuses_is_reported_and_not_written() -> Result<()> {
    // Passes the CRD's rules (Kubernetes' URL parser takes it), but the
    // sidecar's parser refuses an IPv4 address with a part above 255.
    let env = Env::start_with("refused", |spec| {
        spec.public_url = "http://10.250.0.999".into();
    })
    .await?;
    let ready = env
        .wait_condition("Ready", |c| c.reason == "InvalidSpec")
        .await?;
    assert_eq!(ready.status, "False");
    assert!(ready.message.contains("publicUrl"), "{}", ready.message);
    let valid = env.wait_condition("SpecValid", |_| true).await?;
    assert_eq!(valid.status, "False");
    assert!(
        env.config_maps()
            .get_opt("books-portcullis")
            .await?
            .is_none(),
        "a config the sidecar refuses is never written"
    );
    env.wait_event("InvalidSpec").await?;
    Ok(())
}

#[tokio::test]
async fn ports_cookie_names_and_lifetimes_come_from_the_spec() -> Result<()> {
    let env = Env::start("fields").await?;
    env.wait_ready().await?;
    let mut films = settings(&env.idp.well_known_url(), "https://films.example.com");
    films.metadata.name = Some("films".into());
    films.spec.listen_port = 8000;
    films.spec.admin_port = 8001;
    films.spec.logout_at_provider = false;
    films.spec.session = Some(SessionSpec {
        fallback_lifetime_seconds: Some(600),
        ..SessionSpec::default()
    });
    if let Some(root) = films.spec.root_admin.as_mut() {
        root.session_lifetime_seconds = Some(900);
    }
    env.settings_api()
        .create(&PostParams::default(), &films)
        .await?;
    let env = &env;
    let read = |name: &'static str| async move {
        let config_map = eventually(&format!("ConfigMap {name}-portcullis"), || async {
            env.config_maps()
                .get_opt(&format!("{name}-portcullis"))
                .await
                .ok()?
        })
        .await?;
        let yaml = config_map
            .data
            .as_ref()
            .and_then(|data| data.get("sidecar.yaml"))
            .context("sidecar.yaml")?;
        anyhow::Ok(SidecarConfig::from_yaml(yaml)?)
    };
    let books = read("books").await?;
    let films = read("films").await?;
    // Two apps on one host never share a session cookie.
    assert_eq!(books.session.cookie_name, "portcullis_books");
    assert_eq!(films.session.cookie_name, "portcullis_films");
    assert_eq!(
        (books.listen.as_str(), books.admin_listen.as_str()),
        ("0.0.0.0:4180", "0.0.0.0:9090")
    );
    assert_eq!(
        (films.listen.as_str(), films.admin_listen.as_str()),
        ("0.0.0.0:8000", "0.0.0.0:8001")
    );
    assert!(books.oidc.logout_at_provider);
    assert!(!films.oidc.logout_at_provider);
    assert_eq!(films.session.fallback_lifetime_seconds, 600);
    assert_eq!(
        films.root_admin.map(|root| root.session_lifetime_seconds),
        Some(900)
    );
    Ok(())
}

#[tokio::test]
async fn a_missing_permission_is_reported_in_status() -> Result<()> {
    let cluster = tokio::task::spawn_blocking(Cluster::shared).await?;
    let client = client().await?;
    ensure_crd(&client).await?;
    let namespace = namespace(&client, "forbidden").await?;
    let webhook = format!("portcullis-{namespace}");
    // The RBAC files, but without `create` on ConfigMaps: the server-side
    // apply that creates the generated ConfigMap is refused with 403.
    let without_create = |role: &mut ClusterRole| {
        for rule in role.rules.iter_mut().flatten() {
            if rule.resources.iter().flatten().any(|r| r == "configmaps") {
                rule.verbs.retain(|verb| verb != "create");
            }
        }
    };
    let kubeconfig =
        operator_kubeconfig(cluster, &client, &namespace, &webhook, without_create).await?;
    let (_, public_url) = reserve_public_url();
    let idp = Idp::start(&public_url).await?;
    let args = ["--webhook-config".to_owned(), webhook.clone()];
    let operator =
        Operator::start_with(&kubeconfig, cluster, &namespace, "forbidden", &args).await?;
    let env = Env {
        client: client.clone(),
        namespace: namespace.clone(),
        operator,
        idp,
    };
    env.put_client_secret(CLIENT_SECRET).await?;
    env.settings_api()
        .create(
            &PostParams::default(),
            &settings(&env.idp.well_known_url(), &public_url),
        )
        .await?;
    let ready = env
        .wait_condition("Ready", |c| c.reason == "Forbidden")
        .await?;
    assert_eq!(ready.status, "False");
    assert_says(&ready, &["configmaps", "forbidden", "create"]);
    let warning = env.wait_event("Forbidden").await?;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));

    // Granting the permission heals it without a restart (the error is retried).
    apply_cluster_role(&client, &cluster_role(&namespace, &webhook)?).await?;
    env.wait_ready().await?;
    assert_eq!(occurrences(&env.events("Forbidden").await?), 1);
    Ok(())
}

/// Deletes the `OidcSettings` and applies it again as it was (a GitOps
/// re-sync), running `while_gone` in between (what garbage collection
/// would do, which this API server alone does not run).
async fn delete_and_reapply<F, Fut>(env: &Env, while_gone: F) -> Result<()>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let settings_api = env.settings_api();
    let applied = settings_api.get(NAME).await?;
    settings_api.delete(NAME, &DeleteParams::default()).await?;
    eventually("the OidcSettings to be gone", || async {
        settings_api
            .get_opt(NAME)
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await?;
    while_gone().await?;
    let mut again = OidcSettings::new(NAME, applied.spec.clone());
    again.metadata.namespace = None;
    settings_api.create(&PostParams::default(), &again).await?;
    Ok(())
}

#[tokio::test]
async fn the_session_keys_survive_reapply_and_change_only_when_both_secrets_go() -> Result<()> {
    let env = Env::start("keys").await?;
    env.wait_ready().await?;
    let keys = data(&env.secrets().get("books-portcullis").await?)["session-keys"].clone();
    let kept = env.secrets().get("books-keys").await?;
    assert_eq!(kept.metadata.owner_references, None, "not owned");
    assert_eq!(data(&kept)["session-keys"].trim(), keys.trim());

    // Delete and re-apply (a GitOps re-sync); garbage collection takes the
    // owned generated Secret, which this API server alone does not run.
    delete_and_reapply(&env, || async {
        env.secrets()
            .delete("books-portcullis", &DeleteParams::default())
            .await?;
        Ok(())
    })
    .await?;
    let generated = env
        .wait_secret("books-portcullis", |data| data.contains_key("session-keys"))
        .await?;
    assert_eq!(
        generated["session-keys"], keys,
        "the same keys: nobody is logged out"
    );

    // Rotating on purpose: both Secrets deleted.
    for name in ["books-keys", "books-portcullis"] {
        env.secrets().delete(name, &DeleteParams::default()).await?;
    }
    let rotated = env
        .wait_secret("books-portcullis", |data| {
            data.get("session-keys").is_some_and(|new| *new != keys)
        })
        .await?;
    assert_eq!(
        data(&env.secrets().get("books-keys").await?)["session-keys"].trim(),
        rotated["session-keys"].trim()
    );
    Ok(())
}

#[tokio::test]
async fn the_generated_root_password_survives_reapply_and_goes_when_replaced() -> Result<()> {
    let env = Env::start("rootpw").await?;
    env.wait_ready().await?;
    let root = env.secrets().get("books-root-admin").await?;
    assert_eq!(
        root.metadata.owner_references, None,
        "not owned, so garbage collection never takes it"
    );
    let password = data(&root)["password"].clone();

    // Delete and re-apply (a GitOps re-sync): the same password serves.
    delete_and_reapply(&env, || async { Ok(()) }).await?;
    let settings_api = env.settings_api();
    let uid = eventually("the new OidcSettings", || async {
        settings_api.get(NAME).await.ok()?.metadata.uid
    })
    .await?;
    let generated = env
        .wait_secret("books-portcullis", |data| {
            data.contains_key("client-secret")
        })
        .await?;
    env.wait_condition("Ready", |c| c.status == "True").await?;
    assert_eq!(
        data(&env.secrets().get("books-root-admin").await?)["password"],
        password
    );
    let hash = PasswordHash::new(generated["root-password-hash"].trim())?;
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .context("the sidecar's hash is still the kept password's")?;

    // One made by an earlier version, owned by its OidcSettings, is let go.
    let owned = json!({"metadata": {"ownerReferences": [{
        "apiVersion": "portcullis.dev/v1alpha1", "kind": "OidcSettings",
        "name": NAME, "uid": uid, "controller": true,
    }]}});
    env.secrets()
        .patch(
            "books-root-admin",
            &PatchParams::default(),
            &Patch::Merge(&owned),
        )
        .await?;
    eventually("the owner reference to be removed", || async {
        let secret = env.secrets().get("books-root-admin").await.ok()?;
        secret.metadata.owner_references.is_none().then_some(())
    })
    .await?;

    // Naming a password of one's own deletes the generated one.
    env.secrets()
        .create(
            &PostParams::default(),
            &Secret {
                metadata: ObjectMeta {
                    name: Some("books-root".into()),
                    ..ObjectMeta::default()
                },
                string_data: Some(BTreeMap::from([(
                    "password".to_owned(),
                    "a password of our own".to_owned(),
                )])),
                ..Secret::default()
            },
        )
        .await?;
    let reference = json!({"spec": {"rootAdmin": {
        "passwordSecretRef": {"name": "books-root", "key": "password"}
    }}});
    settings_api
        .patch(NAME, &PatchParams::default(), &Patch::Merge(&reference))
        .await?;
    eventually("the unused generated password to be deleted", || async {
        env.secrets()
            .get_opt("books-root-admin")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await?;
    env.wait_ready().await?;
    Ok(())
}

/// The loaded sidecar settings of the generated ConfigMap and Secret data.
fn load_generated(yaml: &str, files: &BTreeMap<String, String>) -> Result<Settings> {
    let config = SidecarConfig::from_yaml(yaml)?;
    Settings::from_config(&config, |path| {
        let key = path
            .strip_prefix("/etc/portcullis/secret")
            .map_err(std::io::Error::other)?;
        files
            .get(key.to_str().unwrap_or_default())
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such key"))
    })
    .map_err(|problems| anyhow::anyhow!("{problems}"))
}

#[tokio::test]
async fn signed_identity_gets_a_key_in_the_secret_that_is_kept_through_a_rotation() -> Result<()> {
    let env = Env::start("identity").await?;
    env.wait_ready().await?;
    let before = data(&env.secrets().get("books-portcullis").await?);
    assert!(
        !before.contains_key("identity-keys"),
        "no key until asked for"
    );

    // A header name the sidecar would refuse is refused at apply, naming the field.
    let bad = json!({"spec": {"signedIdentity": {"headerName": "X Identity"}}});
    let refused = env
        .settings_api()
        .patch(NAME, &PatchParams::default(), &Patch::Merge(&bad))
        .await
        .expect_err("refused");
    assert!(
        refused.to_string().contains("signedIdentity.headerName"),
        "{refused}"
    );

    let on = json!({"spec": {"signedIdentity": {"lifetimeSeconds": 30}}});
    env.settings_api()
        .patch(NAME, &PatchParams::default(), &Patch::Merge(&on))
        .await?;
    let files = env
        .wait_secret("books-portcullis", |data| {
            data.contains_key("identity-keys")
        })
        .await?;
    assert_eq!(files["session-keys"], before["session-keys"]);
    let config_map = eventually("the config with signedIdentity", || async {
        let config_map = env.config_maps().get_opt("books-portcullis").await.ok()??;
        let yaml = config_map.data.as_ref()?.get("sidecar.yaml")?;
        yaml.contains("signedIdentity").then(|| yaml.clone())
    })
    .await?;
    let loaded = load_generated(&config_map, &files)?;
    let identity = loaded.signed_identity.context("signed identity on")?;
    assert_eq!(identity.lifetime_seconds, 30);
    assert_eq!(identity.header.as_str(), "x-portcullis-identity");
    assert_eq!(identity.keys.published().len(), 1);
    let first_kid = identity.keys.kid().to_owned();

    // Rotation by hand: a new key first, the old one kept below it.
    let new_key = portcullis_contract::identity_keys::generate_identity_key_line()?;
    let rotated = format!("{new_key}\n{}", files["identity-keys"]);
    env.secrets()
        .patch(
            "books-portcullis",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"identity-keys": rotated}})),
        )
        .await?;
    // Any later reconcile keeps the rotated keys as they are.
    env.put_client_secret("a-new-secret").await?;
    let after = env
        .wait_secret("books-portcullis", |data| {
            data.get("client-secret").map(String::as_str) == Some("a-new-secret")
        })
        .await?;
    assert_eq!(after["identity-keys"].trim_end(), rotated.trim_end());
    let kept = eventually("the kept keys to follow the rotation", || async {
        let kept = env.secrets().get("books-keys").await.ok()?;
        let keys = data(&kept).get("identity-keys")?.clone();
        (keys.trim_end() == rotated.trim_end()).then_some(keys)
    })
    .await?;
    assert!(!kept.is_empty());
    let identity = load_generated(&config_map, &after)?
        .signed_identity
        .context("signed identity on")?;
    assert_eq!(identity.keys.published().len(), 2);
    assert_eq!(
        identity.keys.published()[1],
        first_kid,
        "the old key stays published"
    );
    assert_ne!(identity.keys.kid(), first_kid, "the new key signs");
    Ok(())
}

#[tokio::test]
async fn a_provider_outage_and_its_recovery_show_in_status_with_nothing_changed() -> Result<()> {
    // The operator runs with its default re-check of ready resources.
    let mut env = Env::start("outage").await?;
    env.wait_ready().await?;
    let limit = Duration::from_secs(120);
    env.idp.stop().await;
    let stopped = std::time::Instant::now();
    let down = env
        .wait_condition_within("ProviderReachable", limit, |c| c.status == "False")
        .await?;
    eprintln!("the outage showed in status after {:?}", stopped.elapsed());
    assert_says(&down, &["connection refused"]);
    env.idp.restart().await?;
    let restarted = std::time::Instant::now();
    env.wait_condition_within("ProviderReachable", limit, |c| c.status == "True")
        .await?;
    eprintln!(
        "the recovery showed in status after {:?}",
        restarted.elapsed()
    );
    Ok(())
}
