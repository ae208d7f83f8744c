//! A provider whose certificate a company CA signed: the sidecar trusts it
//! once `oidc.caFile` names that CA, beside the web's roots, without a
//! restart; before that, sign-in fails cleanly and `/readyz` says why.

use anyhow::Result;
use portcullis_e2e::browser::Browser;
use portcullis_e2e::certificate::TestCertificate;
use portcullis_e2e::idp::Idp;
use portcullis_e2e::stack::Stack;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

/// How long the sidecar may take to (re)try discovery on a busy machine.
const DISCOVERY_LIMIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_provider_signed_by_a_private_ca_is_reached_once_its_ca_file_is_named() -> Result<()> {
    let certificate = TestCertificate::issue()?;
    let mut stack = Stack::start_with_provider(
        async |public_url| Idp::start_tls(public_url, &certificate).await,
        |_| {},
    )
    .await?;
    assert!(
        stack.idp.issuer.starts_with("https://"),
        "{}",
        stack.idp.issuer
    );
    let browser = Browser::trusting(certificate.ca_pem())?;

    let refused = provider_state(&stack, "unreachable").await?;
    let reason = refused["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("UnknownIssuer"), "{reason}");
    let sign_in = browser.open(&stack.url("/auth/start")).await?;
    assert_eq!(sign_in.status(), StatusCode::SERVICE_UNAVAILABLE);

    let ca_file = stack.sidecar.dir().join("provider-ca.pem");
    std::fs::write(&ca_file, certificate.ca_pem())?;
    stack.sidecar.setup.config.oidc.ca_file = Some(ca_file);
    stack.sidecar.setup.write_config()?;
    stack
        .sidecar
        .wait_for_metric("portcullis_config_reloads_total{result=\"Applied\"} 1")
        .await?;
    provider_state(&stack, "ok").await?;

    let (_, response) = browser.log_in(&stack.url("/books"), "alice").await?;
    assert_eq!(response.status(), StatusCode::OK);
    let echo: Value = response.json().await?;
    assert_eq!(echo["headers"]["x-forwarded-user"][0], "alice");
    Ok(())
}

#[tokio::test]
async fn a_ca_file_without_a_certificate_is_refused_and_the_last_good_one_keeps_serving()
-> Result<()> {
    let certificate = TestCertificate::issue()?;
    let mut stack = Stack::start_with_provider(
        async |public_url| Idp::start_tls(public_url, &certificate).await,
        |setup| setup.config.oidc.ca_file = Some(certificate.file("ca.pem")),
    )
    .await?;
    provider_state(&stack, "ok").await?;

    let broken = stack.sidecar.dir().join("not-a-bundle.pem");
    std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nbroken\n")?;
    stack.sidecar.setup.config.oidc.ca_file = Some(broken);
    stack.sidecar.setup.write_config()?;
    stack
        .sidecar
        .wait_for_metric("portcullis_config_reloads_total{result=\"Refused\"} 1")
        .await?;
    let (_, response) = Browser::trusting(certificate.ca_pem())?
        .log_in(&stack.url("/"), "alice")
        .await?;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the last good CA keeps serving"
    );
    Ok(())
}

/// Waits until `/readyz` reports the provider's `status`; returns that part.
async fn provider_state(stack: &Stack, status: &str) -> Result<Value> {
    let body = stack
        .sidecar
        .until_ready_with(DISCOVERY_LIMIT, |body| {
            body["identityProvider"]["status"] == status
        })
        .await?;
    Ok(body["identityProvider"].clone())
}
