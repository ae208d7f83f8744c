//! Back-channel logout against the real provider and the real binary: a
//! session ended at the provider (its own sign-out page, not the sidecar's)
//! is refused by three replicas sharing a Redis within a second, while the
//! same user's other sign-in and other users keep theirs; logout tokens
//! forged with the provider's own key, each breaking one rule, change
//! nothing; a good one is taken once.

use anyhow::Result;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use portcullis_contract::paths::BACKCHANNEL_LOGOUT_PATH;
use portcullis_e2e::api_clients::write_signing_key;
use portcullis_e2e::browser::Browser;
use portcullis_e2e::idp::{CLIENT_ID, CLIENT_SECRET, SIGNING_KEY_ID};
use portcullis_e2e::redis::Redis;
use portcullis_e2e::sidecar::{Sidecar, SidecarSetup, reserve_public_url};
use portcullis_e2e::stack::Stack;
use portcullis_e2e::store_replicas::{me, until_all_refuse, until_store_ok};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The provider (signing with a key the test holds), the sidecar, and
/// what the test needs to forge tokens.
struct Provider {
    stack: Stack,
    private_pem: String,
    _keys: tempfile::TempDir,
}

async fn start(tweak: impl FnOnce(&mut SidecarSetup)) -> Result<Provider> {
    let keys = tempfile::tempdir()?;
    let (private_pem, _) = write_signing_key(keys.path(), "idp.pem")?;
    let stack = Stack::start_for_api(&keys.path().join("idp.pem"), tweak).await?;
    Ok(Provider {
        stack,
        private_pem,
        _keys: keys,
    })
}

/// Another replica of `stack`'s sidecar: its keys, its provider, `tweak`ed.
async fn replica(stack: &Stack, tweak: impl FnOnce(&mut SidecarSetup)) -> Result<Sidecar> {
    let (port, _) = reserve_public_url();
    let mut setup = SidecarSetup::new(port, &stack.idp.well_known_url(), &stack.echo.url)?;
    setup.config.session.key_file = stack.sidecar.setup.config.session.key_file.clone();
    tweak(&mut setup);
    setup.start().await
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// A logout token for `subject` as the provider would send it.
fn good_claims(issuer: &str, subject: &str) -> Value {
    json!({
        "iss": issuer,
        "aud": CLIENT_ID,
        "iat": now(),
        "exp": now() + 120,
        "jti": format!("jti-{}", now()),
        "sub": subject,
        "events": {EVENT: {}},
    })
}

fn signed(provider: &Provider, header: Header, claims: &Value) -> Result<String> {
    let key = EncodingKey::from_rsa_pem(provider.private_pem.as_bytes())?;
    Ok(encode(&header, claims, &key)?)
}

fn logout_header() -> Header {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(SIGNING_KEY_ID.to_owned());
    header.typ = Some("logout+jwt".to_owned());
    header
}

async fn post_token(sidecar: &Sidecar, token: &str) -> Result<reqwest::Response> {
    Ok(reqwest::Client::new()
        .post(format!("{}{BACKCHANNEL_LOGOUT_PATH}", sidecar.url()))
        .form(&[("logout_token", token)])
        .send()
        .await?)
}

#[tokio::test]
async fn a_session_ended_at_the_provider_is_refused_by_every_replica_within_a_second() -> Result<()>
{
    let redis = Redis::start().await?;
    let store = redis.store_config("backchannel:", 60);
    let provider = start(|setup| setup.config.session.store = Some(store.clone())).await?;
    let stack = &provider.stack;
    let mut replicas = vec![];
    for _ in 0..2 {
        replicas.push(
            replica(stack, |setup| {
                setup.config.session.store = Some(store.clone())
            })
            .await?,
        );
    }
    let all: Vec<&Sidecar> = std::iter::once(&stack.sidecar).chain(&replicas).collect();
    for sidecar in &all {
        until_store_ok(sidecar).await?;
    }

    let leaving = Browser::new();
    leaving.log_in(&stack.url("/"), "alice").await?;
    let cookie = leaving.cookies_for(stack.sidecar.url()).expect("a session");
    let elsewhere = Browser::new();
    elsewhere.log_in(&stack.url("/"), "alice").await?;
    let other_device = elsewhere
        .cookies_for(stack.sidecar.url())
        .expect("a session");
    let colleague = Browser::new();
    colleague.log_in(&stack.url("/"), "trudy").await?;
    let other_user = colleague
        .cookies_for(stack.sidecar.url())
        .expect("a session");
    for sidecar in &all {
        assert_eq!(me(sidecar, &cookie).await?.status(), StatusCode::OK);
    }

    let ended = leaving.end_session_at_provider(&stack.idp.issuer).await?;
    assert!(
        ended.status().is_redirection() || ended.status().is_success(),
        "the provider confirmed the sign-out: {}",
        ended.status()
    );
    let started = Instant::now();
    let slowest = until_all_refuse(&all, &cookie).await?;
    eprintln!(
        "a session ended at the provider was refused by all three replicas {slowest:?} after its sign-out page answered ({:?} in all)",
        started.elapsed()
    );
    assert!(slowest < Duration::from_secs(1), "took {slowest:?}");
    for sidecar in &all {
        assert_eq!(
            me(sidecar, &other_device).await?.status(),
            StatusCode::OK,
            "the same user's sign-in in another browser is another provider session"
        );
        assert_eq!(me(sidecar, &other_user).await?.status(), StatusCode::OK);
    }
    Ok(())
}

/// One change to a good token's claims.
type Change = fn(&mut serde_json::Map<String, Value>);

#[tokio::test]
async fn forged_logout_tokens_change_nothing_and_a_good_one_is_taken_once() -> Result<()> {
    let provider = start(|_| {}).await?;
    let stack = &provider.stack;
    let issuer = stack.idp.issuer.clone();
    let browser = Browser::new();
    browser.log_in(&stack.url("/"), "alice").await?;
    let cookie = browser.cookies_for(stack.sidecar.url()).expect("a session");

    let mut hmac = Header::new(Algorithm::HS256);
    hmac.kid = Some(SIGNING_KEY_ID.to_owned());
    let with_client_secret = encode(
        &hmac,
        &good_claims(&issuer, "alice"),
        &EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
    )?;
    let mut forged = vec![("HMAC with the client secret", with_client_secret)];
    let changes: [(&str, Change); 6] = [
        ("another audience", |c| {
            c.insert("aud".into(), json!("another-client"));
        }),
        ("another issuer", |c| {
            c.insert("iss".into(), json!("https://evil.example.com"));
        }),
        ("a nonce", |c| {
            c.insert("nonce".into(), json!("n-0S6_WzA2Mj"));
        }),
        ("an hour old", |c| {
            c.insert("iat".into(), json!(now() - 3600));
        }),
        ("no event", |c| {
            c.remove("events");
        }),
        ("no jti", |c| {
            c.remove("jti");
        }),
    ];
    for (what, change) in changes {
        let mut claims = good_claims(&issuer, "alice")
            .as_object()
            .cloned()
            .unwrap_or_default();
        change(&mut claims);
        forged.push((
            what,
            signed(&provider, logout_header(), &Value::Object(claims))?,
        ));
    }
    let mut id_typed = logout_header();
    id_typed.typ = Some("id_token+jwt".to_owned());
    forged.push((
        "another typ",
        signed(&provider, id_typed, &good_claims(&issuer, "alice"))?,
    ));
    for (what, token) in &forged {
        let answer = post_token(&stack.sidecar, token).await?;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{what}");
        let body: Value = answer.json().await?;
        assert_eq!(body["error"], "invalid_request", "{what}: {body}");
    }
    assert_eq!(
        me(&stack.sidecar, &cookie).await?.status(),
        StatusCode::OK,
        "no forged token ended the session"
    );

    // A second later than the sign-in, so the session is one "before" it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let good = signed(&provider, logout_header(), &good_claims(&issuer, "alice"))?;
    let taken = post_token(&stack.sidecar, &good).await?;
    assert_eq!(taken.status(), StatusCode::OK);
    assert_eq!(
        taken
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok()),
        Some("no-store")
    );
    assert_eq!(
        me(&stack.sidecar, &cookie).await?.status(),
        StatusCode::UNAUTHORIZED,
        "a sub without a sid ends the user's sessions signed in before it"
    );
    let replayed = post_token(&stack.sidecar, &good).await?;
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
    let body: Value = replayed.json().await?;
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|why| why.contains("already used")),
        "{body}"
    );

    let again = Browser::new();
    again.log_in(&stack.url("/"), "alice").await?;
    let fresh = again.cookies_for(stack.sidecar.url()).expect("a session");
    assert_eq!(
        me(&stack.sidecar, &fresh).await?.status(),
        StatusCode::OK,
        "a sign-in after the log out is not ended by it"
    );
    Ok(())
}

#[tokio::test]
async fn switched_off_the_route_answers_404_and_ends_nothing() -> Result<()> {
    let provider = start(|setup| setup.config.oidc.back_channel_logout = false).await?;
    let stack = &provider.stack;
    let browser = Browser::new();
    browser.log_in(&stack.url("/"), "alice").await?;
    let cookie = browser.cookies_for(stack.sidecar.url()).expect("a session");
    let good = signed(
        &provider,
        logout_header(),
        &good_claims(&stack.idp.issuer, "alice"),
    )?;
    assert_eq!(
        post_token(&stack.sidecar, &good).await?.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(me(&stack.sidecar, &cookie).await?.status(), StatusCode::OK);
    Ok(())
}
