//! One test's world on the shared API server: a namespace with the client
//! Secret, a running identity provider, an `OidcSettings` and an operator,
//! and the waits the operator tests need.
//!
//! Waits on an object's state use kube-runtime's `await_condition` (a watch,
//! no polling); only what has no object to watch (Events by reason, an
//! operator's metrics, a resource type becoming listable) is polled, and every
//! wait is bounded by [`WAIT`].

use super::{Cluster, Operator};
use crate::idp::{CLIENT_ID, CLIENT_SECRET, Idp};
use crate::process::{free_port, repo_root};
use crate::sidecar::reserve_public_url;
use anyhow::{Context, Result, bail};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Config, Resource, ResourceExt};
use portcullis_operator::crd::{OidcSettings, OidcSettingsSpec, RootAdminSpec, SecretKeyRef};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

/// The `OidcSettings` every test creates.
pub const NAME: &str = "books";
/// The Secret holding its client secret.
pub const SECRET_NAME: &str = "books-oidc";
/// The name of the CRD.
pub const CRD_NAME: &str = "oidcsettings.portcullis.dev";
/// The longest any wait here may take.
pub const WAIT: Duration = Duration::from_secs(60);
/// How often what cannot be watched is polled.
const POLL: Duration = Duration::from_millis(200);

/// A namespace with the client Secret, a running IdP, an `OidcSettings` and an operator.
///
/// The provider is the test IdP unless the world was started with
/// [`Env::start_at`] for another (Keycloak, Dex).
pub struct Env<P = Idp> {
    /// A client with admin rights.
    pub client: Client,
    /// This test's namespace.
    pub namespace: String,
    /// The identity provider the settings name.
    pub idp: P,
    /// The operator watching the namespace.
    pub operator: Operator,
}

impl Env {
    /// A world with the default settings, in a namespace named after `prefix`.
    pub async fn start(prefix: &str) -> Result<Self> {
        Self::start_with(prefix, |_| {}).await
    }

    /// A world whose settings `change` adjusts before they are created.
    pub async fn start_with(
        prefix: &str,
        change: impl FnOnce(&mut OidcSettingsSpec),
    ) -> Result<Self> {
        let (_, public_url) = reserve_public_url();
        let idp = Idp::start(&public_url).await?;
        let well_known_url = idp.well_known_url();
        Env::start_at(prefix, idp, &well_known_url, &public_url, change).await
    }
}

impl<P> Env<P> {
    /// A world whose settings name the running provider `idp` by its
    /// `well_known_url`, for an app at `public_url`; `change` adjusts the
    /// settings before they are created. The client Secret holds
    /// [`CLIENT_SECRET`], the secret of the client every test provider has.
    pub async fn start_at(
        prefix: &str,
        idp: P,
        well_known_url: &str,
        public_url: &str,
        change: impl FnOnce(&mut OidcSettingsSpec),
    ) -> Result<Self> {
        let client = client().await?;
        ensure_crd(&client).await?;
        let namespace = namespace(&client, prefix).await?;
        let mut settings = settings(well_known_url, public_url);
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

    /// The `OidcSettings` of this namespace.
    pub fn settings_api(&self) -> Api<OidcSettings> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The Secrets of this namespace.
    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The ConfigMaps of this namespace.
    pub fn config_maps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Creates or replaces the client Secret with `value`.
    pub async fn put_client_secret(&self, value: &str) -> Result<()> {
        let secret = Secret {
            metadata: ObjectMeta {
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

    /// Waits until `Ready` is `True`.
    pub async fn wait_ready(&self) -> Result<Condition> {
        self.wait_condition("Ready", |c| c.status == "True").await
    }

    /// Waits until the condition `type_` exists and `accept` takes it.
    pub async fn wait_condition(
        &self,
        type_: &str,
        accept: impl Fn(&Condition) -> bool,
    ) -> Result<Condition> {
        self.wait_condition_within(type_, WAIT, accept).await
    }

    /// [`Self::wait_condition`] within `limit`.
    pub async fn wait_condition_within(
        &self,
        type_: &str,
        limit: Duration,
        accept: impl Fn(&Condition) -> bool,
    ) -> Result<Condition> {
        let find = |settings: &OidcSettings| {
            settings
                .status
                .as_ref()?
                .conditions
                .iter()
                .find(|c| c.type_ == type_ && accept(c))
                .cloned()
        };
        let found = wait_for_within(
            self.settings_api(),
            NAME,
            &format!("condition {type_}"),
            limit,
            |settings: Option<&OidcSettings>| settings.and_then(find).is_some(),
        )
        .await
        .and_then(|settings| find(&settings).context("the condition"));
        found.with_context(|| format!("operator log:\n{}", self.operator.logs()))
    }

    /// Waits until the Secret `name` holds what `accept` takes; returns its data.
    pub async fn wait_secret(
        &self,
        name: &str,
        accept: impl Fn(&BTreeMap<String, String>) -> bool,
    ) -> Result<BTreeMap<String, String>> {
        let secret = wait_for(
            self.secrets(),
            name,
            &format!("Secret {name}"),
            |secret: Option<&Secret>| secret.is_some_and(|secret| accept(&data(secret))),
        )
        .await;
        let secret = secret.with_context(|| format!("operator log:\n{}", self.operator.logs()))?;
        Ok(data(&secret))
    }

    /// Events about the `OidcSettings` with this reason.
    pub async fn events(&self, reason: &str) -> Result<Vec<Event>> {
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

    /// Waits for a first Event with this reason.
    pub async fn wait_event(&self, reason: &str) -> Result<Event> {
        let found = eventually(&format!("an Event {reason}"), || async {
            self.events(reason).await.ok()?.into_iter().next()
        })
        .await;
        found.with_context(|| format!("operator log:\n{}", self.operator.logs()))
    }

    /// The resourceVersion of everything the operator reads or writes.
    pub async fn resource_versions(&self) -> Result<Vec<(String, String)>> {
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

/// The settings every test starts from.
pub fn settings(well_known_url: &str, public_url: &str) -> OidcSettings {
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
            listen_port: 4180,
            admin_port: 9090,
            logout_at_provider: true,
            back_channel_logout: true,
            session: None,
            root_admin: Some(RootAdminSpec {
                username: "root".into(),
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
        },
    )
}

/// An admin client of the shared API server.
pub async fn client() -> Result<Client> {
    let cluster = tokio::task::spawn_blocking(Cluster::shared).await?;
    let kubeconfig = Kubeconfig::read_from(&cluster.kubeconfig)?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

/// Applies the committed CRD (idempotent) and waits until it is served.
pub async fn ensure_crd(client: &Client) -> Result<()> {
    let text = std::fs::read_to_string(repo_root().join("crds/oidcsettings.yaml"))?;
    let crd: CustomResourceDefinition = serde_yaml::from_str(&text)?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        CRD_NAME,
        &PatchParams::apply("portcullis-tests").force(),
        &Patch::Apply(&crd),
    )
    .await?;
    wait_for(
        crds,
        CRD_NAME,
        "the CRD to be established",
        conditions::is_crd_established(),
    )
    .await?;
    // Established can precede discovery by a moment: wait until the resource is listable.
    let probe: Api<OidcSettings> = Api::namespaced(client.clone(), "default");
    eventually("OidcSettings to be served", || async {
        probe.list(&Default::default()).await.ok().map(|_| ())
    })
    .await
}

/// Creates a namespace named `<prefix>-<unique number>`.
pub async fn namespace(client: &Client, prefix: &str) -> Result<String> {
    let name = format!("{prefix}-{}", free_port());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
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

/// A Secret's data as text.
pub fn data(secret: &Secret) -> BTreeMap<String, String> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(key, value)| (key.clone(), String::from_utf8_lossy(&value.0).into_owned()))
        .collect()
}

/// Watches `name` until `condition` holds, within [`WAIT`]; returns the object.
pub async fn wait_for<K>(
    api: Api<K>,
    name: &str,
    what: &str,
    condition: impl kube::runtime::wait::Condition<K>,
) -> Result<K>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    wait_for_within(api, name, what, WAIT, condition).await
}

/// [`wait_for`] with a bound of its own, for what a periodic timer brings.
pub async fn wait_for_within<K>(
    api: Api<K>,
    name: &str,
    what: &str,
    limit: Duration,
    condition: impl kube::runtime::wait::Condition<K>,
) -> Result<K>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    match tokio::time::timeout(limit, await_condition(api, name, condition)).await {
        Ok(Ok(Some(object))) => Ok(object),
        Ok(Ok(None)) => bail!("{name} was deleted while waiting for {what}"),
        Ok(Err(error)) => Err(error).with_context(|| format!("watching for {what}")),
        Err(_) => bail!("timed out after {limit:?} waiting for {what}"),
    }
}

/// Polls `check` every [`POLL`] until it gives a value, within [`WAIT`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> Result<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    crate::poll::eventually(what, WAIT, POLL, check).await
}

/// Asserts that `condition`'s message says each of `words`, naming the
/// first missing one and the whole message.
pub fn assert_says(condition: &Condition, words: &[&str]) {
    for words in words {
        assert!(
            condition.message.contains(words),
            "`{words}` not in the {} condition's message: {}",
            condition.type_,
            condition.message
        );
    }
}
