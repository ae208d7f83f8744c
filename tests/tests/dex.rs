//! Dex, built from its own Go module, in front of the real sidecar binary.
//!
//! Dex is where a sidecar written against one provider breaks: no
//! `end_session_endpoint` (log out must stay local), no `iss` on the callback,
//! groups in the ID token, login by email on Dex's own form, and no
//! `preferred_username` for its static users (so the username claim is
//! `email`). Each test starts its own Dex (ready in well under a second).
//! The operator's status checks meet a real Dex here too, with the real API
//! server.

use anyhow::{Context, Result};
use kube::api::{Patch, PatchParams};
use portcullis_e2e::browser::Browser;
use portcullis_e2e::dex::Dex;
use portcullis_e2e::echo::Echo;
use portcullis_e2e::form_login::log_in_with_form;
use portcullis_e2e::kube::env::{Env, NAME, assert_says};
use portcullis_e2e::role_login::{RoleCase, assert_each_role_signs_in};
use portcullis_e2e::sidecar::{Sidecar, SidecarSetup, reserve_public_url};
use portcullis_e2e::webdriver::Chromium;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use url::Url;

/// Dex, the echo app and the sidecar signing in at Dex.
struct DexStack {
    dex: Dex,
    _echo: Echo,
    sidecar: Sidecar,
}

impl DexStack {
    async fn start() -> Result<Self> {
        let (port, public_url) = reserve_public_url();
        let dex = Dex::start(&public_url).await?;
        let echo = Echo::start().await?;
        let mut setup = SidecarSetup::new(port, &dex.well_known_url(), &echo.url)?;
        setup.config.oidc.username_claim = "email".into();
        if let Some(root) = setup.config.root_admin.as_mut() {
            root.username = "root@example.test".into();
        }
        let sidecar = setup.start().await?;
        Ok(Self {
            dex,
            _echo: echo,
            sidecar,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sidecar.url())
    }
}

/// Signs in on Dex's form as `user` (email `<user>@example.test`, password `<user>-pw`).
async fn log_in(browser: &Browser, stack: &DexStack, user: &str) -> Result<Value> {
    let email = format!("{user}@example.test");
    let password = format!("{user}-pw");
    let (url, response) = log_in_with_form(
        browser,
        &stack.url("/books"),
        &[("login", email.as_str()), ("password", password.as_str())],
    )
    .await?;
    assert_eq!(url.path(), "/books", "{user} returns to the page asked for");
    assert_eq!(response.status(), StatusCode::OK, "{user} reaches the app");
    Ok(response.json().await?)
}

#[tokio::test]
async fn each_role_signs_in_through_the_dex_login_form() -> Result<()> {
    let stack = DexStack::start().await?;
    let case = |user: &'static str, role, root, groups| RoleCase {
        user,
        forwarded_user: format!("{user}@example.test"),
        role,
        root,
        groups,
    };
    let cases = [
        case("dex-admin", "admin", false, Some(json!(["admin"]))),
        case(
            "dex-trusted",
            "trusted",
            false,
            Some(json!(["trusted,staff"])),
        ),
        case("dex-nobody", "untrusted", false, None),
        case("root", "admin", true, None),
    ];
    let stack = &stack;
    assert_each_role_signs_in(&cases, |user| async move {
        log_in(&Browser::new(), stack, user).await
    })
    .await
}

#[tokio::test]
async fn log_out_is_local_because_dex_has_no_end_session_endpoint() -> Result<()> {
    let stack = DexStack::start().await?;
    let discovery: Value = reqwest::get(stack.dex.well_known_url())
        .await?
        .json()
        .await?;
    assert!(
        discovery.get("end_session_endpoint").is_none(),
        "this Dex gained an end_session_endpoint; the test's premise changed"
    );
    let browser = Browser::new();
    log_in(&browser, &stack, "dex-trusted").await?;
    let response = browser.log_out(stack.sidecar.url()).await?;
    assert!(response.status().is_redirection(), "{}", response.status());
    let target = response
        .headers()
        .get(LOCATION)
        .context("log out redirects")?
        .to_str()?;
    let target = Url::parse(stack.sidecar.url())?.join(target)?;
    assert_eq!(
        (target.origin(), target.path()),
        (Url::parse(stack.sidecar.url())?.origin(), "/login"),
        "the browser stays on the sidecar"
    );
    let me = browser.client().get(stack.url("/auth/me")).send().await?;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "the session ended");
    Ok(())
}

#[tokio::test]
async fn chromium_signs_in_on_the_dex_form() -> Result<()> {
    let browser = Chromium::start().await?;
    let stack = DexStack::start().await?;
    let dex_origin = Url::parse(&stack.dex.issuer)?.origin();
    browser.goto(&stack.url("/books")).await?;
    browser
        .wait_for_url("Dex's login form", |url| {
            url.origin() == dex_origin && url.path().starts_with("/dex/auth/local")
        })
        .await?;
    browser
        .find("input[name=login]")
        .await?
        .send_keys("dex-admin@example.test")
        .await?;
    browser
        .find("input[name=password]")
        .await?
        .send_keys("dex-admin-pw")
        .await?;
    browser.find("button[type=submit]").await?.click().await?;
    let sidecar_origin = Url::parse(stack.sidecar.url())?.origin();
    browser
        .wait_for_url("the page asked for, on the sidecar", |url| {
            url.origin() == sidecar_origin && url.path() == "/books"
        })
        .await?;
    let echo = browser.json_on_page().await?;
    assert_eq!(
        echo["headers"]["x-forwarded-user"],
        json!(["dex-admin@example.test"])
    );
    assert_eq!(echo["headers"]["x-portcullis-role"], json!(["admin"]));
    browser.quit().await
}

#[tokio::test]
async fn the_operator_reports_dex_ready_and_asks_for_the_groups_scope_it_advertises() -> Result<()>
{
    let (_, public_url) = reserve_public_url();
    let dex = Dex::start(&public_url).await?;
    let well_known_url = dex.well_known_url();
    let env = Env::start_at("dex", dex, &well_known_url, &public_url, |spec| {
        spec.username_claim = "email".into();
        spec.scopes = ["openid", "profile", "email"].map(String::from).to_vec();
    })
    .await?;
    let ready = env.wait_ready().await?;
    assert_eq!(ready.reason, "Reconciled");
    let claims = env
        .wait_condition("ClaimsAdvertised", |c| c.status == "False")
        .await?;
    assert_eq!(claims.reason, "GroupScopeNotRequested");
    let hint = [
        "the provider offers the scope groups and spec.scopes does not request it",
        "spec.groupClaim groups is not listed in claims_supported",
        "this looks like Dex",
        "add `groups` to spec.scopes",
    ];
    assert_says(&claims, &hint);
    assert_says(&ready, &hint);
    assert!(
        !claims.message.contains("usernameClaim"),
        "{}",
        claims.message
    );

    env.settings_api()
        .patch(
            NAME,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"scopes": ["openid", "profile", "email", "groups"]}})),
        )
        .await?;
    let requested = env
        .wait_condition("ClaimsAdvertised", |c| {
            c.message.contains("which spec.scopes requests")
        })
        .await?;
    assert_eq!(
        requested.status, "False",
        "still a warning: Dex does not list the claim"
    );
    let compatible = env
        .wait_condition("ProviderCompatible", |c| c.status == "True")
        .await?;
    assert_eq!(
        compatible.reason, "ProviderMatches",
        "Dex advertises the groups scope"
    );
    assert_eq!(env.wait_ready().await?.reason, "Reconciled");
    Ok(())
}
