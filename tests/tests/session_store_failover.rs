//! The session store through Sentinel: the sidecars follow a failover of
//! the primary without a restart, keep serving sessions through it, clear
//! no cookie, and a log out after it still reaches every replica.

use anyhow::Result;
use portcullis_e2e::guarded::Guarded;
use portcullis_e2e::redis_sentinel::SentinelSet;
use portcullis_e2e::sidecar::Sidecar;
use portcullis_sidecar::access::roles::Role;
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use std::time::{Duration, Instant};

/// `/auth/me` at `sidecar` with `cookie`.
async fn me(sidecar: &Sidecar, cookie: &str) -> Result<reqwest::Response> {
    sidecar.get_with_cookie("/auth/me", cookie).await
}

#[tokio::test]
async fn the_sidecars_follow_a_failover_and_keep_every_session_and_log_out() -> Result<()> {
    let set = SentinelSet::start().await?;
    let store = set.store_config("failover:", 60);
    let (first, others) =
        Guarded::start_replicas(2, |setup| setup.config.session.store = Some(store.clone()))
            .await?;
    let second = &others[0];
    let store_ok = |body: &serde_json::Value| body["sessionStore"]["status"] == "ok";
    for sidecar in [&first.sidecar, second] {
        sidecar
            .until_ready_with(Duration::from_secs(20), store_ok)
            .await?;
    }
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
        if held.starts_with(":2\r\n") {
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
