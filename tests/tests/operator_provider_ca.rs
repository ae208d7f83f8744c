//! The operator and a provider behind a private CA, against a real
//! kube-apiserver: the provider check names the untrusted certificate,
//! `spec.caBundle` from a ConfigMap makes it trusted, and what the bundle
//! holds reaches the sidecar's Secret and is checked before it is written.

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use portcullis_contract::config::SidecarConfig;
use portcullis_e2e::certificate::TestCertificate;
use portcullis_e2e::idp::Idp;
use portcullis_e2e::kube::env::{Env, NAME, assert_says, data};
use portcullis_e2e::sidecar::reserve_public_url;
use serde_json::json;
use std::collections::BTreeMap;

const BUNDLE_MAP: &str = "company-roots";
const BUNDLE_KEY: &str = "ca.crt";

fn bundle_map(pem: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(BUNDLE_MAP.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(BUNDLE_KEY.into(), pem.into())])),
        ..ConfigMap::default()
    }
}

#[tokio::test]
async fn a_provider_behind_a_private_ca_is_reachable_once_its_bundle_is_named() -> Result<()> {
    let certificate = TestCertificate::issue()?;
    let (_, public_url) = reserve_public_url();
    let idp = Idp::start_tls(&public_url, &certificate).await?;
    let well_known_url = idp.well_known_url();
    let env = Env::start_at("private-ca", idp, &well_known_url, &public_url, |_| {}).await?;

    let untrusted = env
        .wait_condition("ProviderReachable", |c| c.status == "False")
        .await?;
    assert_says(
        &untrusted,
        &["not signed by a CA trusted here", "spec.caBundle"],
    );

    let name_bundle = json!({"spec": {"caBundle": {
        "configMapRef": {"name": BUNDLE_MAP, "key": BUNDLE_KEY},
    }}});
    env.settings_api()
        .patch(NAME, &PatchParams::default(), &Patch::Merge(&name_bundle))
        .await?;
    let missing = env
        .wait_condition("SecretsResolved", |c| c.reason == "ConfigMapNotFound")
        .await?;
    assert_says(&missing, &[BUNDLE_MAP, "spec.caBundle.configMapRef.name"]);

    env.config_maps()
        .create(&PostParams::default(), &bundle_map(certificate.ca_pem()))
        .await?;
    env.wait_condition("ProviderReachable", |c| c.status == "True")
        .await?;
    env.wait_ready().await?;
    let secret = env.secrets().get("books-portcullis").await?;
    assert_eq!(data(&secret)["provider-ca.pem"], certificate.ca_pem());
    let generated = env.config_maps().get("books-portcullis").await?;
    let yaml = &generated.data.as_ref().context("data")?["sidecar.yaml"];
    let config = SidecarConfig::from_yaml(yaml)?;
    assert_eq!(
        config.oidc.ca_file.as_deref(),
        Some(std::path::Path::new(
            "/etc/portcullis/secret/provider-ca.pem"
        ))
    );

    // A bundle that is no longer PEM is named, and the last good one kept.
    env.config_maps()
        .replace(
            BUNDLE_MAP,
            &PostParams::default(),
            &bundle_map("the company's root, pasted as a fingerprint"),
        )
        .await?;
    let invalid = env
        .wait_condition("SpecValid", |c| c.status == "False")
        .await?;
    assert_says(&invalid, &["caBundle.configMapRef", "no PEM certificate"]);
    let kept = env.secrets().get("books-portcullis").await?;
    assert_eq!(data(&kept)["provider-ca.pem"], certificate.ca_pem());
    Ok(())
}
