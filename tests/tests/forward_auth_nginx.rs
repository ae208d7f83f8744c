//! The forward-auth door behind a real nginx, configured as ingress-nginx's
//! `auth-url` is (`examples/forward-auth/nginx.conf`): the gate's table of
//! request vectors gets the gate's verdicts through it, a client cannot
//! name another request or forge the identity the app reads, and Chromium
//! signs in through it at the test provider.

#[path = "../../sidecar/tests/handlers/gate_table.rs"]
#[allow(dead_code)]
mod gate_table;
#[path = "table/cookies.rs"]
mod table_cookies;

use anyhow::{Context, Result};
use gate_table::{Outcome, RULES, VECTORS, Who};
use portcullis_contract::config::SidecarConfig;
use portcullis_contract::forward_auth::ForwardAuthConfig;
use portcullis_e2e::browser::Browser;
use portcullis_e2e::echo::Echo;
use portcullis_e2e::guarded::RawResponse;
use portcullis_e2e::idp::Idp;
use portcullis_e2e::nginx::{Addresses, Nginx};
use portcullis_e2e::process::free_port;
use portcullis_e2e::sidecar::{Sidecar, SidecarSetup, reserve_public_url};
use portcullis_e2e::webdriver::Chromium;
use serde_json::{Value, json};
use std::time::Duration;
use table_cookies::table_cookie;

/// nginx, the app behind it and the forward-auth sidecar it asks.
struct Front {
    nginx: Nginx,
    sidecar: Sidecar,
    _echo: Echo,
}

impl Front {
    /// Starts the three, the sidecar signing in at `well_known_url` (the
    /// provider registered for `public_url`, nginx's) under `rules`.
    async fn start(port: u16, public_url: &str, well_known_url: &str, rules: &str) -> Result<Self> {
        Self::start_with(port, public_url, well_known_url, rules, |_| {}).await
    }

    /// [`Front::start`], with the sidecar's setup changed by `tweak`.
    async fn start_with(
        port: u16,
        public_url: &str,
        well_known_url: &str,
        rules: &str,
        tweak: impl FnOnce(&mut SidecarSetup),
    ) -> Result<Self> {
        let echo = Echo::start().await?;
        let mut setup = SidecarSetup::new(free_port(), well_known_url, &echo.url)?;
        setup.config.upstream = String::new();
        setup.config.forward_auth = Some(ForwardAuthConfig::default());
        setup.config.trusted_proxies = vec!["127.0.0.1".to_owned()];
        setup.config.public_url = public_url.to_owned();
        setup.config.authorization = SidecarConfig::from_yaml(rules)?.authorization;
        tweak(&mut setup);
        let sidecar = setup.start().await?;
        let nginx = Nginx::start(&Addresses {
            port,
            app: echo.url.trim_start_matches("http://"),
            portcullis: sidecar.url().trim_start_matches("http://"),
        })
        .await?;
        Ok(Self {
            nginx,
            sidecar,
            _echo: echo,
        })
    }

    /// Starts the three with a provider that never answers.
    async fn start_without_provider(rules: &str) -> Result<Self> {
        let (port, public_url) = reserve_public_url();
        let nowhere = format!(
            "http://127.0.0.1:{}/.well-known/openid-configuration",
            free_port()
        );
        Self::start(port, &public_url, &nowhere, rules).await
    }

    /// A session cookie for `who` (`None` for nobody).
    fn cookie(&self, who: Who) -> Result<Option<String>> {
        table_cookie(&self.sidecar, who)
    }

    /// Sends `<method> <target>` to nginx exactly as written, with
    /// `headers`, and reads the answer until nginx closes the connection
    /// (a `HEAD` answer declares a length it does not send).
    async fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> Result<RawResponse> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.nginx.url.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let mut request =
            format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut bytes = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes))
            .await
            .context("no answer within 10 s")??;
        let text = String::from_utf8_lossy(&bytes);
        let (head, body) = text.split_once("\r\n\r\n").context("no response head")?;
        Ok(RawResponse {
            head: head.to_owned(),
            body: body.to_owned(),
        })
    }
}

/// The value of the header `name` in a raw response's head.
fn header<'a>(response: &'a RawResponse, name: &str) -> Option<&'a str> {
    response
        .head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(found, _)| found.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
}

/// What a client of nginx reads from its answer.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// The gate's outcome, as nginx tells it.
    Gate(Outcome),
    /// nginx refused the request itself, before asking (a path it cannot
    /// read, a 400).
    RefusedByNginx,
}

fn seen(response: &RawResponse) -> Seen {
    match response.status() {
        200 => Seen::Gate(Outcome::Pass),
        302 if header(response, "location").is_some_and(|to| to.starts_with("/auth/start?rd=")) => {
            Seen::Gate(Outcome::SignIn)
        }
        401 => Seen::Gate(Outcome::Unauthenticated),
        403 => Seen::Gate(Outcome::Denied),
        // The door's 400 for a path that reads two ways: nginx's
        // auth_request makes any status but 2xx, 401 and 403 a 500.
        500 => Seen::Gate(Outcome::Ambiguous),
        400 => Seen::RefusedByNginx,
        other => panic!("unexpected status {other}: {}", response.head),
    }
}

#[tokio::test]
async fn the_vector_table_through_nginx_gets_the_gates_verdicts() -> Result<()> {
    let front = Front::start_without_provider(RULES).await?;
    let mut refused_by_nginx = Vec::new();
    for &(method, path, sent, who, expected) in VECTORS {
        let cookie = front.cookie(who)?;
        let mut headers = sent.to_vec();
        if let Some(cookie) = &cookie {
            headers.push(("cookie", cookie));
        }
        let response = front.send(method, path, &headers).await?;
        let context = format!("{method} {path} {sent:?} as {who:?}: {}", response.head);
        // nginx drops a header with `_` in its name (`x_http_method`) before
        // anyone sees it: neither the gate nor the app can act on it.
        let dropped = sent.iter().any(|(name, _)| name.contains('_'));
        match seen(&response) {
            Seen::RefusedByNginx => {
                assert_ne!(expected, Outcome::Pass, "{context}");
                refused_by_nginx.push(path);
            }
            Seen::Gate(Outcome::Pass) if dropped => {
                let echo: Value = serde_json::from_str(&response.body)?;
                let names = echo["headers"].as_object().context("headers")?;
                assert!(
                    sent.iter()
                        .filter(|(name, _)| name.contains('_'))
                        .all(|(name, _)| !names.contains_key(*name)),
                    "{context}"
                );
            }
            Seen::Gate(outcome) => assert_eq!(outcome, expected, "{context}"),
        }
        if expected == Outcome::Pass && method != "HEAD" {
            let echo: Value = serde_json::from_str(&response.body).context(context.clone())?;
            let user = &echo["headers"]["x-forwarded-user"];
            match who {
                Who::Nobody => assert!(user.is_null(), "{context}"),
                _ => assert!(user.is_array(), "{context}"),
            }
        }
    }
    eprintln!("refused by nginx itself before asking: {refused_by_nginx:?}");
    Ok(())
}

#[tokio::test]
async fn a_client_cannot_forge_the_identity_or_name_another_request_through_nginx() -> Result<()> {
    let front = Front::start_without_provider(RULES).await?;
    let ursula = front.cookie(Who::Untrusted)?.context("a cookie")?;
    let forged = [
        ("X-Forwarded-User", "root"),
        ("x-portcullis-role", "admin"),
        ("X-PORTCULLIS-ROOT", "true"),
        ("X-Forwarded-Groups", "admin"),
        ("X_Forwarded_User", "root"),
    ];
    let mut signed_in = forged.to_vec();
    signed_in.push(("cookie", &ursula));
    let response = front.send("GET", "/books", &signed_in).await?;
    assert_eq!(response.status(), 200, "{}", response.head);
    let echo: Value = serde_json::from_str(&response.body)?;
    let headers = &echo["headers"];
    assert_eq!(headers["x-forwarded-user"], json!(["ursula"]), "{echo}");
    assert_eq!(headers["x-portcullis-role"], json!(["untrusted"]), "{echo}");
    assert_eq!(headers["x-portcullis-root"], json!(["false"]), "{echo}");
    assert!(headers.get("x_forwarded_user").is_none(), "{echo}");

    let anonymous = front.send("GET", "/healthz", &forged).await?;
    assert_eq!(anonymous.status(), 200, "{}", anonymous.head);
    let echo: Value = serde_json::from_str(&anonymous.body)?;
    for name in [
        "x-forwarded-user",
        "x-portcullis-role",
        "x-portcullis-root",
        "x-forwarded-groups",
    ] {
        assert!(
            echo["headers"].get(name).is_none(),
            "{name} reached the app: {echo}"
        );
    }

    // The client names a public request for its admin one: nginx sets its
    // own X-Original-URL over the client's, and a client's X-Forwarded-Uri
    // beside it makes the question refused, never believed.
    let host = front.nginx.url.trim_start_matches("http://").to_owned();
    let public_url = format!("http://{host}/static/app.js");
    for spoof in [
        vec![
            ("X-Original-URL", public_url.as_str()),
            ("X-Original-Method", "GET"),
        ],
        vec![
            ("X-Forwarded-Uri", "/static/app.js"),
            ("X-Forwarded-Method", "GET"),
        ],
        vec![
            ("X-Forwarded-Host", "elsewhere.example"),
            ("X-Forwarded-Uri", "/static/x"),
        ],
    ] {
        let mut headers = spoof.clone();
        headers.push(("cookie", &ursula));
        headers.push(("accept", "application/json"));
        let response = front.send("GET", "/admin/users", &headers).await?;
        assert!(
            matches!(response.status(), 403 | 500),
            "{spoof:?}: {}",
            response.head
        );
        let anonymous = front.send("GET", "/admin/users", &spoof).await?;
        assert_ne!(anonymous.status(), 200, "{spoof:?}: {}", anonymous.head);
    }
    Ok(())
}

#[tokio::test]
async fn the_forward_auth_service_refuses_a_question_from_anyone_but_nginx() -> Result<()> {
    let front = Front::start_without_provider(RULES).await?;
    let admin = front.cookie(Who::Admin)?.context("a cookie")?;
    // Asked directly, from 127.0.0.1 but not as the listed proxy would: a
    // service that lists only another proxy refuses even that.
    let client = reqwest::Client::new();
    let verify = format!("{}/auth/verify", front.sidecar.url());
    let direct = client
        .get(&verify)
        .header("cookie", &admin)
        .header("x-original-url", format!("{}/admin/users", front.nginx.url))
        .header("x-original-method", "GET")
        .send()
        .await?;
    assert_eq!(direct.status(), 200, "127.0.0.1 is the listed proxy here");
    let other = format!(
        "{}/admin/users",
        front.sidecar.url().replace("127.0.0.1", "localhost")
    );
    let refused = client
        .get(&verify)
        .header("cookie", &admin)
        .header("x-original-url", other)
        .header("x-original-method", "GET")
        .send()
        .await?;
    assert_eq!(
        refused.status(),
        403,
        "a host this service does not protect"
    );
    Ok(())
}

#[tokio::test]
async fn chromium_signs_in_through_nginx_and_returns_to_the_page() -> Result<()> {
    let (port, public_url) = reserve_public_url();
    let idp = Idp::start(&public_url).await?;
    let front = Front::start(port, &public_url, &idp.well_known_url(), RULES).await?;
    let browser = Chromium::start().await?;
    browser.goto(&format!("{public_url}/books?page=2")).await?;
    browser.sign_in_at_provider(&idp.issuer, "alice").await?;
    let public = url::Url::parse(&public_url)?;
    let landed = browser
        .wait_for_url("the page asked for, through nginx", |url| {
            url.origin() == public.origin() && url.path() == "/books"
        })
        .await?;
    assert_eq!(landed.query(), Some("page=2"));
    let echo = browser.json_on_page().await?;
    assert_eq!(
        echo["headers"]["x-forwarded-user"],
        json!(["alice"]),
        "{echo}"
    );
    assert_eq!(
        echo["headers"]["x-portcullis-role"],
        json!(["admin"]),
        "{echo}"
    );
    browser.goto(&format!("{public_url}/admin/users")).await?;
    let admin = browser.json_on_page().await?;
    assert_eq!(admin["path"], "/admin/users", "{admin}");
    drop(front);
    browser.quit().await
}

#[tokio::test]
async fn a_session_renewed_on_a_refused_request_keeps_its_new_cookie_through_nginx() -> Result<()> {
    let (port, public_url) = reserve_public_url();
    let idp = Idp::start_refreshing(&public_url).await?;
    let front = Front::start_with(port, &public_url, &idp.well_known_url(), RULES, |setup| {
        setup.config.session.refresh_skew_seconds = 1;
    })
    .await?;
    let browser = Browser::new();
    let (_, landed) = browser
        .log_in(&format!("{public_url}/books"), "shorty")
        .await?;
    anyhow::ensure!(landed.status() == 200, "shorty signed in through nginx");
    let name = &front.sidecar.setup.config.session.cookie_name;
    let cookie = browser
        .cookies_for(&public_url)
        .context("cookies")?
        .split("; ")
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
        .context("a session cookie")?;
    // `shorty`'s access token lives 3 s: past it, the next request renews
    // the session, and the provider's refresh token is spent.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let refused = front
        .send(
            "GET",
            "/admin/users",
            &[("cookie", &cookie), ("accept", "application/json")],
        )
        .await?;
    assert_eq!(refused.status(), 403, "shorty is trusted, not an admin");
    let renewed = refused
        .head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(found, _)| found.eq_ignore_ascii_case("set-cookie"))
        .any(|(_, value)| value.trim().starts_with(&format!("{name}=")));
    assert!(
        renewed,
        "the renewed session's cookie is lost, and its spent refresh token would be sent again: {}",
        refused.head
    );
    Ok(())
}
