//! Cookies and forms under attack: odd bytes, planted cookies, forged
//! callbacks, cross-site posts, and sign-ins left to pile up.

use anyhow::{Context, Result};
use portcullis_e2e::browser::{Browser, form_token};
use portcullis_e2e::guarded::{Guarded, read_response};
use portcullis_e2e::sidecar::{ROOT_PASSWORD, ROOT_USERNAME};
use portcullis_e2e::stack::Stack;
use portcullis_sidecar::access::roles::Role;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn a_non_ascii_cookie_of_the_app_keeps_the_session_and_reaches_the_app() -> Result<()> {
    let guarded = Guarded::start().await?;
    let session = guarded.session_cookie("ursula", Role::Untrusted, 600)?;
    let mut stream = TcpStream::connect(guarded.addr()).await?;
    let mut request = format!(
        "GET /odd HTTP/1.1\r\nHost: {}\r\nCookie: theme=d",
        guarded.addr()
    )
    .into_bytes();
    request.extend_from_slice(b"\xe9j\xe0; ");
    request.extend_from_slice(format!("{session}; lang=fr\r\n\r\n").as_bytes());
    stream.write_all(&request).await?;
    let response = read_response(&mut stream).await?;
    assert_eq!(response.status(), 200, "{}", response.head);
    let echo: Value = serde_json::from_str(&response.body)?;
    assert_eq!(echo["headers"]["x-forwarded-user"][0], "ursula");
    let cookie = echo["headers"]["cookie"][0].as_str().unwrap_or_default();
    assert!(
        cookie.starts_with("theme=d") && cookie.ends_with("; lang=fr"),
        "{cookie}"
    );
    assert!(!cookie.contains("portcullis_session"), "{cookie}");
    Ok(())
}

#[tokio::test]
async fn a_planted_cookie_of_the_same_name_does_not_shadow_the_session() -> Result<()> {
    let guarded = Guarded::start().await?;
    let session = guarded.session_cookie("ursula", Role::Untrusted, 600)?;
    let response = reqwest::Client::new()
        .get(guarded.url("/auth/me"))
        .header("Cookie", format!("portcullis_session=planted; {session}"))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await?;
    assert_eq!(me["user"], "ursula");
    Ok(())
}

#[tokio::test]
async fn a_forged_callback_shows_no_provider_text() -> Result<()> {
    let guarded = Guarded::start().await?;
    let page = reqwest::Client::new()
        .get(guarded.url(
            "/auth/oidc?error=access_denied&error_description=Call+0800+SCAM+now&state=AAAAAAAAAAAAAAAAAAAA",
        ))
        .send()
        .await?
        .text()
        .await?;
    assert!(page.contains("access_denied"), "{page}");
    assert!(!page.contains("SCAM"), "{page}");
    Ok(())
}

#[tokio::test]
async fn every_form_a_browser_was_given_stays_valid() -> Result<()> {
    let guarded = Guarded::start().await?;
    let browser = Browser::new();
    let base = guarded.sidecar.url();
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let page = browser
            .open(&format!("{base}/login?backup=1"))
            .await?
            .text()
            .await?;
        tokens.push(form_token(&page).context("a CSRF token")?);
    }
    let response = browser
        .client()
        .post(format!("{base}/login"))
        .form(&[
            ("username", ROOT_USERNAME),
            ("password", ROOT_PASSWORD),
            ("csrf", &tokens[0]),
        ])
        .send()
        .await?;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "the first tab's form"
    );
    Ok(())
}

#[tokio::test]
async fn a_post_from_another_origin_is_refused() -> Result<()> {
    let guarded = Guarded::start().await?;
    let browser = Browser::new();
    let base = guarded.sidecar.url();
    let page = browser
        .open(&format!("{base}/login?backup=1"))
        .await?
        .text()
        .await?;
    let token = form_token(&page).context("a CSRF token")?;
    let form = [
        ("username", ROOT_USERNAME),
        ("password", ROOT_PASSWORD),
        ("csrf", token.as_str()),
    ];
    let foreign = browser
        .client()
        .post(format!("{base}/login"))
        .header("Origin", "https://evil.example")
        .form(&form)
        .send()
        .await?;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let own = browser
        .client()
        .post(format!("{base}/login"))
        .header("Origin", base)
        .form(&form)
        .send()
        .await?;
    assert_eq!(own.status(), StatusCode::SEE_OTHER);
    Ok(())
}

#[tokio::test]
async fn abandoned_sign_ins_do_not_pile_up_in_the_browser() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    for page in 0..8 {
        let response = browser
            .open(&stack.url(&format!("/auth/start?rd=/{page}")))
            .await?;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let cookies = browser.cookies_for(stack.sidecar.url()).unwrap_or_default();
    let pending = cookies
        .split("; ")
        .filter(|pair| pair.starts_with("portcullis_session_login_"))
        .count();
    assert!(pending <= 3, "{pending} pending sign-ins kept: {cookies}");
    Ok(())
}
