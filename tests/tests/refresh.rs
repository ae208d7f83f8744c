//! Sessions that outlive a short access token, against the real provider
//! (oidc-provider, rotating refresh tokens and revoking the whole grant
//! when a rotated one is used again) and the real binary. `shorty`'s
//! access tokens live 3 s.

use anyhow::{Context, Result};
use portcullis_e2e::browser::Browser;
use portcullis_e2e::guarded::log_out_at_url;
use portcullis_e2e::idp::Idp;
use portcullis_e2e::redis::Redis;
use portcullis_e2e::sidecar::{Sidecar, SidecarSetup, reserve_public_url};
use portcullis_e2e::stack::Stack;
use portcullis_e2e::store_replicas::until_store_ok;
use portcullis_sidecar::session::{KeyRing, Session, open_session};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, COOKIE, LOCATION, SET_COOKIE};
use std::time::Duration;

/// A stack whose provider gives refresh tokens; sessions are renewed
/// within a second of their expiry and served `grace` seconds past it
/// while the provider cannot renew them.
async fn refreshing(grace: u64) -> Result<Stack> {
    Stack::start_with_provider(
        async |public_url| Idp::start_refreshing(public_url).await,
        |setup| {
            setup.config.session.refresh_skew_seconds = 1;
            setup.config.session.refresh_grace_seconds = grace;
        },
    )
    .await
}

/// The session cookie (`name=value`) a response sets, if it sets one.
fn session_cookie_set(sidecar: &Sidecar, response: &reqwest::Response) -> Option<String> {
    let name = &sidecar.setup.config.session.cookie_name;
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The app's answer at `/` for `cookie`, as an API client asks.
async fn api_call(sidecar: &Sidecar, cookie: &str) -> Result<reqwest::Response> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .get(format!("{}/books", sidecar.url()))
        .header(COOKIE, cookie)
        .header(ACCEPT, "application/json")
        .send()
        .await?)
}

/// Signs `login` in and returns the session cookie.
async fn signed_in(stack: &Stack, login: &str) -> Result<String> {
    let browser = Browser::new();
    let (_, response) = browser.log_in(&stack.url("/"), login).await?;
    anyhow::ensure!(response.status() == StatusCode::OK, "{login} signed in");
    let name = &stack.sidecar.setup.config.session.cookie_name;
    browser
        .cookies_for(stack.sidecar.url())
        .context("cookies")?
        .split("; ")
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
        .context("a session cookie")
}

#[tokio::test]
async fn twenty_requests_at_expiry_renew_once_and_the_session_outlives_three_lifetimes()
-> Result<()> {
    let stack = refreshing(4).await?;
    let first = signed_in(&stack, "shorty").await?;
    tokio::time::sleep(Duration::from_millis(3500)).await;

    let mut answers = Vec::new();
    for _ in 0..20 {
        let (sidecar, cookie) = (&stack.sidecar, first.clone());
        answers.push(async move { api_call(sidecar, &cookie).await });
    }
    let answers = futures_util::future::join_all(answers).await;
    let mut renewed = Vec::new();
    for answer in answers {
        let answer = answer?;
        assert_eq!(answer.status(), StatusCode::OK);
        renewed.push(session_cookie_set(&stack.sidecar, &answer).context("a renewed cookie")?);
    }
    assert_eq!(
        stack.idp.refresh_counts().await?,
        (1, 0),
        "one renewal for twenty requests, and no refresh token used twice"
    );
    let straggler = api_call(&stack.sidecar, &first).await?;
    assert_eq!(straggler.status(), StatusCode::OK);
    assert!(
        session_cookie_set(&stack.sidecar, &straggler).is_some(),
        "a straggler with the old cookie gets the renewed session"
    );
    assert_eq!(stack.idp.refresh_counts().await?, (1, 0));

    let mut cookie = renewed.swap_remove(0);
    for lifetime in 2..=4 {
        tokio::time::sleep(Duration::from_millis(3500)).await;
        let answer = api_call(&stack.sidecar, &cookie).await?;
        assert_eq!(answer.status(), StatusCode::OK, "lifetime {lifetime}");
        cookie = session_cookie_set(&stack.sidecar, &answer).context("renewed again")?;
    }
    assert_eq!(stack.idp.refresh_counts().await?, (4, 0));
    Ok(())
}

#[tokio::test]
async fn three_replicas_over_one_store_renew_a_session_once() -> Result<()> {
    let redis = Redis::start().await?;
    let store = redis.store_config("refresh:", 60);
    let stack = Stack::start_with_provider(
        async |public_url| Idp::start_refreshing(public_url).await,
        |setup| {
            setup.config.session.refresh_skew_seconds = 1;
            setup.config.session.store = Some(store.clone());
        },
    )
    .await?;
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let (port, _) = reserve_public_url();
        let first = &stack.sidecar.setup.config;
        let mut setup = SidecarSetup::new(port, &first.oidc.well_known_url, &stack.echo.url)?;
        setup.config.session.key_file = first.session.key_file.clone();
        setup.config.session.refresh_skew_seconds = 1;
        setup.config.session.store = Some(store.clone());
        replicas.push(setup.start().await?);
    }
    let all: Vec<&Sidecar> = std::iter::once(&stack.sidecar).chain(&replicas).collect();
    for sidecar in &all {
        until_store_ok(sidecar).await?;
    }
    let cookie = signed_in(&stack, "shorty").await?;
    let keys = KeyRing::parse(&std::fs::read_to_string(
        &stack.sidecar.setup.config.session.key_file,
    )?)?;
    let in_cookie = |cookie: &str| -> Result<Session> {
        let (name, sealed) = cookie.split_once('=').context("name=value")?;
        open_session(&keys, name, sealed, 0).map_err(|error| anyhow::anyhow!("{error}"))
    };
    let refresh = in_cookie(&cookie)?.refresh.context("renewable")?;
    assert!(
        refresh.in_store && refresh.token.is_empty(),
        "the store keeps the refresh token, not the cookie"
    );
    let kept = redis.command(&["KEYS", "refresh:refresh:*"]).await?;
    assert_eq!(kept.matches("refresh:refresh:").count(), 1, "{kept}");
    tokio::time::sleep(Duration::from_millis(3500)).await;

    let mut answers = Vec::new();
    for round in 0..21 {
        let (sidecar, cookie) = (all[round % all.len()], cookie.clone());
        answers.push(async move { api_call(sidecar, &cookie).await });
    }
    for answer in futures_util::future::join_all(answers).await {
        let answer = answer?;
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(session_cookie_set(&stack.sidecar, &answer).is_some());
    }
    assert_eq!(
        stack.idp.refresh_counts().await?,
        (1, 0),
        "one renewal for three replicas, no refresh token used twice"
    );
    let kept = redis.command(&["KEYS", "refresh:*"]).await?;
    assert!(kept.contains("refresh:renewal:"), "{kept}");
    assert!(
        !kept.contains("shorty"),
        "no name or token in clear: {kept}"
    );

    // The old cookie, once more past its expiry, renews with the rotated
    // token the store keeps now: a second renewal, never a reuse.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let again = api_call(&replicas[1], &cookie).await?;
    assert_eq!(again.status(), StatusCode::OK);
    let renewed = session_cookie_set(&stack.sidecar, &again).context("renewed again")?;
    assert_eq!(stack.idp.refresh_counts().await?, (2, 0));
    assert!(
        in_cookie(&renewed)?
            .refresh
            .is_some_and(|refresh| refresh.in_store)
    );

    // Logging out drops the kept token.
    assert_eq!(
        log_out_at_url(stack.sidecar.url(), &renewed).await?,
        StatusCode::SEE_OTHER
    );
    let kept = redis.command(&["KEYS", "refresh:refresh:*"]).await?;
    assert!(!kept.contains("refresh:refresh:"), "{kept}");
    Ok(())
}

#[tokio::test]
async fn a_refused_renewal_ends_the_session_api_calls_get_401_and_pages_sign_in() -> Result<()> {
    let stack = refreshing(4).await?;
    let cookie = signed_in(&stack, "shorty").await?;
    // A second replica without a shared store: the replica that renews
    // second uses a rotated refresh token, which makes the provider revoke
    // the whole grant.
    let (port, _) = reserve_public_url();
    let first = &stack.sidecar.setup.config;
    let mut setup = SidecarSetup::new(port, &first.oidc.well_known_url, &stack.echo.url)?;
    setup.config.session.key_file = first.session.key_file.clone();
    setup.config.session.refresh_skew_seconds = 1;
    let other = setup.start().await?;
    tokio::time::sleep(Duration::from_millis(3500)).await;

    let renewed = api_call(&stack.sidecar, &cookie).await?;
    assert_eq!(renewed.status(), StatusCode::OK);
    let reused = api_call(&other, &cookie).await?;
    assert_eq!(
        reused.status(),
        StatusCode::UNAUTHORIZED,
        "the provider refused the reused refresh token"
    );
    assert!(
        reused
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|kind| kind.contains("json")),
        "an API call gets JSON, never a redirect"
    );
    assert_eq!(stack.idp.refresh_counts().await?, (1, 1));
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .get(format!("{}/books", other.url()))
        .header(COOKIE, &cookie)
        .header(ACCEPT, "text/html")
        .send()
        .await?;
    assert_eq!(
        page.status(),
        StatusCode::SEE_OTHER,
        "a page view signs in again"
    );
    assert!(
        page.headers()[LOCATION]
            .to_str()?
            .starts_with("/auth/start"),
        "{:?}",
        page.headers()[LOCATION]
    );
    Ok(())
}

#[tokio::test]
async fn a_silent_provider_is_ridden_out_within_the_grace_and_renews_once_back() -> Result<()> {
    // The sidecar waits 10 s for the provider: a grace of 30 s covers it.
    let stack = refreshing(30).await?;
    let cookie = signed_in(&stack, "shorty").await?;
    tokio::time::sleep(Duration::from_millis(3200)).await;
    stack.idp.pause()?;
    let during = api_call(&stack.sidecar, &cookie).await;
    stack.idp.resume()?;
    let during = during?;
    assert_eq!(
        during.status(),
        StatusCode::OK,
        "served within the grace while the provider did not answer"
    );
    assert!(
        session_cookie_set(&stack.sidecar, &during).is_none(),
        "no cookie changed, none cleared"
    );
    // Renewals are retried a few seconds after an outage.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let back = api_call(&stack.sidecar, &cookie).await?;
    assert_eq!(back.status(), StatusCode::OK);
    assert!(
        session_cookie_set(&stack.sidecar, &back).is_some(),
        "renewed"
    );
    assert_eq!(stack.idp.refresh_counts().await?.0, 1);
    Ok(())
}

#[tokio::test]
async fn a_provider_answering_5xx_is_ridden_out_and_renews_once_back() -> Result<()> {
    let stack = refreshing(30).await?;
    let cookie = signed_in(&stack, "shorty").await?;
    tokio::time::sleep(Duration::from_millis(3200)).await;
    stack.idp.set_token_outage(Some(503)).await?;
    let during = api_call(&stack.sidecar, &cookie).await?;
    assert_eq!(
        during.status(),
        StatusCode::OK,
        "served within the grace while the provider answered 503"
    );
    assert!(session_cookie_set(&stack.sidecar, &during).is_none());
    stack.idp.set_token_outage(None).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let back = api_call(&stack.sidecar, &cookie).await?;
    assert_eq!(back.status(), StatusCode::OK);
    assert!(
        session_cookie_set(&stack.sidecar, &back).is_some(),
        "renewed"
    );
    assert_eq!(
        stack.idp.refresh_counts().await?,
        (1, 0),
        "one renewal, none refused"
    );
    let metrics = stack.sidecar.metrics().await?;
    assert!(
        metrics.contains("portcullis_session_refreshes_total{result=\"Unavailable\"}"),
        "the outage is counted: {metrics}"
    );
    Ok(())
}

#[tokio::test]
async fn past_the_grace_an_unreachable_provider_means_signing_in_again() -> Result<()> {
    // 3 s of token and 4 s of grace: served until 7 s after sign-in.
    let mut stack = refreshing(4).await?;
    let cookie = signed_in(&stack, "shorty").await?;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    stack.idp.stop().await;
    let within = api_call(&stack.sidecar, &cookie).await?;
    assert_eq!(
        within.status(),
        StatusCode::OK,
        "within the grace the refused connection is ridden out"
    );
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let past = api_call(&stack.sidecar, &cookie).await?;
    assert_eq!(
        past.status(),
        StatusCode::UNAUTHORIZED,
        "past the grace, an API call is told to sign in, never redirected"
    );
    assert!(past.headers().get(LOCATION).is_none());
    Ok(())
}
