//! The way back in: `/login?backup=1` for the root admin, with or without the provider.

use anyhow::Result;
use portcullis_e2e::browser::Browser;
use portcullis_e2e::echo::Echo;
use portcullis_e2e::idp::Idp;
use portcullis_e2e::sidecar::{ROOT_PASSWORD, ROOT_USERNAME, SidecarSetup, reserve_public_url};
use portcullis_e2e::stack::Stack;
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::Value;

async fn me(browser: &Browser, base: &str) -> Result<Value> {
    Ok(browser
        .client()
        .get(format!("{base}/auth/me"))
        .send()
        .await?
        .json()
        .await?)
}

#[tokio::test]
async fn backup_login_works_while_the_provider_is_down() -> Result<()> {
    let mut stack = Stack::start().await?;
    stack.idp.stop().await;
    let browser = Browser::new();
    let response = browser
        .backup_login(stack.sidecar.url(), ROOT_USERNAME, ROOT_PASSWORD)
        .await?;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let me = me(&browser, stack.sidecar.url()).await?;
    assert_eq!(me["user"], ROOT_USERNAME);
    assert_eq!(me["root"], true);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["method"], "backup");
    let app = browser.client().get(stack.url("/admin")).send().await?;
    let echo: Value = app.json().await?;
    assert_eq!(echo["headers"]["x-portcullis-root"][0], "true");
    Ok(())
}

#[tokio::test]
async fn the_sidecar_starts_and_backup_login_works_when_the_provider_was_never_reachable()
-> Result<()> {
    let (port, _) = reserve_public_url();
    let mut idp = Idp::start("http://127.0.0.1:1").await?;
    let well_known = idp.well_known_url();
    idp.stop().await;
    let echo = Echo::start().await?;
    let sidecar = SidecarSetup::new(port, &well_known, &echo.url)?
        .start()
        .await?;

    let ready = reqwest::get(format!("{}/readyz", sidecar.admin_url())).await?;
    assert_eq!(
        ready.status(),
        StatusCode::OK,
        "an unreachable provider never makes the pod unready"
    );
    let sign_in = Browser::new()
        .open(&format!("{}/auth/start", sidecar.url()))
        .await?;
    assert_eq!(sign_in.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(sign_in.text().await?.contains("/login?backup=1"));
    let ready: Value = reqwest::get(format!("{}/readyz", sidecar.admin_url()))
        .await?
        .json()
        .await?;
    assert_eq!(ready["identityProvider"]["status"], "unreachable");

    let browser = Browser::new();
    let response = browser
        .backup_login(sidecar.url(), ROOT_USERNAME, ROOT_PASSWORD)
        .await?;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(me(&browser, sidecar.url()).await?["root"], true);
    Ok(())
}

#[tokio::test]
async fn a_wrong_password_and_a_wrong_username_get_the_same_answer() -> Result<()> {
    let stack = Stack::start().await?;
    let wrong_password = Browser::new()
        .backup_login(stack.sidecar.url(), ROOT_USERNAME, "guess")
        .await?;
    let wrong_user = Browser::new()
        .backup_login(stack.sidecar.url(), "alice", ROOT_PASSWORD)
        .await?;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_user.status(), StatusCode::UNAUTHORIZED);
    let (a, b) = (wrong_password.text().await?, wrong_user.text().await?);
    assert!(a.contains("Wrong username or password."));
    let strip_token = |page: &str| {
        regex_lite::Regex::new(r#"name="csrf" value="[^"]+""#)
            .map(|re| re.replace_all(page, "").into_owned())
    };
    assert_eq!(
        strip_token(&a)?,
        strip_token(&b)?,
        "the two refusals must be indistinguishable"
    );
    Ok(())
}

#[tokio::test]
async fn a_post_without_the_form_token_is_refused() -> Result<()> {
    let stack = Stack::start().await?;
    let response = Browser::new()
        .client()
        .post(stack.url("/login"))
        .form(&[
            ("username", ROOT_USERNAME),
            ("password", ROOT_PASSWORD),
            ("csrf", "forged"),
        ])
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    Ok(())
}

#[tokio::test]
async fn rapid_wrong_attempts_are_rate_limited() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let response = browser
            .backup_login(stack.sidecar.url(), ROOT_USERNAME, "wrong")
            .await?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait: u64 = response.headers()[RETRY_AFTER].to_str()?.parse()?;
            assert!((1..=60).contains(&wait), "Retry-After {wait}");
        }
        statuses.push(status);
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert!(
        statuses[5..]
            .iter()
            .all(|status| *status == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let correct = browser
        .backup_login(stack.sidecar.url(), ROOT_USERNAME, ROOT_PASSWORD)
        .await?;
    assert_eq!(
        correct.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    Ok(())
}

#[tokio::test]
async fn without_a_password_hash_the_backup_login_is_disabled() -> Result<()> {
    let stack = Stack::start_with(|setup| {
        if let Some(root) = setup.config.root_admin.as_mut() {
            root.password_hash_file = None;
        }
    })
    .await?;
    let page = Browser::new().open(&stack.url("/login?backup=1")).await?;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(page.text().await?.contains("Backup login is disabled"));
    Ok(())
}
