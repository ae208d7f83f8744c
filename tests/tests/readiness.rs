//! What the sidecar's `/readyz` tells: the provider's live state, and the
//! version of the settings it serves.

use anyhow::{Result, bail};
use portcullis_contract::hash::content_hash;
use portcullis_e2e::stack::Stack;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// A provider outage must show within a minute.
const NOTICE_WITHIN: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_provider_outage_shows_within_a_minute_and_the_pod_stays_ready() -> Result<()> {
    let mut stack = Stack::start().await?;
    let started = Instant::now();
    loop {
        let (_, body) = stack.sidecar.readyz().await?;
        if body["identityProvider"]["status"] == "ok" {
            break;
        }
        if started.elapsed() > Duration::from_secs(15) {
            bail!("the provider never showed as ok: {body}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stack.idp.stop().await;
    let stopped = Instant::now();
    loop {
        let (status, body) = stack.sidecar.readyz().await?;
        assert_eq!(status, 200, "an outage never makes the pod unready: {body}");
        assert_eq!(body["ready"], true, "{body}");
        if body["identityProvider"]["status"] == "unreachable" {
            assert_eq!(body["identityProvider"]["usingCachedDocument"], true);
            break;
        }
        if stopped.elapsed() > NOTICE_WITHIN {
            bail!("the outage did not show within {NOTICE_WITHIN:?}: {body}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stack.idp.restart().await?;
    let restarted = Instant::now();
    loop {
        let (_, body) = stack.sidecar.readyz().await?;
        if body["identityProvider"]["status"] == "ok" {
            return Ok(());
        }
        if restarted.elapsed() > NOTICE_WITHIN {
            bail!("the recovery did not show within {NOTICE_WITHIN:?}: {body}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The hash the operator's annotation would carry for these files.
fn expected_hash(dir: &Path) -> Result<String> {
    let config = std::fs::read_to_string(dir.join("sidecar.yaml"))?;
    let mut data = BTreeMap::new();
    for key in [
        "client-secret",
        "session-keys",
        "root-password-hash",
        "enrolment-code-hash",
    ] {
        data.insert(key.to_owned(), std::fs::read_to_string(dir.join(key))?);
    }
    Ok(content_hash(&config, &data))
}

#[tokio::test]
async fn readyz_names_the_hash_of_the_settings_it_serves() -> Result<()> {
    let mut stack = Stack::start().await?;
    let (_, body) = stack.sidecar.readyz().await?;
    let first = expected_hash(stack.sidecar.dir())?;
    assert_eq!(body["config"]["hash"], first.as_str(), "{body}");

    stack.sidecar.setup.config.oidc.group_claim = "roles".into();
    stack.sidecar.setup.write_config()?;
    let second = expected_hash(stack.sidecar.dir())?;
    assert_ne!(first, second);
    let started = Instant::now();
    loop {
        let (_, body) = stack.sidecar.readyz().await?;
        if body["config"]["hash"] == second.as_str() {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(15) {
            bail!("the reloaded settings' hash never showed: {body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
