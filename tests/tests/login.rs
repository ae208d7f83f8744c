//! The OpenID Connect login, end to end: real provider, real sidecar binary, real app.

use anyhow::Result;
use portcullis_e2e::browser::{Browser, location};
use portcullis_e2e::stack::Stack;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use std::time::Duration;
use url::Url;

/// The headers the echo app received, from its JSON answer.
async fn seen_by_app(response: reqwest::Response) -> Result<Value> {
    assert_eq!(response.status(), StatusCode::OK, "the app should answer");
    let body: Value = response.json().await?;
    Ok(body)
}

fn header<'a>(echo: &'a Value, name: &str) -> Option<&'a str> {
    echo["headers"][name][0].as_str()
}

/// The `Set-Cookie` values of a response that set the session cookie.
fn session_cookies_set(response: &reqwest::Response) -> Vec<&str> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter(|value| value.starts_with("portcullis_session="))
        .collect()
}

#[tokio::test]
async fn the_app_sees_the_user_and_role_and_the_page_asked_for() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    let (url, response) = browser.log_in(&stack.url("/books?page=2"), "alice").await?;
    assert_eq!(url.path(), "/books");
    let echo = seen_by_app(response).await?;
    assert_eq!(echo["path"], "/books");
    assert_eq!(echo["query"], "page=2");
    assert_eq!(header(&echo, "x-forwarded-user"), Some("alice"));
    assert_eq!(
        header(&echo, "x-forwarded-preferred-username"),
        Some("alice")
    );
    assert_eq!(
        header(&echo, "x-forwarded-email"),
        Some("alice@example.test")
    );
    assert_eq!(header(&echo, "x-forwarded-groups"), Some("admin,staff"));
    assert_eq!(header(&echo, "x-portcullis-role"), Some("admin"));
    assert_eq!(header(&echo, "x-portcullis-root"), Some("false"));
    let host = Url::parse(stack.sidecar.url())?;
    assert_eq!(
        header(&echo, "host"),
        Some(&host[url::Position::BeforeHost..url::Position::AfterPort])
    );
    Ok(())
}

#[tokio::test]
async fn every_shape_of_group_claim_gives_the_right_role() -> Result<()> {
    let stack = Stack::start().await?;
    for (login, role, root) in [
        ("trudy", "trusted", "false"),
        ("ursula", "untrusted", "false"),
        ("mixed", "trusted", "false"),
        ("root", "admin", "true"),
    ] {
        let (_, response) = Browser::new().log_in(&stack.url("/"), login).await?;
        let echo = seen_by_app(response).await?;
        assert_eq!(header(&echo, "x-forwarded-user"), Some(login));
        assert_eq!(header(&echo, "x-portcullis-role"), Some(role), "{login}");
        assert_eq!(header(&echo, "x-portcullis-root"), Some(root), "{login}");
    }
    Ok(())
}

#[tokio::test]
async fn auth_me_reports_the_identity_as_json() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    let anonymous = browser.client().get(stack.url("/auth/me")).send().await?;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    browser.log_in(&stack.url("/"), "mixed").await?;
    let me: Value = browser
        .client()
        .get(stack.url("/auth/me"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(me["user"], "mixed");
    assert_eq!(me["role"], "trusted");
    assert_eq!(me["groups"], serde_json::json!(["Staff", "TRUSTED"]));
    assert_eq!(me["root"], false);
    Ok(())
}

#[tokio::test]
async fn spoofed_identity_headers_and_sidecar_cookies_never_reach_the_app() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    browser.log_in(&stack.url("/"), "ursula").await?;
    let cookies = browser.cookies_for(stack.sidecar.url()).unwrap_or_default();
    let response = browser
        .client()
        .get(stack.url("/spoof"))
        .header("X-Forwarded-User", "root")
        .header("x-forwarded-groups", "admin")
        .header("X-Forwarded-Email", "root@example.com")
        .header("X-Portcullis-Role", "admin")
        .header("X-Portcullis-Root", "true")
        .header(COOKIE, format!("{cookies}; app_pref=dark"))
        .send()
        .await?;
    let echo = seen_by_app(response).await?;
    // ursula has no groups: the header is absent, not empty, and the
    // client's `admin` is gone.
    assert_eq!(
        echo["headers"]["x-forwarded-groups"],
        serde_json::Value::Null,
        "x-forwarded-groups"
    );
    for (name, only_value) in [
        ("x-forwarded-user", "ursula"),
        ("x-forwarded-email", "ursula@example.test"),
        ("x-portcullis-role", "untrusted"),
        ("x-portcullis-root", "false"),
    ] {
        assert_eq!(
            echo["headers"][name],
            serde_json::json!([only_value]),
            "{name}"
        );
    }
    let cookies = header(&echo, "cookie").unwrap_or_default();
    assert!(cookies.contains("app_pref=dark"), "{cookies}");
    assert!(
        !cookies.contains("portcullis_session"),
        "the session cookie leaked to the app: {cookies}"
    );
    Ok(())
}

#[tokio::test]
async fn without_a_session_pages_redirect_to_sign_in_and_api_calls_get_401() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    let page = browser.open(&stack.url("/books?page=2")).await?;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers()[LOCATION],
        "/auth/start?rd=%2Fbooks%3Fpage%3D2"
    );
    let api = browser
        .client()
        .post(stack.url("/api/items"))
        .header(ACCEPT, "application/json")
        .send()
        .await?;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    let body: Value = api.json().await?;
    assert_eq!(body["error"], "unauthenticated");
    Ok(())
}

#[tokio::test]
async fn a_tampered_cookie_is_refused() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    browser.log_in(&stack.url("/"), "alice").await?;
    let cookies = browser.cookies_for(stack.sidecar.url()).unwrap_or_default();
    let session = cookies
        .split("; ")
        .find_map(|pair| pair.strip_prefix("portcullis_session="))
        .expect("a session cookie")
        .to_owned();
    let good = reqwest::Client::new()
        .get(stack.url("/auth/me"))
        .header(COOKIE, format!("portcullis_session={session}"))
        .send()
        .await?;
    assert_eq!(good.status(), StatusCode::OK, "the untampered copy works");
    let mut bytes = session.into_bytes();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes)?;
    let refused = reqwest::Client::new()
        .get(stack.url("/private"))
        .header(COOKIE, format!("portcullis_session={tampered}"))
        .send()
        .await?;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn hostile_return_paths_never_redirect_off_site() -> Result<()> {
    let stack = Stack::start().await?;
    for hostile in ["//evil.example", "https://evil.example", "/\\evil.example"] {
        let browser = Browser::new();
        let start = Url::parse_with_params(&stack.url("/auth/start"), [("rd", hostile)])?;
        let callback = browser
            .sign_in_until_callback(start.as_str(), "alice", "alice-pw")
            .await?;
        let response = browser.open(callback.as_str()).await?;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[LOCATION], "/", "rd={hostile}");
        let page = browser
            .open(start.as_str().replace("/auth/start", "/login").as_str())
            .await?
            .text()
            .await?;
        assert!(
            page.contains("name=\"rd\" value=\"/\""),
            "login page kept rd={hostile}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_replayed_callback_fails() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    let callback = browser
        .sign_in_until_callback(&stack.url("/"), "alice", "alice-pw")
        .await?;
    let pending = browser
        .cookies_for(stack.sidecar.url())
        .expect("pending login cookie");
    let first = browser.open(callback.as_str()).await?;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert!(session_cookies_set(&first).iter().any(|c| c.len() > 40));

    let again = browser.open(callback.as_str()).await?;
    assert_eq!(
        again.status(),
        StatusCode::BAD_REQUEST,
        "the pending login was used up"
    );

    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let replayed = replay
        .get(callback.as_str())
        .header(COOKIE, pending)
        .send()
        .await?;
    assert_eq!(
        replayed.status(),
        StatusCode::BAD_GATEWAY,
        "the provider refuses a used code"
    );
    assert!(
        session_cookies_set(&replayed).is_empty(),
        "a replayed code must not issue a session"
    );
    Ok(())
}

#[tokio::test]
async fn a_callback_delivered_to_another_browser_does_not_log_it_in() -> Result<()> {
    let stack = Stack::start().await?;
    let victim = Browser::new();
    let callback = victim
        .sign_in_until_callback(&stack.url("/"), "alice", "alice-pw")
        .await?;
    let attacker = Browser::new();
    let response = attacker.open(callback.as_str()).await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await?;
    assert!(page.contains("no sign-in in progress"), "{page}");
    let me = attacker.client().get(stack.url("/auth/me")).send().await?;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn a_callback_naming_another_provider_is_refused_before_the_code_is_used() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    let callback = browser
        .sign_in_until_callback(&stack.url("/"), "alice", "alice-pw")
        .await?;
    let issuer = callback
        .query_pairs()
        .find(|(name, _)| name == "iss")
        .map(|(_, value)| value.into_owned());
    assert_eq!(
        issuer.as_deref(),
        Some(stack.idp.issuer.as_str()),
        "the provider names itself in the response (RFC 9207)"
    );
    let mut mixed_up = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(name, value)| {
            let value = if name == "iss" {
                "https://evil.example".to_owned()
            } else {
                value.into_owned()
            };
            (name.into_owned(), value)
        })
        .collect();
    mixed_up.query_pairs_mut().clear().extend_pairs(pairs);
    let response = browser.open(mixed_up.as_str()).await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(session_cookies_set(&response).is_empty());
    let page = response.text().await?;
    assert!(page.contains("different identity provider"), "{page}");
    let me = browser.client().get(stack.url("/auth/me")).send().await?;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn access_denied_at_the_provider_shows_a_clear_page() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    let (interaction, _) = browser
        .follow_until(Url::parse(&stack.url("/"))?, |_| false)
        .await?;
    assert!(
        interaction.path().starts_with("/interaction/"),
        "{interaction}"
    );
    let abort = interaction.join(&format!("{}/abort", interaction.path()))?;
    let response = browser.client().post(abort.clone()).send().await?;
    let next = location(&abort, &response)?.expect("redirect after abort");
    let (url, page) = browser.follow(next).await?;
    assert_eq!(url.path(), "/auth/oidc");
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let text = page.text().await?;
    assert!(text.contains("<code>access_denied</code>"), "{text}");
    assert!(text.contains("/login?backup=1"), "{text}");
    Ok(())
}

#[tokio::test]
async fn a_missing_username_claim_is_an_error_page_not_a_login() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    let (_, response) = browser.log_in(&stack.url("/"), "noname").await?;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await?.contains("preferred_username"));
    let me = browser.client().get(stack.url("/auth/me")).send().await?;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn the_session_ends_when_the_tokens_expires_in_runs_out() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    let (_, response) = browser.log_in(&stack.url("/"), "shorty").await?;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = browser
        .client()
        .get(stack.url("/auth/me"))
        .send()
        .await?
        .json()
        .await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let lifetime = me["expiresAt"]
        .as_u64()
        .unwrap_or_default()
        .saturating_sub(now);
    assert!(
        lifetime <= 3,
        "shorty's session should last the token's 3 s, not {lifetime} s"
    );
    tokio::time::sleep(Duration::from_millis(4200)).await;
    let later = browser.client().get(stack.url("/auth/me")).send().await?;
    assert_eq!(later.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn an_unreachable_app_gives_a_502_page() -> Result<()> {
    let closed = portcullis_e2e::process::free_port();
    let stack =
        Stack::start_with(|setup| setup.config.upstream = format!("http://127.0.0.1:{closed}"))
            .await?;
    let browser = Browser::new();
    let (_, response) = browser.log_in(&stack.url("/"), "alice").await?;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.text().await?.contains("Application unavailable"));
    Ok(())
}

#[tokio::test]
async fn websocket_upgrades_are_spliced_through_to_the_app() -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stack = Stack::start().await?;
    let browser = Browser::new();
    browser.log_in(&stack.url("/"), "alice").await?;
    let cookies = browser.cookies_for(stack.sidecar.url()).unwrap_or_default();
    let addr = stack.sidecar.url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await?;
    let request = format!(
        "GET /socket HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nCookie: {cookies}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut head)).await??;
    let head = String::from_utf8_lossy(&head[..read]).to_string();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream.write_all(b"ping through the proxy").await?;
    let mut echoed = [0u8; 22];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echoed)).await??;
    assert_eq!(&echoed, b"ping through the proxy");
    Ok(())
}

#[tokio::test]
async fn login_outcomes_are_counted_in_metrics() -> Result<()> {
    let stack = Stack::start().await?;
    Browser::new().log_in(&stack.url("/"), "alice").await?;
    Browser::new().log_in(&stack.url("/"), "noname").await?;
    let metrics = reqwest::get(format!("{}/metrics", stack.sidecar.admin_url()))
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains("portcullis_logins_total{outcome=\"Success\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_logins_total{outcome=\"BadClaims\"} 1"),
        "{metrics}"
    );
    let ready: Value = reqwest::get(format!("{}/readyz", stack.sidecar.admin_url()))
        .await?
        .json()
        .await?;
    assert_eq!(ready["identityProvider"]["status"], "ok");
    Ok(())
}

#[tokio::test]
async fn two_sign_ins_started_in_one_browser_both_finish() -> Result<()> {
    let stack = Stack::start().await?;
    let browser = Browser::new();
    let first = browser
        .sign_in_until_callback(&stack.url("/first"), "alice", "alice-pw")
        .await?;
    let second = browser
        .sign_in_until_callback(&stack.url("/second"), "alice", "alice-pw")
        .await?;
    for (callback, page) in [(first, "/first"), (second, "/second")] {
        let response = browser.open(callback.as_str()).await?;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(response.headers()[LOCATION], page);
    }
    Ok(())
}

#[tokio::test]
async fn a_provider_declaring_its_issuer_with_a_trailing_slash_signs_users_in() -> Result<()> {
    let stack = Stack::start_with_provider(
        async |public_url| {
            portcullis_e2e::idp::Idp::start_declaring_issuer_with_slash(public_url).await
        },
        |_| {},
    )
    .await?;
    let (_, response) = Browser::new().log_in(&stack.url("/who"), "alice").await?;
    let echo = seen_by_app(response).await?;
    assert_eq!(header(&echo, "x-forwarded-user"), Some("alice"));
    assert_eq!(header(&echo, "x-portcullis-role"), Some("admin"));
    Ok(())
}
