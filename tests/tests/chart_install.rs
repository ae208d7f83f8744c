//! `helm install`, `helm upgrade` and `helm uninstall` of `charts/portcullis`
//! with Helm 3 and Helm 4 against a real kube-apiserver (its own, so Helm
//! creates the CRD itself). There is no kubelet: the operator never runs, so
//! this proves what Helm does with the objects, not the operator; the
//! operator's part is played by writing the `caBundle` as it does.
//!
//! What the README promises: an upgrade changes values and keeps the
//! `caBundle` the operator wrote; an uninstall removes the operator and its
//! webhook but leaves the CRD and every `OidcSettings`; and the quickstart's
//! own `OidcSettings`, Deployment and Service are accepted as written. The
//! operator binary runs once, to prove the external-certificate mode the
//! chart's cert-manager option sets.

use anyhow::{Context, Result, ensure};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::rbac::v1::ClusterRole;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::wait::conditions;
use portcullis_contract::defaults::DEFAULT_PORT;
use portcullis_e2e::helm::{Helm, chart_dir};
use portcullis_e2e::kube::env::{CRD_NAME, client, ensure_crd, eventually, namespace, wait_for};
use portcullis_e2e::kube::{Cluster, Operator};
use portcullis_e2e::markdown::yaml_blocks;
use portcullis_e2e::process::repo_root;
use portcullis_operator::crd::OidcSettings;
use std::collections::BTreeMap;
use std::path::Path;

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

    // The README quickstart's OidcSettings, Deployment and Service, made
    // while the chart is installed: the API server and the CRD accept them.
    let settings_api: Api<OidcSettings> = Api::namespaced(client.clone(), &namespace);
    eventually("OidcSettings to be served", || async {
        settings_api
            .list(&Default::default())
            .await
            .ok()
            .map(|_| ())
    })
    .await?;
    create_quickstart_objects(client, &namespace).await?;

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

/// The YAML blocks of the README's "Kubernetes quickstart" section.
fn quickstart_yaml() -> Result<Vec<String>> {
    let readme = std::fs::read_to_string(repo_root().join("README.md"))?;
    let start = readme
        .find("## Kubernetes quickstart")
        .context("README has no Kubernetes quickstart")?;
    let section = &readme[start..];
    let section = &section[..section[3..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 3)];
    Ok(yaml_blocks(section))
}

/// Creates the quickstart's objects in `namespace` instead of `media`.
async fn create_quickstart_objects(client: &Client, namespace: &str) -> Result<()> {
    let blocks = quickstart_yaml()?;
    let settings_block = blocks
        .iter()
        .find(|block| block.contains("kind: OidcSettings"))
        .context("no OidcSettings in the quickstart")?;
    let mut settings: OidcSettings = serde_yaml::from_str(settings_block)
        .context("the quickstart's OidcSettings does not parse")?;
    settings.metadata.namespace = Some(namespace.to_owned());
    Api::<OidcSettings>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &settings)
        .await
        .context("the API server refused the quickstart's OidcSettings")?;
    let app_block = blocks
        .iter()
        .find(|block| block.contains("kind: Deployment"))
        .context("no Deployment in the quickstart")?;
    let mut documents = app_block.split("\n---\n");
    let mut deployment: Deployment = serde_yaml::from_str(documents.next().unwrap_or_default())?;
    let mut service: Service = serde_yaml::from_str(documents.next().unwrap_or_default())
        .context("no Service after the quickstart's Deployment")?;
    let labels = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.template.metadata.as_ref())
        .and_then(|meta| meta.labels.clone())
        .unwrap_or_default();
    ensure!(
        labels.get("portcullis.dev/inject") == settings.metadata.name.as_ref(),
        "the quickstart's pod template is not labelled with its OidcSettings"
    );
    let target = service
        .spec
        .as_ref()
        .and_then(|spec| spec.ports.as_ref())
        .and_then(|ports| ports.first())
        .and_then(|port| port.target_port.clone());
    ensure!(
        target == Some(IntOrString::Int(i32::from(DEFAULT_PORT))),
        "the quickstart's Service does not target the sidecar's port by number: {target:?}"
    );
    deployment.metadata.namespace = Some(namespace.to_owned());
    service.metadata.namespace = Some(namespace.to_owned());
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &deployment)
        .await
        .context("the API server refused the quickstart's Deployment")?;
    Api::<Service>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &service)
        .await
        .context("the API server refused the quickstart's Service")?;
    Ok(())
}

/// What the chart's cert-manager mode relies on: with `--webhook-cert-mode
/// external`, the operator serves the certificate someone else wrote into
/// the Secret, in cert-manager's layout (`kubernetes.io/tls`, `tls.crt`,
/// `tls.key` as a SEC1 EC key, `ca.crt`), and becomes ready with it.
#[tokio::test]
async fn operator_serves_a_certificate_written_in_cert_managers_layout() -> Result<()> {
    let client = client().await?;
    ensure_crd(&client).await?;
    let cluster = tokio::task::spawn_blocking(Cluster::shared).await?;
    let namespace = namespace(&client, "external").await?;
    let dir = tempfile::tempdir()?;
    let (cert, key) = self_signed_for_loopback(dir.path())?;
    let secret_name = "portcullis-webhook-tls";
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(secret_name.into()),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(BTreeMap::from([
            ("tls.crt".to_owned(), ByteString(cert.clone().into_bytes())),
            ("tls.key".to_owned(), ByteString(key.into_bytes())),
            ("ca.crt".to_owned(), ByteString(cert.clone().into_bytes())),
        ])),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &secret)
        .await?;
    let args: Vec<String> = [
        "--webhook-cert-mode",
        "external",
        "--webhook-cert-secret",
        secret_name,
        "--webhook-config",
        &format!("portcullis-{namespace}"),
    ]
    .map(String::from)
    .to_vec();
    // Ready only once the webhook serves a certificate.
    let operator =
        Operator::start_with(&cluster.kubeconfig, cluster, &namespace, "external", &args)
            .await
            .context("the operator did not become ready with an external certificate")?;
    let https = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes())?)
        .build()?;
    let response = https
        .get(format!(
            "https://127.0.0.1:{}/mutate",
            operator.webhook_port
        ))
        .send()
        .await
        .with_context(|| {
            format!(
                "TLS with the external certificate failed; operator log:\n{}",
                operator.logs()
            )
        })?;
    ensure!(
        response.status().as_u16() < 500,
        "the webhook answered {}",
        response.status()
    );
    Ok(())
}

/// A SEC1 EC key (cert-manager's default encoding) and a self-signed
/// certificate for 127.0.0.1, made with `openssl`.
fn self_signed_for_loopback(dir: &Path) -> Result<(String, String)> {
    let key = dir.join("tls.key");
    let cert = dir.join("tls.crt");
    let run = |args: &[&str]| -> Result<()> {
        let output = std::process::Command::new("openssl")
            .args(args)
            .output()
            .context("cannot run openssl")?;
        ensure!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    };
    let key_path = key.to_str().context("path")?;
    let cert_path = cert.to_str().context("path")?;
    run(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        key_path,
    ])?;
    // A leaf, not a CA (as cert-manager's self-signed issuer makes it with
    // isCA false), so a client may take it as its own trust anchor.
    let config = dir.join("openssl.cnf");
    std::fs::write(
        &config,
        "[req]\ndistinguished_name = dn\nx509_extensions = leaf\nprompt = no\n\
         [dn]\nCN = portcullis-webhook\n\
         [leaf]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1\n",
    )?;
    let config_path = config.to_str().context("path")?;
    run(&[
        "req",
        "-x509",
        "-config",
        config_path,
        "-key",
        key_path,
        "-out",
        cert_path,
        "-days",
        "1",
    ])?;
    let key = std::fs::read_to_string(&key)?;
    ensure!(
        key.contains("BEGIN EC PRIVATE KEY"),
        "openssl made no SEC1 key"
    );
    Ok((std::fs::read_to_string(&cert)?, key))
}
