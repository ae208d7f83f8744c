//! Front-channel logout on the real binary, after a real sign-in at the
//! provider: the route the provider's sign-out page frames ends the
//! session only when `iss` and `sid` name the provider session it began
//! with, clears the cookie, and may be framed by the provider alone.

use anyhow::{Context, Result};
use portcullis_contract::paths::FRONTCHANNEL_LOGOUT_PATH;
use portcullis_e2e::browser::Browser;
use portcullis_e2e::stack::Stack;
use portcullis_e2e::store_replicas::me;
use portcullis_sidecar::session::{KeyRing, open_session};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, SET_COOKIE, X_FRAME_OPTIONS};
use std::time::{SystemTime, UNIX_EPOCH};

/// The provider's session id the sidecar sealed into `cookie_header`.
fn provider_sid(stack: &Stack, cookie_header: &str) -> Result<String> {
    let config = &stack.sidecar.setup.config;
    let keys = KeyRing::parse(&std::fs::read_to_string(&config.session.key_file)?)
        .ok()
        .context("the key file parses")?;
    let name = &config.session.cookie_name;
    let sealed = cookie_header
        .split("; ")
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .context("the session cookie is sent")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let session = open_session(&keys, name, sealed, now)
        .ok()
        .context("it opens")?;
    session
        .provider
        .and_then(|link| link.sid)
        .context("the provider sent a sid")
}

async fn frontchannel(stack: &Stack, cookie: &str, query: &str) -> Result<reqwest::Response> {
    Ok(reqwest::Client::new()
        .get(format!(
            "{}{FRONTCHANNEL_LOGOUT_PATH}{query}",
            stack.sidecar.url()
        ))
        .header(COOKIE, cookie)
        .send()
        .await?)
}

#[tokio::test]
async fn the_provider_session_named_ends_here_and_nothing_else_does() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    browser.log_in(&stack.url("/"), "alice").await?;
    let cookie = browser
        .cookies_for(stack.sidecar.url())
        .context("a session")?;
    let sid = provider_sid(&stack, &cookie)?;
    let issuer = &stack.idp.issuer;
    let escaped =
        |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();

    for (query, status) in [
        (String::new(), StatusCode::BAD_REQUEST),
        (format!("?iss={}", escaped(issuer)), StatusCode::BAD_REQUEST),
        (
            format!(
                "?iss={}&sid={}",
                escaped("https://evil.example.com"),
                escaped(&sid)
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("?iss={}&sid=another-session", escaped(issuer)),
            StatusCode::OK,
        ),
    ] {
        let answer = frontchannel(&stack, &cookie, &query).await?;
        assert_eq!(answer.status(), status, "{query}");
        assert!(answer.headers().get(SET_COOKIE).is_none(), "{query}");
        assert_eq!(
            me(&stack.sidecar, &cookie).await?.status(),
            StatusCode::OK,
            "{query} ends nothing"
        );
    }

    let answer = frontchannel(
        &stack,
        &cookie,
        &format!("?iss={}&sid={}", escaped(issuer), escaped(&sid)),
    )
    .await?;
    assert_eq!(answer.status(), StatusCode::OK);
    let policy = answer
        .headers()
        .get(CONTENT_SECURITY_POLICY)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    assert!(
        policy.contains(&format!("frame-ancestors {issuer}")),
        "framed by the provider alone: {policy}"
    );
    assert!(answer.headers().get(X_FRAME_OPTIONS).is_none());
    assert!(
        answer
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .any(|value| value.to_str().is_ok_and(|text| text.contains("Max-Age=0"))),
        "the cookie is cleared"
    );
    assert_eq!(
        me(&stack.sidecar, &cookie).await?.status(),
        StatusCode::UNAUTHORIZED,
        "a saved copy of the cookie is refused too"
    );
    let login_page = browser.open(&stack.url("/login")).await?;
    assert_eq!(
        login_page
            .headers()
            .get(X_FRAME_OPTIONS)
            .and_then(|value| value.to_str().ok()),
        Some("DENY"),
        "other pages are still never framed"
    );
    Ok(())
}
