//! Sidecars over one session store, and the checks every store test makes
//! of them: what `/auth/me` answers for a cookie, how long until it changes,
//! and whether a replica has its log-out list loaded.

use crate::guarded::Guarded;
use crate::sidecar::Sidecar;
use anyhow::Result;
use portcullis_contract::session_store::SessionStoreConfig;
use reqwest::StatusCode;
use std::time::{Duration, Instant};

/// `/auth/me` at `sidecar` with `cookie`.
pub async fn me(sidecar: &Sidecar, cookie: &str) -> Result<reqwest::Response> {
    sidecar.get_with_cookie("/auth/me", cookie).await
}

/// Waits (at most `limit`) until `/auth/me` at `sidecar` answers `status`
/// for `cookie`; returns how long that took.
pub async fn until_status(
    sidecar: &Sidecar,
    cookie: &str,
    status: StatusCode,
    limit: Duration,
) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let answered = me(sidecar, cookie).await?.status();
        if answered == status {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(
            started.elapsed() < limit,
            "{} still answers {answered}, not {status}, after {limit:?}",
            sidecar.url()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `sidecar` reports ready with its store loaded.
pub async fn until_store_ok(sidecar: &Sidecar) -> Result<()> {
    let loaded = |body: &serde_json::Value| body["sessionStore"]["status"] == "ok";
    sidecar
        .until_ready_with(Duration::from_secs(20), loaded)
        .await?;
    Ok(())
}

/// `count` replicas over the store `store`, each with its list loaded: the
/// first (which holds the shared keys) and the others.
pub async fn replicas_over(
    count: usize,
    store: &SessionStoreConfig,
) -> Result<(Guarded, Vec<Sidecar>)> {
    let (first, others) = Guarded::start_replicas(count, |setup| {
        setup.config.session.store = Some(store.clone())
    })
    .await?;
    for replica in std::iter::once(&first.sidecar).chain(&others) {
        until_store_ok(replica).await?;
    }
    Ok((first, others))
}

/// Logs `cookie` out at `at` and returns how long until every one of
/// `replicas` refuses it (each waited for at most 5 s).
pub async fn log_out_reaches_all(
    at: &Sidecar,
    cookie: &str,
    replicas: &[&Sidecar],
) -> Result<Duration> {
    let logged_out = Guarded::log_out_at(at, cookie).await?;
    anyhow::ensure!(
        logged_out == StatusCode::SEE_OTHER,
        "log out answered {logged_out}"
    );
    until_all_refuse(replicas, cookie).await
}

/// How long until every one of `replicas` refuses `cookie` (each waited
/// for at most 5 s): the slowest.
pub async fn until_all_refuse(replicas: &[&Sidecar], cookie: &str) -> Result<Duration> {
    let mut slowest = Duration::ZERO;
    for replica in replicas {
        let took = until_status(
            replica,
            cookie,
            StatusCode::UNAUTHORIZED,
            Duration::from_secs(5),
        )
        .await?;
        slowest = slowest.max(took);
    }
    Ok(slowest)
}

/// The statuses of `attempts` wrong backup logins from one browser, each
/// at the next of `replicas` in turn.
pub async fn wrong_backup_logins(replicas: &[&Sidecar], attempts: usize) -> Result<Vec<u16>> {
    let browser = crate::browser::Browser::new();
    let mut answers = Vec::new();
    for attempt in 0..attempts {
        let replica = replicas[attempt % replicas.len()];
        let answer = browser
            .backup_login(replica.url(), "root", "a wrong password")
            .await?;
        answers.push(answer.status().as_u16());
    }
    Ok(answers)
}
