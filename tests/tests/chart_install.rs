//! `helm install`, `helm upgrade` and `helm uninstall` of `charts/portcullis`
//! with Helm 3 and Helm 4 against a real kube-apiserver (its own, so Helm
//! creates the CRD itself). There is no kubelet: the operator never runs, so
//! this proves what Helm does with the objects, not the operator; the
//! operator's part is played by writing the `caBundle` as it does.
//!
//! What the README promises: an upgrade changes values and keeps the
//! `caBundle` the operator wrote; an uninstall removes the operator and its
//! webhook but leaves the CRD and every `OidcSettings`.

use anyhow::{Context, Result, ensure};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::ClusterRole;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, PostParams};
use kube::runtime::wait::conditions;
use portcullis_e2e::helm::{Helm, chart_dir};
use portcullis_e2e::kube::Cluster;
use portcullis_e2e::kube::env::{CRD_NAME, client, eventually, namespace, settings, wait_for};
use portcullis_operator::crd::OidcSettings;

/// What the operator would write into the `caBundle`.
const CA_BUNDLE: &[u8] = b"-----BEGIN CERTIFICATE-----\nnot a real CA\n-----END CERTIFICATE-----\n";

#[tokio::test]
async fn helm_install_upgrade_and_uninstall_behave_as_the_readme_says() -> Result<()> {
    let client = client().await?;
    let cluster = tokio::task::spawn_blocking(Cluster::shared).await?;
    let kubeconfig = cluster
        .kubeconfig
        .to_str()
        .context("kubeconfig path is not UTF-8")?
        .to_owned();
    // One after the other: the first install creates the CRD, the second finds it.
    for helm in Helm::all() {
        lifecycle(&helm, &client, &kubeconfig)
            .await
            .with_context(|| format!("helm {}", helm.version))?;
    }
    Ok(())
}

async fn lifecycle(helm: &Helm, client: &Client, kubeconfig: &str) -> Result<()> {
    let namespace = namespace(client, &format!("chart-{}", helm.major())).await?;
    let release = format!("{}-release", helm.major());
    let fullname = format!("{release}-portcullis");
    let chart = chart_dir().to_str().context("chart path")?.to_owned();
    let base = [
        "--kubeconfig",
        kubeconfig,
        "--namespace",
        namespace.as_str(),
    ];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(base.iter())
            .map(|arg| (*arg).to_owned())
            .collect()
    };
    let run = |args: Vec<String>| {
        let helm = helm.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                helm.run_ok(&args)
            })
            .await?
        }
    };

    run(with(&["install", &release, &chart])).await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    wait_for(
        crds.clone(),
        CRD_NAME,
        "the CRD Helm installed to be established",
        conditions::is_crd_established(),
    )
    .await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let operator = format!("{fullname}-operator");
    let deployment = deployments.get(&operator).await?;
    ensure!(
        deployment.spec.and_then(|s| s.replicas) == Some(1),
        "one replica by default"
    );
    let webhooks: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let mut config = webhooks.get(&fullname).await?;

    // An OidcSettings made while the chart is installed.
    let settings_api: Api<OidcSettings> = Api::namespaced(client.clone(), &namespace);
    let settings = settings(
        "https://sso.example.com/.well-known/openid-configuration",
        "https://books.example.com",
    );
    eventually("OidcSettings to be served", || async {
        settings_api
            .list(&Default::default())
            .await
            .ok()
            .map(|_| ())
    })
    .await?;
    settings_api
        .create(&PostParams::default(), &settings)
        .await?;

    // The operator writes the caBundle (a plain update, as it does).
    for webhook in config.webhooks.iter_mut().flatten() {
        webhook.client_config.ca_bundle = Some(ByteString(CA_BUNDLE.to_vec()));
    }
    webhooks
        .replace(&fullname, &PostParams::default(), &config)
        .await?;

    run(with(&[
        "upgrade",
        &release,
        &chart,
        "--reuse-values",
        "--set",
        "replicaCount=2",
        "--set",
        "webhook.timeoutSeconds=7",
    ]))
    .await?;
    let deployment = deployments.get(&operator).await?;
    ensure!(
        deployment.spec.and_then(|s| s.replicas) == Some(2),
        "the upgrade set two replicas"
    );
    let config = webhooks.get(&fullname).await?;
    let webhook = config
        .webhooks
        .and_then(|w| w.into_iter().next())
        .context("a webhook")?;
    ensure!(
        webhook.timeout_seconds == Some(7),
        "the upgrade set the timeout"
    );
    ensure!(
        webhook.client_config.ca_bundle == Some(ByteString(CA_BUNDLE.to_vec())),
        "the upgrade dropped the caBundle the operator wrote"
    );
    ensure!(webhook.failure_policy.as_deref() == Some("Fail"));

    run(with(&["uninstall", &release])).await?;
    let cluster_roles: Api<ClusterRole> = Api::all(client.clone());
    eventually("the release's objects to be gone", || async {
        let gone = deployments.get_opt(&operator).await.ok()?.is_none()
            && webhooks.get_opt(&fullname).await.ok()?.is_none()
            && cluster_roles.get_opt(&operator).await.ok()?.is_none();
        gone.then_some(())
    })
    .await?;
    ensure!(
        crds.get_opt(CRD_NAME).await?.is_some(),
        "helm uninstall deleted the CRD"
    );
    ensure!(
        settings_api.get_opt("books").await?.is_some(),
        "helm uninstall deleted an OidcSettings"
    );
    Ok(())
}
