//! The session store through Sentinel: the sidecars follow a failover of
//! the primary without a restart, keep serving sessions through it, clear
//! no cookie, and a log out after it still reaches every replica; the same
//! again when the servers and the Sentinel speak TLS only and each wants
//! its own password.

use anyhow::Result;
use portcullis_contract::session_store::{SessionStoreConfig, StoreTlsConfig};
use portcullis_e2e::certificate::TestCertificate;
use portcullis_e2e::guarded::Guarded;
use portcullis_e2e::redis_sentinel::{Secured, SentinelSet};
use portcullis_e2e::store_replicas::{me, replicas_over};
use portcullis_sidecar::access::roles::Role;
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_sidecars_follow_a_failover_and_keep_every_session_and_log_out() -> Result<()> {
    let set = SentinelSet::start().await?;
    follow_a_failover(&set, set.store_config("failover:", 60)).await
}

#[tokio::test]
async fn over_tls_with_a_password_for_the_servers_and_another_for_the_sentinel() -> Result<()> {
    let tls = TestCertificate::issue()?;
    let set = SentinelSet::start_secured(Secured {
        password: Some("servers-secret".into()),
        sentinel_password: Some("sentinel-secret".into()),
        tls: Some(Arc::clone(&tls)),
    })
    .await?;
    let files = tempfile::tempdir()?;
    let file = |name: &str, text: &str| -> Result<std::path::PathBuf> {
        let path = files.path().join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    };
    let mut store = set.store_config("failover:", 60);
    store.redis.password_file = Some(file("password", "servers-secret\n")?);
    store.redis.tls = Some(StoreTlsConfig {
        ca_file: Some(file("ca.pem", tls.ca_pem())?),
    });
    let no_sentinel_password = store.clone();
    if let Some(sentinel) = &mut store.redis.sentinel {
        sentinel.password_file = Some(file("sentinel-password", "sentinel-secret\n")?);
    }

    let refused = Guarded::start_with(|setup| {
        setup.config.session.store = Some(no_sentinel_password.clone());
    })
    .await?;
    let body = refused
        .sidecar
        .until_ready_with(Duration::from_secs(20), |_| true)
        .await?;
    assert_eq!(
        body["sessionStore"]["status"], "unreachable",
        "a Sentinel that wants a password names no primary without it: {body}"
    );
    drop(refused);
    follow_a_failover(&set, store).await
}

/// Two replicas over the Sentinels of `set` as `store` names them, through
/// a failover.
async fn follow_a_failover(set: &SentinelSet, store: SessionStoreConfig) -> Result<()> {
    let (first, others) = replicas_over(2, &store).await?;
    let second = &others[0];
    let staying = first.session_cookie("alice", Role::Trusted, 3600)?;
    let before = first.session_cookie("bob", Role::Trusted, 3600)?;
    let after = first.session_cookie("carol", Role::Trusted, 3600)?;
    assert_eq!(
        Guarded::log_out_at(&first.sidecar, &before).await?,
        StatusCode::SEE_OTHER
    );

    set.fail_over().await?;
    assert_eq!(set.primary_port().await?, set.second.port());
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(8) {
        for sidecar in [&first.sidecar, second] {
            let answer = me(sidecar, &staying).await?;
            assert_eq!(
                answer.status(),
                StatusCode::OK,
                "sessions are served through a failover"
            );
            assert!(answer.headers().get(SET_COOKIE).is_none());
            assert_eq!(
                me(sidecar, &before).await?.status(),
                StatusCode::UNAUTHORIZED
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    assert_eq!(
        Guarded::log_out_at(second, &after).await?,
        StatusCode::SEE_OTHER
    );
    let logged_out = Instant::now();
    loop {
        if me(&first.sidecar, &after).await?.status() == StatusCode::UNAUTHORIZED {
            break;
        }
        anyhow::ensure!(
            logged_out.elapsed() < Duration::from_secs(20),
            "a log out after the failover never reached the other replica"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "a log out after the failover reached the other replica in {:?}",
        logged_out.elapsed()
    );
    let started = Instant::now();
    loop {
        let held = set.second.command(&["ZCARD", "failover:revoked"]).await?;
        // RESP (`:2`) from a plain server, text (`2`) through redis-cli.
        if held.lines().next().map(|line| line.trim_start_matches(':')) == Some("2") {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the new primary never held both log outs: {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "the new primary held both log outs {:?} after the last one",
        started.elapsed()
    );
    Ok(())
}
