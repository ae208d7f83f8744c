//! Specs the CRD's rules let through but the sidecar would refuse, against a
//! real kube-apiserver: each is `InvalidSpec` naming the spec's field, never
//! `Ready`, and nothing the sidecar would crash on is written.
//!
//! The sidecar reads a blank name (an audience of one space, a group of one
//! non-breaking space or one vertical tab) or a blank client secret as a
//! mistake and refuses its config; the operator runs the sidecar's own
//! checks, so it says so in `status` instead of reporting `Ready` while the
//! injected pods crash-loop.

use anyhow::Result;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use portcullis_e2e::idp::CLIENT_SECRET;
use portcullis_e2e::kube::env::{Env, assert_says};
use portcullis_operator::crd::{OidcSettingsSpec, RoleGroupsSpec};
use portcullis_operator::crd_access::BearerTokensSpec;

/// Starts an `OidcSettings` changed by `change` and checks that it is
/// refused naming `field`, with nothing written.
async fn refused(
    prefix: &str,
    change: impl FnOnce(&mut OidcSettingsSpec),
    field: &str,
) -> Result<()> {
    let env = Env::start_with(prefix, change).await?;
    let ready = env
        .wait_condition("Ready", |c| c.reason == "InvalidSpec")
        .await?;
    assert_eq!(ready.status, "False");
    assert_says(&ready, &[field]);
    let valid = env.wait_condition("SpecValid", |_| true).await?;
    assert_eq!(valid.status, "False");
    assert_says(&valid, &[field]);
    assert_nothing_written(&env.config_maps()).await
}

async fn assert_nothing_written(config_maps: &Api<ConfigMap>) -> Result<()> {
    assert!(
        config_maps.get_opt("books-portcullis").await?.is_none(),
        "a config the sidecar refuses is never written"
    );
    Ok(())
}

#[tokio::test]
async fn a_blank_bearer_audience_is_an_invalid_spec() -> Result<()> {
    refused(
        "blank-audience",
        |spec| {
            spec.bearer_tokens = Some(BearerTokensSpec {
                audiences: vec!["api".into(), " ".into()],
                leeway_seconds: None,
            });
        },
        "spec.bearerTokens.audiences[1]",
    )
    .await
}

#[tokio::test]
async fn a_role_group_of_a_non_breaking_space_is_an_invalid_spec() -> Result<()> {
    refused(
        "nbsp-group",
        |spec| {
            spec.role_groups = Some(RoleGroupsSpec {
                admin: vec!["\u{a0}".into()],
                trusted: vec!["staff".into()],
            });
        },
        "spec.roleGroups.admin[0]",
    )
    .await
}

#[tokio::test]
async fn an_allowed_group_of_a_vertical_tab_is_an_invalid_spec() -> Result<()> {
    refused(
        "vt-group",
        |spec| spec.allowed_groups = vec!["staff".into(), "\u{b}".into()],
        "spec.allowedGroups[1]",
    )
    .await
}

#[tokio::test]
async fn a_blank_client_secret_is_an_invalid_spec_and_the_last_good_one_stays() -> Result<()> {
    let env = Env::start("blank-secret").await?;
    env.wait_ready().await?;
    env.put_client_secret(" \t\n").await?;
    let ready = env
        .wait_condition("Ready", |c| c.reason == "InvalidSpec")
        .await?;
    assert_says(&ready, &["spec.clientSecretRef", "white space"]);
    let generated = env.secrets().get("books-portcullis").await?;
    let written = generated
        .data
        .as_ref()
        .and_then(|data| data.get("client-secret"))
        .map(|value| String::from_utf8_lossy(&value.0).into_owned());
    assert_eq!(
        written.as_deref(),
        Some(CLIENT_SECRET),
        "the running sidecars keep the last good secret"
    );
    Ok(())
}
