//! One forward-auth service for many hosts behind a real nginx
//! (`examples/forward-auth/nginx-many-hosts.conf`): Chromium asks for a
//! page on an app's host, is sent to sign in on the central host, signs in
//! at the test provider and lands back on the page it asked for, its
//! session cookie set for the parent domain. The app's host routes none
//! of the sign-in pages (the provider knows only the central host's
//! callback), so landing there signed in shows the cookie crossed hosts.
//!
//! Chromium resolves the example's names to 127.0.0.1 and nowhere else;
//! nginx tells the hosts apart by name on one loopback port.

use anyhow::Result;
use portcullis_contract::config::SidecarConfig;
use portcullis_contract::forward_auth::ForwardAuthConfig;
use portcullis_e2e::echo::Echo;
use portcullis_e2e::idp::Idp;
use portcullis_e2e::nginx::{Addresses, MANY_HOSTS, Nginx};
use portcullis_e2e::process::free_port;
use portcullis_e2e::sidecar::SidecarSetup;
use portcullis_e2e::webdriver::Chromium;
use serde_json::json;

/// The central host, where the provider sends the browser back.
const AUTH: &str = "auth.example.com";
/// An app's host the example protects.
const FILMS: &str = "films.example.com";
/// The domain the session cookie is set for.
const DOMAIN: &str = "example.com";

#[tokio::test]
async fn chromium_signs_in_on_the_central_host_and_lands_back_on_the_app_host() -> Result<()> {
    let port = free_port();
    let public_url = format!("http://{AUTH}:{port}");
    let idp = Idp::start(&public_url).await?;
    let echo = Echo::start().await?;
    let mut setup = SidecarSetup::new(free_port(), &idp.well_known_url(), &echo.url)?;
    setup.config.upstream = String::new();
    setup.config.forward_auth = Some(ForwardAuthConfig {
        hosts: vec![FILMS.to_owned()],
        ..ForwardAuthConfig::default()
    });
    setup.config.session.cookie_domain = Some(DOMAIN.to_owned());
    setup.config.trusted_proxies = vec!["127.0.0.1".to_owned()];
    setup.config.public_url = public_url.clone();
    setup.config.authorization =
        SidecarConfig::from_yaml("authorization:\n  rules:\n    - {path: /, allow: trusted}\n")?
            .authorization;
    let sidecar = setup.start().await?;
    let _nginx = Nginx::start_example(
        MANY_HOSTS,
        &Addresses {
            port,
            app: echo.url.trim_start_matches("http://"),
            portcullis: sidecar.url().trim_start_matches("http://"),
        },
    )
    .await?;
    let browser = Chromium::start_resolving(&[AUTH, FILMS]).await?;

    browser
        .goto(&format!("http://{FILMS}:{port}/reel?page=2"))
        .await?;
    browser.sign_in_at_provider(&idp.issuer, "alice").await?;
    let landed = browser
        .wait_for_url("the page asked for, on the app's host", |url| {
            url.host_str() == Some(FILMS) && url.path() == "/reel"
        })
        .await?;
    assert_eq!(landed.query(), Some("page=2"));
    let echo_seen = browser.json_on_page().await?;
    assert_eq!(
        echo_seen["headers"]["x-forwarded-user"],
        json!(["alice"]),
        "{echo_seen}"
    );
    let cookie = browser
        .get_all_cookies()
        .await?
        .into_iter()
        .find(|cookie| cookie.name() == sidecar.setup.config.session.cookie_name)
        .ok_or_else(|| anyhow::anyhow!("no session cookie on {FILMS}"))?;
    assert_eq!(
        cookie.domain().map(|domain| domain.trim_start_matches('.')),
        Some(DOMAIN),
        "the session cookie is set for the parent domain"
    );
    drop(sidecar);
    browser.quit().await
}
