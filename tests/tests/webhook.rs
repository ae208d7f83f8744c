//! Sidecar injection on the real API server, with the operator holding exactly
//! the permissions of `deploy/portcullis.yaml` (the chart's).
//!
//! The webhook configuration is that file's, with its `clientConfig` pointed
//! by `url` at the locally running operator; the API server calls it over
//! TLS trusting only the `caBundle` the operator put there. The test
//! namespace enforces the Pod Security `restricted` profile, so every
//! injected pod the API server accepts passed it.

use anyhow::{Context, Result, ensure};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource};
use portcullis_e2e::kube::env::eventually;
use portcullis_e2e::kube::rbac::{manifest, operator_kubeconfig};
use portcullis_e2e::kube::{Cluster, Operator};
use portcullis_e2e::process::{free_port, repo_root};
use portcullis_operator::crd::{OidcSettings, OidcSettingsSpec, SecretKeyRef};
use portcullis_operator::sidecar_container::{SidecarOptions, SidecarPorts, sidecar_container};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const SETTINGS: &str = "books";
const IMAGE: &str = "localhost/portcullis-sidecar:test";
/// The sidecar's ports in these settings: not the defaults, so the test
/// shows the webhook and the NetworkPolicy take them from the spec.
const PORTS: SidecarPorts = SidecarPorts {
    listen: 8000,
    admin: 8001,
};
/// Short enough to see a renewal (after two thirds: 20 s) within the test.
const VALIDITY_SECONDS: u64 = 30;

#[tokio::test]
async fn labelled_pods_get_the_sidecar_fail_closed_with_least_privilege() -> Result<()> {
    let mut env = Env::start().await?;
    let result = env.scenario().await;
    if result.is_err() {
        eprintln!("operator log:\n{}", env.operator.logs());
    }
    result
}

impl Env {
    async fn scenario(&mut self) -> Result<()> {
        self.operator_reconciles_and_leads().await?;
        self.labelled_pod_is_injected_and_passes_restricted()
            .await?;
        self.pre_stop_annotation_is_obeyed().await?;
        self.unlabelled_pod_is_untouched().await?;
        self.missing_settings_are_refused().await?;
        self.admitting_twice_injects_once().await?;
        self.deployment_pods_are_injected().await?;
        self.network_policy_admits_only_the_sidecar().await?;
        self.certificate_renews_without_failed_admissions().await?;
        self.stopped_operator_fails_closed().await
    }

    /// With only the chart's RBAC: generated objects, a Lease, a caBundle.
    async fn operator_reconciles_and_leads(&self) -> Result<()> {
        let name = format!("{SETTINGS}-portcullis");
        eventually("the generated ConfigMap and Secret", || async {
            self.api::<ConfigMap>().get_opt(&name).await.ok()??;
            self.api::<Secret>().get_opt(&name).await.ok()?
        })
        .await?;
        let lease = eventually("a Lease holder", || async {
            let lease = self
                .api::<Lease>()
                .get_opt("portcullis-operator")
                .await
                .ok()??;
            lease.spec?.holder_identity
        })
        .await?;
        assert_eq!(lease, "webhook-test");
        let bundle = self.ca_bundle().await?;
        assert!(bundle.contains("BEGIN CERTIFICATE"), "{bundle}");
        Ok(())
    }

    async fn labelled_pod_is_injected_and_passes_restricted(&self) -> Result<()> {
        // The namespace really enforces `restricted`: a bare container is refused.
        let mut bare = pod("bare", None);
        bare.spec.as_mut().context("spec")?.containers[0].security_context = None;
        let error = self.create(&bare).await.expect_err("restricted refuses it");
        assert!(error.to_string().contains("PodSecurity"), "{error}");

        let created = self.create(&pod("app", Some(SETTINGS))).await?;
        let annotations = created.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(
            annotations
                .get("portcullis.dev/injected")
                .map(String::as_str),
            Some(SETTINGS)
        );
        let spec = created.spec.context("spec")?;
        assert_eq!(
            spec.containers.len(),
            1,
            "no container is added beside the app"
        );
        let pre_stop = spec.containers[0]
            .lifecycle
            .as_ref()
            .and_then(|lifecycle| lifecycle.pre_stop.as_ref())
            .and_then(|pre_stop| pre_stop.sleep.as_ref())
            .context("the app gets a preStop sleep")?;
        assert_eq!(pre_stop.seconds, 5);
        let init = spec.init_containers.context("init containers")?;
        assert_eq!(init.len(), 1);
        let expected = sidecar_container(&options(), PORTS);
        let got = &init[0];
        assert_eq!(got.name, "portcullis");
        assert_eq!(got.image, expected.image);
        assert_eq!(got.image_pull_policy.as_deref(), Some("IfNotPresent"));
        assert_eq!(got.restart_policy.as_deref(), Some("Always"));
        assert_eq!(got.args, expected.args);
        assert_eq!(got.ports, expected.ports);
        assert_eq!(got.resources, expected.resources);
        assert_eq!(got.security_context, expected.security_context);
        assert_eq!(got.volume_mounts, expected.volume_mounts);
        for (probe, path) in [
            (&got.liveness_probe, "/healthz"),
            (&got.readiness_probe, "/readyz"),
        ] {
            let get = probe
                .as_ref()
                .and_then(|p| p.http_get.as_ref())
                .context("probe")?;
            assert_eq!(get.path.as_deref(), Some(path));
            assert_eq!(get.port, IntOrString::String("portcullis-adm".into()));
        }
        let volumes: BTreeMap<String, String> = spec
            .volumes
            .iter()
            .flatten()
            .map(|v| {
                let source = v
                    .config_map
                    .as_ref()
                    .map(|c| format!("ConfigMap {}", c.name))
                    .or_else(|| {
                        v.secret.as_ref().map(|s| {
                            format!("Secret {}", s.secret_name.clone().unwrap_or_default())
                        })
                    })
                    .unwrap_or_default();
                (v.name.clone(), source)
            })
            .collect();
        assert_eq!(volumes["portcullis-config"], "ConfigMap books-portcullis");
        assert_eq!(volumes["portcullis-secret"], "Secret books-portcullis");
        Ok(())
    }

    /// The annotation turns the app's `preStop` sleep off or is refused by name.
    async fn pre_stop_annotation_is_obeyed(&self) -> Result<()> {
        let annotated = |name: &str, value: &str| {
            let mut pod = pod(name, Some(SETTINGS));
            pod.metadata.annotations = Some(BTreeMap::from([(
                "portcullis.dev/app-pre-stop-sleep-seconds".to_owned(),
                value.to_owned(),
            )]));
            pod
        };
        let created = self.create(&annotated("no-sleep", "0")).await?;
        let app = &created.spec.context("spec")?.containers[0];
        assert_eq!(app.lifecycle, None, "annotated 0: no preStop");
        let error = self
            .create(&annotated("bad-sleep", "soon"))
            .await
            .expect_err("refused");
        let message = error.to_string();
        assert!(
            message.contains("portcullis.dev/app-pre-stop-sleep-seconds"),
            "{message}"
        );
        Ok(())
    }

    async fn unlabelled_pod_is_untouched(&self) -> Result<()> {
        let created = self.create(&pod("plain", None)).await?;
        assert_eq!(created.spec.context("spec")?.init_containers, None);
        let annotations = created.metadata.annotations.unwrap_or_default();
        assert!(!annotations.contains_key("portcullis.dev/injected"));
        Ok(())
    }

    async fn missing_settings_are_refused(&self) -> Result<()> {
        let error = self
            .create(&pod("lost", Some("films")))
            .await
            .expect_err("refused");
        let message = error.to_string();
        assert!(message.contains("OidcSettings \"films\""), "{message}");
        assert!(message.contains("does not exist"), "{message}");
        assert!(message.contains("create it first"), "{message}");
        ensure!(self.api::<Pod>().get_opt("lost").await?.is_none());
        Ok(())
    }

    /// A pod read back (already injected) and admitted again keeps one sidecar.
    async fn admitting_twice_injects_once(&self) -> Result<()> {
        let dry = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let once = self
            .api::<Pod>()
            .create(&dry, &pod("twice", Some(SETTINGS)))
            .await?;
        let mut again = once.clone();
        again.metadata.uid = None;
        again.metadata.resource_version = None;
        again.metadata.creation_timestamp = None;
        let twice = self.api::<Pod>().create(&dry, &again).await?;
        for admitted in [&once, &twice] {
            let init = admitted
                .spec
                .as_ref()
                .and_then(|s| s.init_containers.clone())
                .unwrap_or_default();
            assert_eq!(init.iter().filter(|c| c.name == "portcullis").count(), 1);
            let volumes = admitted.spec.as_ref().and_then(|s| s.volumes.clone());
            assert_eq!(volumes.map(|v| v.len()), Some(2));
        }
        ensure!(
            self.api::<Pod>().get_opt("twice").await?.is_none(),
            "dry run stored a pod"
        );
        Ok(())
    }

    /// No ReplicaSet controller runs here: pods are made from the template as it would.
    async fn deployment_pods_are_injected(&self) -> Result<()> {
        let template = pod("unused", Some(SETTINGS));
        let deployment: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "books-app"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "books"}},
                "template": {
                    "metadata": {"labels": {"app": "books", "portcullis.dev/inject": SETTINGS}},
                    "spec": template.spec,
                },
            },
        }))?;
        let deployment = self
            .api::<Deployment>()
            .create(&PostParams::default(), &deployment)
            .await?;
        let template = deployment.spec.context("spec")?.template;
        for _ in 0..2 {
            let pod = Pod {
                metadata: ObjectMeta {
                    generate_name: Some("books-app-7d9f8c-".into()),
                    labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
                    ..ObjectMeta::default()
                },
                spec: template.spec.clone(),
                ..Pod::default()
            };
            let created = self.create(&pod).await?;
            let init = created
                .spec
                .and_then(|s| s.init_containers)
                .unwrap_or_default();
            assert_eq!(init.len(), 1, "{:?}", created.metadata.name);
            assert_eq!(init[0].name, "portcullis");
        }
        Ok(())
    }

    async fn network_policy_admits_only_the_sidecar(&self) -> Result<()> {
        let name = format!("{SETTINGS}-portcullis");
        let policy = eventually("the NetworkPolicy", || async {
            self.api::<NetworkPolicy>().get_opt(&name).await.ok()?
        })
        .await?;
        let spec = policy.spec.context("spec")?;
        let selector = spec.pod_selector.and_then(|s| s.match_labels);
        assert_eq!(
            selector,
            Some(BTreeMap::from([(
                "portcullis.dev/inject".to_owned(),
                SETTINGS.to_owned()
            )]))
        );
        assert_eq!(spec.policy_types, Some(vec!["Ingress".to_owned()]));
        let ingress = spec.ingress.context("ingress")?;
        assert_eq!(ingress.len(), 1);
        let ports: Vec<_> = ingress[0]
            .ports
            .iter()
            .flatten()
            .map(|p| p.port.clone())
            .collect();
        assert_eq!(ports, [Some(IntOrString::Int(PORTS.listen))]);
        // Written once: re-checks leave it alone.
        let version = policy.metadata.resource_version;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let again = self.api::<NetworkPolicy>().get(&name).await?;
        assert_eq!(again.metadata.resource_version, version);
        Ok(())
    }

    /// Pods are admitted all the way through a renewal of the certificate.
    async fn certificate_renews_without_failed_admissions(&self) -> Result<()> {
        let before = self
            .operator
            .metric("portcullis_operator_webhook_certificate_expiry_seconds")
            .await?;
        let started = Instant::now();
        let mut renewed_at = None;
        let mut admitted = 0;
        let dry = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        loop {
            let elapsed = started.elapsed();
            ensure!(
                elapsed < Duration::from_secs(VALIDITY_SECONDS * 2),
                "no renewal within {elapsed:?}"
            );
            let pod = pod(&format!("renewal-{admitted}"), Some(SETTINGS));
            let result = self.api::<Pod>().create(&dry, &pod).await;
            let created = result.with_context(|| {
                format!("admission {admitted} failed, {elapsed:?} into the renewal window")
            })?;
            ensure!(created.spec.and_then(|s| s.init_containers).is_some());
            admitted += 1;
            let now = self
                .operator
                .metric("portcullis_operator_webhook_certificate_expiry_seconds")
                .await?;
            if now > before && renewed_at.is_none() {
                renewed_at = Some(Instant::now());
            }
            // Keep admitting a while after the switch.
            if renewed_at.is_some_and(|at| at.elapsed() > Duration::from_secs(4)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let bundle = self.ca_bundle().await?;
        assert_eq!(
            bundle.matches("BEGIN CERTIFICATE").count(),
            2,
            "the new CA and the one it replaces"
        );
        assert!(admitted > 10, "only {admitted} admissions");
        Ok(())
    }

    async fn stopped_operator_fails_closed(&mut self) -> Result<()> {
        self.operator.stop().await?;
        let error = self
            .create(&pod("closed", Some(SETTINGS)))
            .await
            .expect_err("no webhook, no pod");
        assert!(
            error.to_string().contains("failed calling webhook"),
            "{error}"
        );
        self.create(&pod("open", None)).await?;
        Ok(())
    }
}

// === harness ===

/// A namespace enforcing `restricted`, the RBAC of `deploy/portcullis.yaml`
/// bound to a ServiceAccount, the webhook configuration, an `OidcSettings`,
/// and the operator running with the ServiceAccount's token.
struct Env {
    client: Client,
    namespace: String,
    webhook: String,
    operator: Operator,
}

impl Env {
    async fn start() -> Result<Self> {
        let cluster = tokio::task::spawn_blocking(Cluster::shared).await?;
        let client = admin_client(cluster).await?;
        ensure_crd(&client).await?;
        let namespace = format!("webhook-{}", free_port());
        let webhook = format!("portcullis-{namespace}");
        Api::<Namespace>::all(client.clone())
            .create(
                &PostParams::default(),
                &Namespace {
                    metadata: ObjectMeta {
                        name: Some(namespace.clone()),
                        labels: Some(BTreeMap::from([(
                            "pod-security.kubernetes.io/enforce".to_owned(),
                            "restricted".to_owned(),
                        )])),
                        ..ObjectMeta::default()
                    },
                    ..Namespace::default()
                },
            )
            .await?;
        let kubeconfig =
            operator_kubeconfig(cluster, &client, &namespace, &webhook, |_| {}).await?;
        let args: Vec<String> = [
            "--webhook-config",
            &webhook,
            "--webhook-extra-hosts",
            "127.0.0.1",
            "--webhook-cert-validity-seconds",
            &VALIDITY_SECONDS.to_string(),
            "--webhook-cert-check-seconds",
            "1",
            "--sidecar-image",
            IMAGE,
        ]
        .map(String::from)
        .to_vec();
        let operator =
            Operator::start_with(&kubeconfig, cluster, &namespace, "webhook-test", &args)
                .await
                .context("the operator did not become ready with the RBAC files' permissions")?;
        register_webhook(&client, &namespace, &webhook, operator.webhook_port).await?;
        let env = Self {
            client,
            namespace,
            webhook,
            operator,
        };
        env.create_settings().await?;
        Ok(env)
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    async fn create(&self, pod: &Pod) -> Result<Pod, kube::Error> {
        self.api::<Pod>().create(&PostParams::default(), pod).await
    }

    async fn create_settings(&self) -> Result<()> {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some("books-oidc".into()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(
                "client-secret".to_owned(),
                ByteString(b"not-a-real-secret".to_vec()),
            )])),
            ..Secret::default()
        };
        self.api::<Secret>()
            .create(&PostParams::default(), &secret)
            .await?;
        let spec: OidcSettingsSpec = serde_json::from_value(serde_json::json!({
            // Nothing listens there: the webhook needs the generated objects, not a provider.
            "wellKnownUrl": "http://127.0.0.1:9/.well-known/openid-configuration",
            "clientId": "books",
            "clientSecretRef": SecretKeyRef { name: "books-oidc".into(), key: "client-secret".into() },
            "publicUrl": "https://books.example.com",
            "listenPort": PORTS.listen,
            "adminPort": PORTS.admin,
        }))?;
        self.api::<OidcSettings>()
            .create(&PostParams::default(), &OidcSettings::new(SETTINGS, spec))
            .await?;
        Ok(())
    }

    async fn ca_bundle(&self) -> Result<String> {
        let webhooks: Api<MutatingWebhookConfiguration> = Api::all(self.client.clone());
        let name = &self.webhook;
        eventually("a caBundle", || async {
            let config = webhooks.get(name).await.ok()?;
            let bundle = config.webhooks?.first()?.client_config.ca_bundle.clone()?;
            (!bundle.0.is_empty()).then(|| String::from_utf8_lossy(&bundle.0).into_owned())
        })
        .await
    }
}

/// A pod that passes `restricted` on its own, optionally labelled for injection.
fn pod(name: &str, settings: Option<&str>) -> Pod {
    let mut value = serde_json::json!({
        "metadata": {"name": name, "labels": {"app": "books"}},
        "spec": {"containers": [{
            "name": "app",
            "image": "localhost/books:1",
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": 1000,
                "allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        }]},
    });
    if let Some(settings) = settings {
        value["metadata"]["labels"]["portcullis.dev/inject"] = settings.into();
    }
    serde_json::from_value(value).expect("a valid pod")
}

fn options() -> SidecarOptions {
    SidecarOptions {
        image: IMAGE.into(),
        pull_policy: "IfNotPresent".into(),
        cpu_request: "10m".into(),
        memory_request: "32Mi".into(),
        cpu_limit: None,
        memory_limit: "128Mi".into(),
        app_pre_stop_sleep_seconds: 5,
        image_pull_secrets: Vec::new(),
        env: Vec::new(),
    }
}

/// The webhook configuration of `deploy/portcullis.yaml` pointed by url at the
/// local operator, for this namespace only.
async fn register_webhook(client: &Client, namespace: &str, name: &str, port: u16) -> Result<()> {
    let mut config: MutatingWebhookConfiguration =
        manifest("MutatingWebhookConfiguration", namespace, name)?;
    for webhook in config.webhooks.iter_mut().flatten() {
        webhook.client_config.service = None;
        webhook.client_config.url = Some(format!("https://127.0.0.1:{port}/mutate"));
        let selector = webhook
            .namespace_selector
            .get_or_insert_with(Default::default);
        selector
            .match_expressions
            .get_or_insert_with(Vec::new)
            .push(LabelSelectorRequirement {
                key: "kubernetes.io/metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![namespace.to_owned()]),
            });
    }
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .create(&PostParams::default(), &config)
        .await?;
    Ok(())
}

async fn admin_client(cluster: &Cluster) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(&cluster.kubeconfig)?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

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
    let probe: Api<OidcSettings> = Api::namespaced(client.clone(), "default");
    eventually("OidcSettings to be served", || async {
        probe.list(&Default::default()).await.ok().map(|_| ())
    })
    .await
}
