//! Keycloak 26 in front of the real sidecar binary.
//!
//! One Keycloak serves every test of this binary (it costs tens of seconds
//! and about 400 MB to start); each test signs in with its own cookie jar and
//! its own sidecar. Keycloak is where group paths (`/admin`), realm roles in
//! `realm_access.roles`, a client's short access-token lifetime and a
//! provider session that outlives the app's session meet the sidecar. The
//! operator's status checks meet the same Keycloak here too (with the real
//! API server), so Keycloak starts once for both. An administrator ending a
//! user's sessions in Keycloak reaches every replica by back-channel logout.

use anyhow::{Context, Result};
use kube::api::{Patch, PatchParams};
use portcullis_contract::config::RoleGroups;
use portcullis_contract::paths::BACKCHANNEL_LOGOUT_PATH;
use portcullis_e2e::browser::Browser;
use portcullis_e2e::echo::Echo;
use portcullis_e2e::form_login::{Reached, log_in_with_form, reach_callback_or_form};
use portcullis_e2e::keycloak::{Keycloak, SHORT_CLIENT_ID, SHORT_TOKEN_SECONDS};
use portcullis_e2e::keycloak_admin::{BACKCHANNEL_CLIENT_ID, LEAVING_USER, RealmAdmin};
use portcullis_e2e::kube::env::{Env, NAME, assert_says};
use portcullis_e2e::redis::Redis;
use portcullis_e2e::role_login::{RoleCase, assert_each_role_signs_in};
use portcullis_e2e::sidecar::{ROOT_USERNAME, Sidecar, SidecarSetup, reserve_public_url};
use portcullis_e2e::store_replicas::{me, until_all_refuse, until_store_ok};
use portcullis_e2e::webdriver::Chromium;
use portcullis_operator::crd::OidcSettingsSpec;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use url::Url;

/// The shared Keycloak, the echo app and a sidecar of this test's own.
struct KeycloakStack {
    keycloak: &'static Keycloak,
    _echo: Echo,
    sidecar: Sidecar,
}

impl KeycloakStack {
    async fn start() -> Result<Self> {
        Self::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut SidecarSetup)) -> Result<Self> {
        let keycloak = tokio::task::spawn_blocking(Keycloak::shared).await?;
        let (port, _) = reserve_public_url();
        let echo = Echo::start().await?;
        let mut setup = SidecarSetup::new(port, &keycloak.well_known_url(), &echo.url)?;
        // Keycloak does not offer a `groups` scope; its mapper sends them.
        setup.config.oidc.scopes = ["openid", "profile", "email"].map(String::from).to_vec();
        tweak(&mut setup);
        let sidecar = setup.start().await?;
        Ok(Self {
            keycloak,
            _echo: echo,
            sidecar,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sidecar.url())
    }
}

/// Signs in on Keycloak's form as `user` (password `<user>-pw`); returns
/// what the app received, or the sidecar's refusal.
async fn log_in(browser: &Browser, stack: &KeycloakStack, user: &str) -> Result<reqwest::Response> {
    let password = format!("{user}-pw");
    let (_, response) = log_in_with_form(
        browser,
        &stack.url("/books"),
        &[("username", user), ("password", password.as_str())],
    )
    .await?;
    Ok(response)
}

/// The role the app saw for a fresh login of `user`.
async fn role_of(stack: &KeycloakStack, user: &str) -> Result<String> {
    let response = log_in(&Browser::new(), stack, user).await?;
    assert_eq!(response.status(), StatusCode::OK, "{user} reaches the app");
    let echo: Value = response.json().await?;
    Ok(echo["headers"]["x-portcullis-role"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

#[tokio::test]
async fn each_role_signs_in_through_the_keycloak_login_form() -> Result<()> {
    let stack = KeycloakStack::start().await?;
    let case = |user: &'static str, role, root, groups| RoleCase {
        user,
        forwarded_user: user.to_owned(),
        role,
        root,
        groups,
    };
    let cases = [
        case("kc-admin", "admin", false, Some(json!(["/admin"]))),
        case("kc-trusted", "trusted", false, Some(json!(["/trusted"]))),
        case("kc-nobody", "untrusted", false, None),
        case(ROOT_USERNAME, "admin", true, None),
    ];
    let stack = &stack;
    assert_each_role_signs_in(&cases, |user| async move {
        let response = log_in(&Browser::new(), stack, user).await?;
        assert_eq!(response.status(), StatusCode::OK, "{user}");
        Ok(response.json().await?)
    })
    .await
}

#[tokio::test]
async fn nested_group_paths_map_to_roles_through_the_role_mapping() -> Result<()> {
    let stack = KeycloakStack::start_with(|setup| {
        setup.config.oidc.role_groups = RoleGroups {
            admin: vec!["/Platform/Ops".into()],
            trusted: vec!["admin".into()],
        };
    })
    .await?;
    assert_eq!(role_of(&stack, "kc-ops").await?, "admin");
    assert_eq!(role_of(&stack, "kc-admin").await?, "trusted");
    assert_eq!(role_of(&stack, "kc-trusted").await?, "untrusted");
    Ok(())
}

#[tokio::test]
async fn realm_roles_map_to_roles_through_a_nested_claim_path() -> Result<()> {
    let stack = KeycloakStack::start_with(|setup| {
        setup.config.oidc.group_claim = "realm_access.roles".into();
        setup.config.oidc.role_groups = RoleGroups {
            admin: vec!["books-admin".into()],
            trusted: vec!["books-reader".into()],
        };
    })
    .await?;
    assert_eq!(role_of(&stack, "kc-ops").await?, "admin");
    assert_eq!(role_of(&stack, "kc-reader").await?, "trusted");
    assert_eq!(role_of(&stack, "kc-admin").await?, "untrusted");
    Ok(())
}

#[tokio::test]
async fn a_user_in_none_of_the_allowed_groups_is_refused() -> Result<()> {
    let stack = KeycloakStack::start_with(|setup| {
        setup.config.oidc.allowed_groups = vec!["admin".into(), "/trusted".into()];
    })
    .await?;
    let browser = Browser::new();
    let refused = log_in(&browser, &stack, "kc-nobody").await?;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await?.contains("not allowed here"));
    let me = browser.client().get(stack.url("/auth/me")).send().await?;
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "no session was issued"
    );
    assert_eq!(role_of(&stack, "kc-trusted").await?, "trusted");
    Ok(())
}

#[tokio::test]
async fn a_session_outlives_three_short_access_token_lifetimes_without_a_sign_in() -> Result<()> {
    let stack = KeycloakStack::start_with(|setup| {
        setup.config.oidc.client_id = SHORT_CLIENT_ID.into();
        setup.config.session.refresh_skew_seconds = 1;
    })
    .await?;
    let browser = Browser::new();
    let response = log_in(&browser, &stack, "kc-trusted").await?;
    assert_eq!(response.status(), StatusCode::OK);
    let cookies = browser
        .cookies_for(stack.sidecar.url())
        .context("cookies")?;
    let name = &stack.sidecar.setup.config.session.cookie_name;
    let session_cookie = cookies
        .split("; ")
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .context("a session cookie")?;
    eprintln!(
        "the session cookie with Keycloak's refresh and ID tokens is {} bytes",
        session_cookie.len()
    );
    assert!(session_cookie.len() < 4096, "one cookie holds it");
    let mut expires_at = 0;
    for lifetime in 1..=4 {
        let me: Value = browser
            .client()
            .get(stack.url("/auth/me"))
            .send()
            .await?
            .json()
            .await
            .with_context(|| format!("signed in during lifetime {lifetime}"))?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
        let next = me["expiresAt"].as_u64().unwrap_or_default();
        let left = next.saturating_sub(now.as_secs());
        assert!(left <= SHORT_TOKEN_SECONDS, "{left} s left: {me}");
        assert!(next > expires_at, "a new access token each lifetime: {me}");
        expires_at = next;
        tokio::time::sleep(Duration::from_secs(SHORT_TOKEN_SECONDS + 1)).await;
    }
    Ok(())
}

#[tokio::test]
async fn log_out_also_ends_the_keycloak_session() -> Result<()> {
    let stack = KeycloakStack::start().await?;
    let browser = Browser::new();
    let start = Url::parse(&stack.url("/auth/start?rd=/books"))?;
    log_in(&browser, &stack, "kc-trusted").await?;
    assert!(
        matches!(
            reach_callback_or_form(&browser, &start).await?,
            Reached::Callback(_)
        ),
        "while the Keycloak session lasts, signing in again asks nothing"
    );

    let response = browser.log_out(stack.sidecar.url()).await?;
    let next = portcullis_e2e::browser::location(&Url::parse(stack.sidecar.url())?, &response)?;
    let next = next.ok_or_else(|| anyhow::anyhow!("log out does not redirect"))?;
    assert!(
        next.as_str().starts_with(&stack.keycloak.issuer),
        "log out continues at Keycloak: {next}"
    );
    let (landed, _) = browser.follow(next).await?;
    assert_eq!(
        (landed.origin(), landed.path()),
        (Url::parse(stack.sidecar.url())?.origin(), "/login"),
        "Keycloak sends the browser back to the sidecar"
    );
    assert!(
        matches!(
            reach_callback_or_form(&browser, &start).await?,
            Reached::Form(_)
        ),
        "after log out, Keycloak asks for the password again"
    );
    Ok(())
}

#[tokio::test]
async fn chromium_signs_in_on_the_keycloak_form() -> Result<()> {
    let browser = Chromium::start().await?;
    let stack = KeycloakStack::start().await?;
    let keycloak = Url::parse(&stack.keycloak.url)?.origin();
    browser.goto(&stack.url("/books")).await?;
    browser
        .wait_for_url("Keycloak's login form", |url| url.origin() == keycloak)
        .await?;
    browser
        .find("#username")
        .await?
        .send_keys("kc-admin")
        .await?;
    browser
        .find("#password")
        .await?
        .send_keys("kc-admin-pw")
        .await?;
    browser.find("#kc-login").await?.click().await?;
    let sidecar = Url::parse(stack.sidecar.url())?.origin();
    browser
        .wait_for_url("the page asked for, on the sidecar", |url| {
            url.origin() == sidecar && url.path() == "/books"
        })
        .await?;
    let echo = browser.json_on_page().await?;
    assert_eq!(echo["headers"]["x-forwarded-user"], json!(["kc-admin"]));
    assert_eq!(echo["headers"]["x-portcullis-role"], json!(["admin"]));
    browser.quit().await
}

/// The operator watching an `OidcSettings` that names this Keycloak realm.
async fn operator_env(
    keycloak: &'static Keycloak,
    change: impl FnOnce(&mut OidcSettingsSpec),
) -> Result<Env<&'static Keycloak>> {
    let (_, public_url) = reserve_public_url();
    Env::start_at(
        "keycloak",
        keycloak,
        &keycloak.well_known_url(),
        &public_url,
        change,
    )
    .await
}

#[tokio::test]
async fn the_operator_reports_keycloak_ready_and_names_the_group_mapper_it_needs() -> Result<()> {
    let keycloak = tokio::task::spawn_blocking(Keycloak::shared).await?;
    let env = operator_env(keycloak, |spec| {
        spec.scopes = ["openid", "profile", "email"].map(String::from).to_vec();
    })
    .await?;
    let ready = env.wait_ready().await?;
    assert_eq!(ready.reason, "Reconciled");
    let compatible = env
        .wait_condition("ProviderCompatible", |c| c.status == "True")
        .await?;
    assert_eq!(compatible.reason, "ProviderMatches");
    let claims = env
        .wait_condition("ClaimsAdvertised", |c| c.status == "False")
        .await?;
    assert_eq!(claims.reason, "ClaimNotAdvertised");
    let hint = [
        "spec.groupClaim groups is not listed in claims_supported",
        "this looks like Keycloak (realm portcullis)",
        "\"oidc-group-membership-mapper\"",
        "full.path=false",
        "do not request a `groups` scope",
    ];
    assert_says(&claims, &hint);
    assert_says(&ready, &hint);
    assert!(
        !claims.message.contains("usernameClaim"),
        "Keycloak lists preferred_username: {}",
        claims.message
    );
    let secure = env.wait_condition("IssuerSecure", |_| true).await?;
    assert_eq!(
        (secure.status.as_str(), secure.reason.as_str()),
        ("False", "InsecureIssuer"),
        "the test Keycloak serves plain http"
    );
    let logout = env
        .wait_condition("BackChannelLogout", |c| c.status == "True")
        .await?;
    assert_eq!(logout.reason, "BackChannelLogoutReady");
    assert_says(&logout, &["/auth/backchannel-logout", "register"]);
    let renewal = env
        .wait_condition("SessionRenewal", |c| c.status == "True")
        .await?;
    assert_eq!(renewal.reason, "RefreshTokensGranted");
    assert_says(
        &renewal,
        &["refresh tokens", "spec.session.maxLifetimeSeconds"],
    );

    env.settings_api()
        .patch(
            NAME,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"groupClaim": "realm_access.roles"}})),
        )
        .await?;
    let roles = env
        .wait_condition("ClaimsAdvertised", |c| {
            c.message.contains("spec.groupClaim realm_access.roles")
        })
        .await?;
    assert_says(
        &roles,
        &[
            "spec.groupClaim realm_access.roles (its top-level claim realm_access)",
            "\"realm roles\" or \"client roles\" mapper of the `roles` client scope",
        ],
    );
    assert_eq!(env.wait_ready().await?.reason, "Reconciled");
    Ok(())
}

#[tokio::test]
async fn a_groups_scope_keycloak_refuses_keeps_the_settings_from_ready_and_says_why() -> Result<()>
{
    let keycloak = tokio::task::spawn_blocking(Keycloak::shared).await?;
    // What the status warns about: Keycloak refuses the sign-in outright.
    let discovery: Value = reqwest::get(keycloak.well_known_url())
        .await?
        .json()
        .await?;
    let mut authorize = Url::parse(
        discovery["authorization_endpoint"]
            .as_str()
            .context("authorization_endpoint")?,
    )?;
    authorize
        .query_pairs_mut()
        .append_pair("client_id", portcullis_e2e::keycloak::CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", "http://127.0.0.1:1/auth/oidc")
        .append_pair("scope", "openid groups")
        .append_pair("state", "s");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let refused = no_redirects.get(authorize).send().await?;
    let location = refused
        .headers()
        .get(reqwest::header::LOCATION)
        .context("Keycloak redirects back")?
        .to_str()?;
    assert!(location.contains("error=invalid_scope"), "{location}");

    let env = operator_env(keycloak, |spec| {
        spec.scopes = ["openid", "profile", "groups"].map(String::from).to_vec();
    })
    .await?;
    let ready = env.wait_condition("Ready", |c| c.status == "False").await?;
    assert_eq!(ready.reason, "ScopeNotSupported");
    assert_says(
        &ready,
        &[
            "spec.scopes requests groups that the provider does not list in scopes_supported",
            "this looks like Keycloak (realm portcullis), which has no `groups` scope",
            "\"oidc-group-membership-mapper\"",
        ],
    );
    Ok(())
}

#[tokio::test]
async fn an_admin_logout_at_keycloak_ends_the_session_on_every_replica_within_a_second()
-> Result<()> {
    let redis = Redis::start().await?;
    let store = redis.store_config("keycloak-backchannel:", 60);
    let stack = KeycloakStack::start_with(|setup| {
        setup.config.oidc.client_id = BACKCHANNEL_CLIENT_ID.to_owned();
        setup.config.session.store = Some(store.clone());
    })
    .await?;
    let admin = RealmAdmin::sign_in(stack.keycloak).await?;
    admin
        .set_backchannel_logout_url(BACKCHANNEL_CLIENT_ID, &stack.url(BACKCHANNEL_LOGOUT_PATH))
        .await?;
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let (port, _) = reserve_public_url();
        let first = &stack.sidecar.setup.config;
        let mut setup = SidecarSetup::new(port, &first.oidc.well_known_url, &stack._echo.url)?;
        setup.config.oidc = first.oidc.clone();
        setup.config.session.key_file = first.session.key_file.clone();
        setup.config.oidc.client_secret_file = first.oidc.client_secret_file.clone();
        setup.config.session.store = Some(store.clone());
        replicas.push(setup.start().await?);
    }
    let all: Vec<&Sidecar> = std::iter::once(&stack.sidecar).chain(&replicas).collect();
    for sidecar in &all {
        until_store_ok(sidecar).await?;
    }

    let browser = Browser::new();
    let reached = log_in(&browser, &stack, LEAVING_USER).await?;
    assert_eq!(
        reached.status(),
        StatusCode::OK,
        "{LEAVING_USER} reaches the app"
    );
    let cookie = browser
        .cookies_for(stack.sidecar.url())
        .context("a session")?;
    for sidecar in &all {
        assert_eq!(me(sidecar, &cookie).await?.status(), StatusCode::OK);
    }

    admin.log_out_user(LEAVING_USER).await?;
    let slowest = until_all_refuse(&all, &cookie).await?;
    eprintln!(
        "Keycloak's admin logout ended the session on all three replicas {slowest:?} after the admin call returned"
    );
    assert!(slowest < Duration::from_secs(1), "took {slowest:?}");
    Ok(())
}
