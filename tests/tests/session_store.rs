//! Many replicas, one log-out list: three sidecars over one real Redis.
//!
//! Sessions are sealed with the replicas' shared keys (no provider runs),
//! so each test is about the store alone: a log out on one replica is
//! refused by the others within a second, a new replica remembers it, an
//! outage serves sessions within the staleness bound and answers 503 past
//! it without clearing a cookie, and the store coming back needs no
//! restart.

use anyhow::Result;
use portcullis_contract::session_store::{SessionStoreConfig, StoreTlsConfig};
use portcullis_e2e::guarded::Guarded;
use portcullis_e2e::redis::Redis;
use portcullis_e2e::sidecar::Sidecar;
use portcullis_e2e::store_replicas::{
    log_out_reaches_all, me, replicas_over, until_status, until_store_ok, wrong_backup_logins,
};
use portcullis_sidecar::access::roles::Role;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, RETRY_AFTER, SET_COOKIE};
use std::time::{Duration, Instant};

/// Three replicas over the store `store`, each with its list loaded.
async fn three_replicas(store: &SessionStoreConfig) -> Result<(Guarded, Vec<Sidecar>)> {
    replicas_over(3, store).await
}

#[tokio::test]
async fn a_log_out_on_one_replica_is_refused_by_all_within_a_second_and_by_a_new_one() -> Result<()>
{
    let redis = Redis::start().await?;
    let store = redis.store_config("media/books:", 60);
    let (first, others) = three_replicas(&store).await?;
    let replicas = [&first.sidecar, &others[0], &others[1]];
    let cookie = first.session_cookie("alice", Role::Trusted, 3600)?;
    let other = first.session_cookie("bob", Role::Trusted, 3600)?;
    for replica in replicas {
        assert_eq!(me(replica, &cookie).await?.status(), StatusCode::OK);
    }

    let slowest = log_out_reaches_all(&others[0], &cookie, &replicas).await?;
    eprintln!("a log out reached all three replicas in {slowest:?}");
    assert!(
        slowest < Duration::from_secs(1),
        "refused by every replica within 1 s, took {slowest:?}"
    );
    for replica in replicas {
        assert_eq!(
            me(replica, &other).await?.status(),
            StatusCode::OK,
            "another session is untouched"
        );
    }

    let newcomer = first
        .replica(|setup| setup.config.session.store = Some(store.clone()))
        .await?;
    until_store_ok(&newcomer).await?;
    assert_eq!(
        me(&newcomer, &cookie).await?.status(),
        StatusCode::UNAUTHORIZED,
        "a replica started after the log out loads it before it is ready"
    );

    let dump = redis
        .command(&["ZRANGE", "media/books:revoked", "0", "-1"])
        .await?;
    let keys = redis.command(&["KEYS", "*"]).await?;
    assert!(keys.contains("media/books:revoked"), "{keys}");
    assert!(
        !dump.contains(&cookie[cookie.find('=').unwrap_or(0) + 1..][..16]),
        "the store holds digests, never cookies: {dump}"
    );
    Ok(())
}

#[tokio::test]
async fn an_outage_serves_sessions_within_the_bound_then_503_and_recovers_without_restart()
-> Result<()> {
    let redis = Redis::start().await?;
    let store = redis.store_config("outage:", 3);
    let guarded =
        Guarded::start_with(|setup| setup.config.session.store = Some(store.clone())).await?;
    let other = guarded
        .replica(|setup| setup.config.session.store = Some(store.clone()))
        .await?;
    until_store_ok(&guarded.sidecar).await?;
    until_store_ok(&other).await?;
    let cookie = guarded.session_cookie("alice", Role::Trusted, 3600)?;
    let leaving = guarded.session_cookie("carol", Role::Trusted, 3600)?;
    assert_eq!(
        me(&guarded.sidecar, &cookie).await?.status(),
        StatusCode::OK
    );

    redis.pause()?;
    let paused = Instant::now();
    assert_eq!(
        me(&guarded.sidecar, &cookie).await?.status(),
        StatusCode::OK,
        "within the bound the local copy serves"
    );
    let logged_out = Guarded::log_out_at(&guarded.sidecar, &leaving).await?;
    assert_eq!(
        logged_out,
        StatusCode::SEE_OTHER,
        "log out works during the outage"
    );
    until_status(
        &guarded.sidecar,
        &cookie,
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(30),
    )
    .await?;
    let served_for = paused.elapsed();
    eprintln!("sessions were served for {served_for:?} after the store paused (bound 3 s)");
    let refused = me(&guarded.sidecar, &cookie).await?;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key(RETRY_AFTER));
    assert!(
        refused.headers().get(SET_COOKIE).is_none(),
        "no cookie is cleared because the store failed"
    );
    let proxied = reqwest::Client::new()
        .get(guarded.url("/books"))
        .header(COOKIE, &cookie)
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(proxied.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(proxied.headers().get(SET_COOKIE).is_none());
    let (ready, body) = guarded.sidecar.readyz().await?;
    assert_eq!(
        ready, 200,
        "a store outage keeps the replica in the Service: {body}"
    );
    assert_eq!(body["sessionStore"]["status"], "unreachable", "{body}");
    assert!(
        guarded
            .sidecar
            .metrics()
            .await?
            .lines()
            .any(|line| line == "portcullis_session_store_fresh 0")
    );

    redis.resume()?;
    until_status(
        &guarded.sidecar,
        &cookie,
        StatusCode::OK,
        Duration::from_secs(20),
    )
    .await?;
    until_status(
        &other,
        &leaving,
        StatusCode::UNAUTHORIZED,
        Duration::from_secs(20),
    )
    .await?;
    assert_eq!(me(&other, &cookie).await?.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn a_store_that_comes_back_empty_learns_the_log_outs_again() -> Result<()> {
    let mut redis = Redis::start().await?;
    let store = redis.store_config("restart:", 60);
    let guarded =
        Guarded::start_with(|setup| setup.config.session.store = Some(store.clone())).await?;
    until_store_ok(&guarded.sidecar).await?;
    let cookie = guarded.session_cookie("alice", Role::Trusted, 3600)?;
    assert_eq!(
        Guarded::log_out_at(&guarded.sidecar, &cookie).await?,
        StatusCode::SEE_OTHER
    );

    redis.restart_empty().await?;
    let newcomer_store = store.clone();
    let started = Instant::now();
    loop {
        let held = redis.command(&["ZCARD", "restart:revoked"]).await?;
        if held.contains(":1\r\n") {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(20),
            "the replica did not write its copy back: {held}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let newcomer = guarded
        .replica(|setup| setup.config.session.store = Some(newcomer_store))
        .await?;
    until_store_ok(&newcomer).await?;
    assert_eq!(
        me(&newcomer, &cookie).await?.status(),
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

/// A sidecar whose store never answered: ready all the same, saying so; a
/// session cookie (returned) gets 503, since a list never loaded vouches
/// for nobody; the root admin's backup login (in the browser returned)
/// still gets in.
async fn store_away_yet_the_way_back_in_works(
    guarded: &Guarded,
) -> Result<(String, portcullis_e2e::browser::Browser)> {
    let body = guarded
        .sidecar
        .until_ready_with(Duration::from_secs(20), |_| true)
        .await?;
    assert_eq!(body["sessionStore"]["status"], "unreachable", "{body}");
    let cookie = guarded.session_cookie("alice", Role::Trusted, 3600)?;
    assert_eq!(
        me(&guarded.sidecar, &cookie).await?.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "a list never loaded vouches for nobody"
    );
    let browser = portcullis_e2e::browser::Browser::new();
    let root = browser
        .backup_login(
            guarded.sidecar.url(),
            portcullis_e2e::sidecar::ROOT_USERNAME,
            portcullis_e2e::sidecar::ROOT_PASSWORD,
        )
        .await?;
    assert_eq!(
        root.status(),
        StatusCode::SEE_OTHER,
        "the way back in works"
    );
    Ok((cookie, browser))
}

#[tokio::test]
async fn a_wrong_password_starts_the_sidecar_which_keeps_the_backup_login_and_takes_the_right_one_live()
-> Result<()> {
    let redis = Redis::start_with_password("the-right-one").await?;
    let guarded = Guarded::start_with(|setup| {
        let mut store = redis.store_config("auth:", 60);
        let path = setup.dir.path().join("redis-password");
        std::fs::write(&path, "a-wrong-one\n").expect("write");
        store.redis.password_file = Some(path);
        setup.config.session.store = Some(store);
    })
    .await?;
    let (cookie, browser) = store_away_yet_the_way_back_in_works(&guarded).await?;
    let metrics = guarded.sidecar.metrics().await?;
    assert!(
        metrics.lines().any(
            |line| line.starts_with("portcullis_backup_budget_fallbacks_total ")
                && !line.ends_with(" 0")
        ),
        "the budget counted on this replica alone is counted: {metrics}"
    );
    let as_root = browser.client().get(guarded.url("/auth/me")).send().await?;
    assert_eq!(as_root.status(), StatusCode::OK);
    assert!(guarded.sidecar.child.id().is_some(), "still running");

    let password_file = guarded.sidecar.dir().join("redis-password");
    let rotated = guarded.sidecar.dir().join("redis-password.new");
    std::fs::write(&rotated, "the-right-one\n")?;
    std::fs::rename(&rotated, &password_file)?;
    until_store_ok(&guarded.sidecar).await?;
    assert_eq!(
        me(&guarded.sidecar, &cookie).await?.status(),
        StatusCode::OK,
        "the right password, reloaded from its file, needs no restart"
    );
    Ok(())
}

#[tokio::test]
async fn backup_login_budgets_are_counted_once_across_replicas() -> Result<()> {
    let redis = Redis::start().await?;
    let store = redis.store_config("budgets:", 60);
    let (first, others) = three_replicas(&store).await?;
    let replicas = [&first.sidecar, &others[0], &others[1]];
    let answers = wrong_backup_logins(&replicas, 9).await?;
    assert_eq!(
        answers,
        [401, 401, 401, 401, 401, 429, 429, 429, 429],
        "one client's five attempts, whichever replica it asks"
    );
    let held = redis.command(&["KEYS", "budgets:backup:*"]).await?;
    assert!(held.contains("budgets:backup:client:127.0.0.1"), "{held}");
    assert!(held.contains("budgets:backup:overall"), "{held}");
    Ok(())
}

#[tokio::test]
async fn a_tls_store_is_reached_with_its_ca_and_refused_without_it() -> Result<()> {
    let redis = Redis::start_tls().await?;
    let ca = redis.tls_ca().expect("a TLS server").to_owned();
    let guarded = Guarded::start_with(|setup| {
        let mut store = redis.store_config("tls:", 60);
        let path = setup.dir.path().join("redis-ca.pem");
        std::fs::write(&path, &ca).expect("write");
        store.redis.tls = Some(StoreTlsConfig {
            ca_file: Some(path),
        });
        setup.config.session.store = Some(store);
    })
    .await?;
    until_store_ok(&guarded.sidecar).await?;
    let untrusting = guarded
        .replica(|setup| setup.config.session.store = Some(redis.store_config("tls:", 60)))
        .await?;
    let cookie = guarded.session_cookie("alice", Role::Trusted, 3600)?;
    assert_eq!(
        Guarded::log_out_at(&guarded.sidecar, &cookie).await?,
        StatusCode::SEE_OTHER
    );
    let body = untrusting
        .until_ready_with(Duration::from_secs(20), |_| true)
        .await?;
    assert_eq!(
        body["sessionStore"]["status"], "unreachable",
        "a server whose certificate the system roots do not vouch for is not trusted: {body}"
    );
    assert_eq!(
        me(&untrusting, &cookie).await?.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    Ok(())
}

#[tokio::test]
async fn a_store_paused_by_client_pause_gives_503_past_the_bound_and_recovers() -> Result<()> {
    let redis = Redis::start().await?;
    let guarded = Guarded::start_with(|setup| {
        setup.config.session.store = Some(redis.store_config("paused:", 1));
    })
    .await?;
    until_store_ok(&guarded.sidecar).await?;
    let cookie = guarded.session_cookie("alice", Role::Trusted, 3600)?;
    assert_eq!(
        me(&guarded.sidecar, &cookie).await?.status(),
        StatusCode::OK
    );
    redis.pause_clients(6000).await?;
    until_status(
        &guarded.sidecar,
        &cookie,
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(5),
    )
    .await?;
    let refused = me(&guarded.sidecar, &cookie).await?;
    assert!(refused.headers().get(SET_COOKIE).is_none());
    until_status(
        &guarded.sidecar,
        &cookie,
        StatusCode::OK,
        Duration::from_secs(20),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn an_address_nobody_answers_at_start_is_retried_and_the_backup_login_works() -> Result<()> {
    let nobody = format!("redis://127.0.0.1:{}", portcullis_e2e::process::free_port());
    let guarded = Guarded::start_with(|setup| {
        setup.config.session.store = Some(Redis::config_for(&nobody, "nobody:", 60));
    })
    .await?;
    let (_, browser) = store_away_yet_the_way_back_in_works(&guarded).await?;
    let as_root = browser.client().get(guarded.url("/auth/me")).send().await?;
    assert_eq!(as_root.status(), StatusCode::OK, "the root admin gets in");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        guarded
            .sidecar
            .metrics()
            .await?
            .lines()
            .any(|line| line == "portcullis_session_store_reachable 0"),
        "still retrying, and saying so"
    );
    Ok(())
}
