//! The operator against a real kube-apiserver (and the real test IdP).
//!
//! Each test gets its own namespace and its own operator process (watching
//! only that namespace, with its Lease there); the API server is shared.

use anyhow::{Context, Result, bail};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, ResourceExt};
use portcullis_contract::config::SidecarConfig;
use portcullis_e2e::idp::{CLIENT_ID, CLIENT_SECRET, Idp};
use portcullis_e2e::kube::{Cluster, Operator};
use portcullis_e2e::process::{free_port, repo_root};
use portcullis_e2e::sidecar::reserve_public_url;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use portcullis_operator::crd::{OidcSettings, OidcSettingsSpec, RootAdminSpec, SecretKeyRef};
use portcullis_sidecar::config::Settings;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

const NAME: &str = "books";
const SECRET_NAME: &str = "books-oidc";

#[tokio::test]
async fn crd_is_accepted_and_established() -> Result<()> {
    let client = client().await?;
    ensure_crd(&client).await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let crd = crds.get("oidcsettings.portcullis.dev").await?;
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
async fn valid_settings_produce_a_config_the_sidecar_loads() -> Result<()> {
    let env = Env::start("valid").await?;
    let ready = env.wait_ready().await?;
    assert_eq!(ready.reason, "Reconciled");
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
    assert_eq!(loaded.upstream.as_str(), "http://127.0.0.1:8080/");

    // The generated root password is readable by the admin; only its hash reaches the sidecar.
    let root = env.secrets().get("books-root-admin").await?;
    let password = data(&root)["password"].clone();
    let hash = files["root-password-hash"].trim();
    use argon2::{PasswordHash, PasswordVerifier};
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &PasswordHash::new(hash)?)
        .context("the hash verifies the generated password")?;
    assert!(!files.values().any(|value| value.contains(&password)));
    Ok(())
}

#[tokio::test]
async fn changing_the_client_secret_keeps_the_session_keys() -> Result<()> {
    let env = Env::start("rotate").await?;
    env.wait_ready().await?;
    let before = data(&env.secrets().get("books-portcullis").await?);
    env.put_client_secret("a-new-secret").await?;
    let after = eventually("the new client secret in books-portcullis", || async {
        let after = data(&env.secrets().get("books-portcullis").await.ok()?);
        (after["client-secret"] == "a-new-secret").then_some(after)
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
        reachable.message.contains("connection failed"),
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
    eventually("the leader to apply the change", || async {
        let data = data(&env.secrets().get("books-portcullis").await.ok()?);
        (data["client-secret"] == "changed-once").then_some(())
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
    eventually("the standby to take over and apply the change", || async {
        let data = data(&env.secrets().get("books-portcullis").await.ok()?);
        (data["client-secret"] == "changed-twice").then_some(())
    })
    .await?;
    assert_eq!(standby.metric("portcullis_operator_leader").await?, 1.0);
    Ok(())
}

// === harness ===

/// A namespace with the client Secret, a running IdP, an `OidcSettings` and an operator.
struct Env {
    client: Client,
    namespace: String,
    idp: Idp,
    operator: Operator,
}

impl Env {
    async fn start(prefix: &str) -> Result<Self> {
        Self::start_with(prefix, |_| {}).await
    }

    async fn start_with(prefix: &str, change: impl FnOnce(&mut OidcSettingsSpec)) -> Result<Self> {
        let client = client().await?;
        ensure_crd(&client).await?;
        let namespace = namespace(&client, prefix).await?;
        let (_, public_url) = reserve_public_url();
        let idp = Idp::start(&public_url).await?;
        let mut settings = settings(&idp.well_known_url(), &public_url);
        change(&mut settings.spec);
        let env = Self {
            operator: Operator::start(Cluster::shared(), &namespace, "first").await?,
            client,
            namespace,
            idp,
        };
        env.put_client_secret(CLIENT_SECRET).await?;
        env.settings_api()
            .create(&PostParams::default(), &settings)
            .await?;
        Ok(env)
    }

    fn settings_api(&self) -> Api<OidcSettings> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn config_maps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    async fn put_client_secret(&self, value: &str) -> Result<()> {
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(SECRET_NAME.into()),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(
                "client-secret".to_owned(),
                ByteString(value.as_bytes().to_vec()),
            )])),
            ..Default::default()
        };
        self.secrets()
            .patch(
                SECRET_NAME,
                &PatchParams::apply("test").force(),
                &Patch::Apply(&secret),
            )
            .await?;
        Ok(())
    }

    async fn wait_ready(&self) -> Result<Condition> {
        self.wait_condition("Ready", |c| c.status == "True").await
    }

    async fn wait_condition(
        &self,
        type_: &str,
        accept: impl Fn(&Condition) -> bool,
    ) -> Result<Condition> {
        let found = eventually(&format!("condition {type_}"), || async {
            let settings = self.settings_api().get(NAME).await.ok()?;
            let condition = settings
                .status?
                .conditions
                .into_iter()
                .find(|c| c.type_ == type_)?;
            accept(&condition).then_some(condition)
        })
        .await;
        found.with_context(|| format!("operator log:\n{}", self.operator.logs()))
    }

    /// Events about the `OidcSettings` with this reason.
    async fn events(&self, reason: &str) -> Result<Vec<Event>> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        let all = events.list(&ListParams::default()).await?;
        Ok(all
            .items
            .into_iter()
            .filter(|event| {
                event.reason.as_deref() == Some(reason)
                    && event.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(NAME)
            })
            .collect())
    }

    async fn wait_event(&self, reason: &str) -> Result<Event> {
        let found = eventually(&format!("an Event {reason}"), || async {
            self.events(reason).await.ok()?.into_iter().next()
        })
        .await;
        found.with_context(|| format!("operator log:\n{}", self.operator.logs()))
    }

    async fn resource_versions(&self) -> Result<Vec<(String, String)>> {
        let mut versions = vec![(
            "OidcSettings".to_owned(),
            self.settings_api()
                .get(NAME)
                .await?
                .resource_version()
                .unwrap_or_default(),
        )];
        for name in ["books-portcullis", "books-root-admin", SECRET_NAME] {
            let version = self.secrets().get(name).await?.resource_version();
            versions.push((format!("Secret {name}"), version.unwrap_or_default()));
        }
        let version = self
            .config_maps()
            .get("books-portcullis")
            .await?
            .resource_version();
        versions.push(("ConfigMap".to_owned(), version.unwrap_or_default()));
        Ok(versions)
    }
}

fn settings(well_known_url: &str, public_url: &str) -> OidcSettings {
    OidcSettings::new(
        NAME,
        OidcSettingsSpec {
            well_known_url: well_known_url.to_owned(),
            username_claim: "preferred_username".into(),
            group_claim: "groups".into(),
            scopes: ["openid", "profile", "email"].map(String::from).to_vec(),
            client_id: CLIENT_ID.into(),
            client_secret_ref: SecretKeyRef {
                name: SECRET_NAME.into(),
                key: "client-secret".into(),
            },
            public_url: public_url.to_owned(),
            upstream_port: 8080,
            root_admin: Some(RootAdminSpec {
                username: "root".into(),
                password_secret_ref: None,
            }),
        },
    )
}

async fn client() -> Result<Client> {
    let cluster = tokio::task::spawn_blocking(Cluster::shared).await?;
    let kubeconfig = Kubeconfig::read_from(&cluster.kubeconfig)?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

/// Applies the committed CRD (idempotent) and waits until it is served.
async fn ensure_crd(client: &Client) -> Result<()> {
    let text = std::fs::read_to_string(repo_root().join("crds/oidcsettings.yaml"))?;
    let crd: CustomResourceDefinition = serde_yaml::from_str(&text)?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        "oidcsettings.portcullis.dev",
        &PatchParams::apply("portcullis-tests").force(),
        &Patch::Apply(&crd),
    )
    .await?;
    eventually("the CRD to be established", || async {
        let crd = crds.get("oidcsettings.portcullis.dev").await.ok()?;
        crd.status?
            .conditions?
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
            .then_some(())
    })
    .await?;
    // Established can precede discovery by a moment: wait until the resource is listable.
    let probe: Api<OidcSettings> = Api::namespaced(client.clone(), "default");
    eventually("OidcSettings to be served", || async {
        probe.list(&Default::default()).await.ok().map(|_| ())
    })
    .await
}

async fn namespace(client: &Client, prefix: &str) -> Result<String> {
    let name = format!("{prefix}-{}", free_port());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces
        .create(&PostParams::default(), &namespace)
        .await?;
    Ok(name)
}

fn data(secret: &Secret) -> BTreeMap<String, String> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(key, value)| (key.clone(), String::from_utf8_lossy(&value.0).into_owned()))
        .collect()
}

/// Polls `check` every 200 ms for up to 60 s.
/// How many times these Events happened, repeats included.
fn occurrences(events: &[Event]) -> i32 {
    events
        .iter()
        .map(|event| event.series.as_ref().map_or(1, |series| series.count))
        .sum()
}

async fn eventually<T, F, Fut>(what: &str, check: F) -> Result<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
