//! Log out: the session ends here, a saved cookie stops working, and the provider is told.

use anyhow::Result;
use portcullis_e2e::browser::Browser;
use portcullis_e2e::sidecar::{ROOT_PASSWORD, ROOT_USERNAME};
use portcullis_e2e::stack::Stack;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use url::Url;

#[tokio::test]
async fn after_log_out_a_saved_copy_of_the_cookie_is_refused_and_the_provider_is_told() -> Result<()>
{
    let stack = Stack::start().await?;
    let browser = Browser::new();
    browser.log_in(&stack.url("/"), "alice").await?;
    let saved = browser.cookies_for(stack.sidecar.url()).expect("cookies");
    let response = browser.log_out(stack.sidecar.url()).await?;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let target = Url::parse(response.headers()[LOCATION].to_str()?)?;
    assert!(
        target
            .as_str()
            .starts_with(&format!("{}/session/end", stack.idp.issuer)),
        "{target}"
    );
    let query: std::collections::HashMap<_, _> = target.query_pairs().into_owned().collect();
    assert!(
        query
            .get("id_token_hint")
            .is_some_and(|hint| hint.split('.').count() == 3),
        "{query:?}"
    );
    assert_eq!(
        query.get("post_logout_redirect_uri"),
        Some(&stack.url("/login"))
    );

    let in_browser = browser.client().get(stack.url("/auth/me")).send().await?;
    assert_eq!(
        in_browser.status(),
        StatusCode::UNAUTHORIZED,
        "the cookie was cleared"
    );
    let replayed = reqwest::Client::new()
        .get(stack.url("/auth/me"))
        .header(COOKIE, saved)
        .send()
        .await?;
    assert_eq!(
        replayed.status(),
        StatusCode::UNAUTHORIZED,
        "a saved copy no longer opens"
    );

    let (landing, page) = browser.follow(target).await?;
    assert_eq!(landing.host_str(), Some("127.0.0.1"));
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the provider's logout confirmation page"
    );
    Ok(())
}

#[tokio::test]
async fn a_log_out_post_without_the_form_token_is_refused() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    browser.log_in(&stack.url("/"), "alice").await?;
    let forged = browser
        .client()
        .post(stack.url("/logout"))
        .form(&[("csrf", "x")])
        .send()
        .await?;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let still = browser.client().get(stack.url("/auth/me")).send().await?;
    assert_eq!(
        still.status(),
        StatusCode::OK,
        "the session survives a forged log out"
    );
    Ok(())
}

#[tokio::test]
async fn backup_sessions_and_disabled_provider_logout_stay_local() -> Result<()> {
    let stack = Stack::start_with(|setup| setup.config.oidc.logout_at_provider = false).await?;
    for browser in [Browser::new(), Browser::new()] {
        browser
            .backup_login(stack.sidecar.url(), ROOT_USERNAME, ROOT_PASSWORD)
            .await?;
        let response = browser.log_out(stack.sidecar.url()).await?;
        assert_eq!(response.headers()[LOCATION], "/login");
    }
    let browser = Browser::new();
    browser.log_in(&stack.url("/"), "alice").await?;
    let response = browser.log_out(stack.sidecar.url()).await?;
    assert_eq!(response.headers()[LOCATION], "/login");
    Ok(())
}
