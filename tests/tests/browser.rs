//! The login in a real browser: headless Chromium clicks through the
//! provider's form and the sidecar's own pages.
//!
//! The other end-to-end tests drive an HTTP client that posts forms itself.
//! These prove what only a browser can: that the `SameSite=Lax` cookies are
//! sent back across the redirects between provider and sidecar, also when
//! they are different sites, that the `HttpOnly` ones stay out of reach of
//! page scripts, and that the plain HTML forms work as rendered. Chromium and
//! chromedriver come from Debian's `chromium` and `chromium-driver` packages;
//! without them these tests fail and say to run `make test`.

use anyhow::{Context, Result};
use portcullis_e2e::echo::Echo;
use portcullis_e2e::idp::Idp;
use portcullis_e2e::sidecar::{ROOT_PASSWORD, ROOT_USERNAME, SidecarSetup, reserve_public_url};
use portcullis_e2e::stack::Stack;
use portcullis_e2e::webdriver::Chromium;
use serde_json::json;
use url::Url;

/// True when `url` is on the same origin as `base`.
fn same_origin(url: &Url, base: &str) -> bool {
    Url::parse(base).is_ok_and(|base| base.origin() == url.origin())
}

/// True for the session cookie and its parts (`portcullis_session_1`, …).
fn is_session_part(name: &str) -> bool {
    name.strip_prefix("portcullis_session").is_some_and(|rest| {
        rest.is_empty()
            || rest
                .strip_prefix('_')
                .is_some_and(|index| index.bytes().all(|byte| byte.is_ascii_digit()))
    })
}

/// The status of `/auth/me` opened in the browser, with its cookies.
///
/// Opened as a page rather than fetched by a script: the sidecar's pages
/// forbid scripts to connect anywhere (`default-src 'none'`).
async fn auth_me_status(browser: &Chromium, stack: &Stack) -> Result<u16> {
    browser.goto(&stack.url("/auth/me")).await?;
    browser.page_status().await
}

/// Checks that the browser stored the session cookie as `HttpOnly` and
/// `SameSite=Lax`, and that page scripts cannot read any sidecar cookie.
async fn assert_session_cookie_is_hidden_from_scripts(browser: &Chromium) -> Result<()> {
    let cookies = browser.get_all_cookies().await?;
    let session = cookies
        .iter()
        .find(|cookie| cookie.name() == "portcullis_session")
        .with_context(|| format!("no session cookie in the browser: {cookies:?}"))?;
    assert_eq!(session.http_only(), Some(true), "{session}");
    assert_eq!(
        session.same_site().map(|same_site| same_site.to_string()),
        Some("Lax".to_owned()),
        "{session}"
    );
    assert_eq!(session.path(), Some("/"), "{session}");
    let visible = browser.execute("return document.cookie;", vec![]).await?;
    let visible = visible.as_str().context("document.cookie is a string")?;
    assert!(
        !visible.contains("portcullis_"),
        "page scripts can read a sidecar cookie: {visible:?}"
    );
    Ok(())
}

#[tokio::test]
async fn chromium_signs_in_at_the_provider_returns_to_the_page_and_logs_out() -> Result<()> {
    let browser = Chromium::start().await?;
    let stack = Stack::start().await?;
    let sidecar = stack.sidecar.url();

    browser.goto(&stack.url("/books?page=2")).await?;
    browser
        .sign_in_at_provider(&stack.idp.issuer, "alice")
        .await?;
    let landed = browser
        .wait_for_url("the page asked for, on the sidecar", |url| {
            same_origin(url, sidecar) && url.path() == "/books"
        })
        .await?;
    assert_eq!(landed.query(), Some("page=2"));
    let echo = browser.json_on_page().await?;
    assert_eq!(echo["path"], "/books");
    assert_eq!(echo["query"], "page=2");
    assert_eq!(echo["headers"]["x-forwarded-user"], json!(["alice"]));
    assert_eq!(echo["headers"]["x-portcullis-role"], json!(["admin"]));
    let app_cookies = echo["headers"]["cookie"].to_string();
    assert!(
        !app_cookies.contains("portcullis_session"),
        "the session cookie reached the app: {app_cookies}"
    );
    assert_session_cookie_is_hidden_from_scripts(&browser).await?;
    assert_eq!(auth_me_status(&browser, &stack).await?, 200);

    browser.goto(&stack.url("/logout")).await?;
    let page = browser.body_text().await?;
    assert!(page.contains("signed in as alice"), "{page}");
    browser
        .find("form[action='/logout'] button")
        .await?
        .click()
        .await?;
    browser
        .wait_for_url("the provider's logout confirmation", |url| {
            same_origin(url, &stack.idp.issuer) && url.path().starts_with("/session/end")
        })
        .await?;
    browser.find("#logout-yes").await?.click().await?;
    browser
        .wait_for_url("the sidecar's sign-in page", |url| {
            same_origin(url, sidecar) && url.path() == "/login"
        })
        .await?;
    assert_eq!(
        auth_me_status(&browser, &stack).await?,
        401,
        "the session ended in the browser"
    );

    browser.goto(&stack.url("/books")).await?;
    browser
        .wait_for_url("the provider's login form again", |url| {
            same_origin(url, &stack.idp.issuer) && url.path().starts_with("/interaction/")
        })
        .await?;
    browser.find("#login-form").await?;
    browser.quit().await
}

#[tokio::test]
async fn chromium_keeps_a_session_too_large_for_one_cookie_in_two() -> Result<()> {
    let browser = Chromium::start().await?;
    let stack = Stack::start().await?;
    let sidecar = stack.sidecar.url();
    browser.goto(&stack.url("/books")).await?;
    browser
        .sign_in_at_provider(&stack.idp.issuer, "crowded")
        .await?;
    browser
        .wait_for_url("the page asked for, on the sidecar", |url| {
            same_origin(url, sidecar) && url.path() == "/books"
        })
        .await?;
    let echo = browser.json_on_page().await?;
    assert_eq!(echo["headers"]["x-forwarded-user"], json!(["crowded"]));
    let app_cookies = echo["headers"]["cookie"].to_string();
    assert!(
        !app_cookies.contains("portcullis_session"),
        "a part of the session reached the app: {app_cookies}"
    );
    let cookies = browser.get_all_cookies().await?;
    let parts: Vec<_> = cookies
        .iter()
        .filter(|cookie| is_session_part(cookie.name()))
        .map(|cookie| (cookie.name().to_owned(), cookie.value().len()))
        .collect();
    assert_eq!(parts.len(), 2, "the browser kept both parts: {parts:?}");
    assert_eq!(auth_me_status(&browser, &stack).await?, 200);

    browser.goto(&stack.url("/logout")).await?;
    browser
        .find("form[action='/logout'] button")
        .await?
        .click()
        .await?;
    browser
        .wait_for_url("the provider's logout confirmation", |url| {
            same_origin(url, &stack.idp.issuer)
        })
        .await?;
    browser.goto(&stack.url("/auth/me")).await?;
    let left: Vec<_> = browser
        .get_all_cookies()
        .await?
        .iter()
        .map(|cookie| cookie.name().to_owned())
        .filter(|name| is_session_part(name))
        .collect();
    assert!(left.is_empty(), "every part cleared: {left:?}");
    browser.quit().await
}

#[tokio::test]
async fn chromium_logs_in_as_the_root_admin_through_the_backup_form() -> Result<()> {
    let browser = Chromium::start().await?;
    let stack = Stack::start().await?;
    let sidecar = stack.sidecar.url();

    browser
        .backup_login(sidecar, ROOT_USERNAME, ROOT_PASSWORD)
        .await?;
    assert_session_cookie_is_hidden_from_scripts(&browser).await?;

    assert_eq!(auth_me_status(&browser, &stack).await?, 200);
    let me = browser.json_on_page().await?;
    assert_eq!(me["user"], ROOT_USERNAME, "{me}");
    assert_eq!(me["root"], true, "{me}");
    browser.quit().await
}

#[tokio::test]
async fn chromium_keeps_the_lax_cookies_when_the_provider_is_another_site() -> Result<()> {
    // To a browser `localhost` and `127.0.0.1` are different sites, as a real
    // provider and app are. The provider's redirect back is then a cross-site
    // navigation: `SameSite=Lax` cookies go along, `Strict` ones would not.
    let browser = Chromium::start().await?;
    let (port, _) = reserve_public_url();
    let public_url = format!("http://localhost:{port}");
    let idp = Idp::start(&public_url).await?;
    let echo = Echo::start().await?;
    let mut setup = SidecarSetup::new(port, &idp.well_known_url(), &echo.url)?;
    setup.config.public_url.clone_from(&public_url);
    setup.url.clone_from(&public_url);
    let sidecar = setup.start().await?;

    browser.goto(&format!("{public_url}/books?page=2")).await?;
    browser.sign_in_at_provider(&idp.issuer, "alice").await?;
    let landed = browser
        .wait_for_url("the page asked for, on the sidecar", |url| {
            same_origin(url, sidecar.url()) && url.path() == "/books"
        })
        .await?;
    assert_eq!(landed.query(), Some("page=2"));
    let echo = browser.json_on_page().await?;
    assert_eq!(echo["headers"]["x-forwarded-user"], json!(["alice"]));
    assert_session_cookie_is_hidden_from_scripts(&browser).await?;
    browser.quit().await
}
