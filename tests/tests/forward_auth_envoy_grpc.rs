//! Envoy's gRPC `ext_authz` on the real binary: a forward-auth service with
//! `forwardAuth.grpcListen`, asked over HTTP/2 by a tonic client as Envoy
//! (Istio's `CUSTOM` action, Envoy Gateway's `extAuth`) asks. The gate's
//! table of request vectors gets the gate's verdicts through it, and a
//! session from a real sign-in at the test provider passes with the
//! identity set and the client's forged spellings removed.
//!
//! No Envoy runs here (it cannot be built on these machines): the client
//! sends what Envoy's `CheckRequest` carries, pseudo headers included.

#[path = "../../sidecar/tests/handlers/envoy_question.rs"]
#[allow(dead_code)]
mod envoy_question;
#[path = "../../sidecar/tests/handlers/gate_table.rs"]
#[allow(dead_code)]
mod gate_table;
#[path = "table/cookies.rs"]
mod table_cookies;

use anyhow::{Context, Result};
use envoy_question::{check_request, ok, refusal, refused_status, set};
use envoy_types::pb::envoy::service::auth::v3::CheckResponse;
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use gate_table::{Outcome, RULES, VECTORS, Who};
use portcullis_contract::config::SidecarConfig;
use portcullis_contract::forward_auth::ForwardAuthConfig;
use portcullis_e2e::browser::Browser;
use portcullis_e2e::idp::Idp;
use portcullis_e2e::process::free_port;
use portcullis_e2e::sidecar::{Sidecar, SidecarSetup, reserve_public_url};
use table_cookies::table_cookie;
use tonic::transport::Channel;

/// A forward-auth sidecar answering gRPC, and a client connected to it.
struct Service {
    sidecar: Sidecar,
    client: AuthorizationClient<Channel>,
    /// The `host:port` the sidecar protects.
    host: String,
}

impl Service {
    /// Starts the sidecar on `port`, signing in at `well_known_url`, under
    /// `rules`, and connects to its gRPC port.
    async fn start(port: u16, well_known_url: &str, rules: &str) -> Result<Self> {
        let grpc = format!("127.0.0.1:{}", free_port());
        let mut setup = SidecarSetup::new(port, well_known_url, "")?;
        setup.config.upstream = String::new();
        setup.config.forward_auth = Some(ForwardAuthConfig {
            grpc_listen: Some(grpc.clone()),
            ..ForwardAuthConfig::default()
        });
        setup.config.trusted_proxies = vec!["127.0.0.1".to_owned()];
        setup.config.authorization = SidecarConfig::from_yaml(rules)?.authorization;
        let sidecar = setup.start().await?;
        let client = AuthorizationClient::connect(format!("http://{grpc}"))
            .await
            .with_context(|| format!("the gRPC port {grpc}"))?;
        let host = sidecar.url().trim_start_matches("http://").to_owned();
        Ok(Self {
            sidecar,
            client,
            host,
        })
    }

    /// Asks about `method path` with the client's `headers`.
    async fn check(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<CheckResponse> {
        let question = check_request(method, path, &self.host, headers);
        Ok(self.client.check(question).await?.into_inner())
    }

    /// A session cookie for `who` (`None` for nobody).
    fn cookie(&self, who: Who) -> Result<Option<String>> {
        table_cookie(&self.sidecar, who)
    }
}

/// The outcome a client of Envoy would see.
fn outcome(answer: &CheckResponse) -> Outcome {
    let Some(denied) = refusal(answer) else {
        return Outcome::Pass;
    };
    match refused_status(denied) {
        303 => Outcome::SignIn,
        401 => Outcome::Unauthenticated,
        403 => Outcome::Denied,
        400 => Outcome::Ambiguous,
        other => panic!("unexpected status {other}: {}", denied.body),
    }
}

#[tokio::test]
async fn the_vector_table_through_grpc_gets_the_gates_verdicts() -> Result<()> {
    let nowhere = format!(
        "http://127.0.0.1:{}/.well-known/openid-configuration",
        free_port()
    );
    let mut service = Service::start(free_port(), &nowhere, RULES).await?;
    for &(method, path, sent, who, expected) in VECTORS {
        let cookie = service.cookie(who)?;
        let lowercase: Vec<(String, &str)> = sent
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), *value))
            .collect();
        let mut headers: Vec<(&str, &str)> = lowercase
            .iter()
            .map(|(name, value)| (name.as_str(), *value))
            .collect();
        if let Some(cookie) = &cookie {
            headers.push(("cookie", cookie));
        }
        let answer = service.check(method, path, &headers).await?;
        let context = format!("{method} {path} {sent:?} as {who:?}");
        assert_eq!(outcome(&answer), expected, "{context}");
        if let Some(ok) = ok(&answer) {
            let user = set(&ok.headers, "x-forwarded-user");
            assert_eq!(user.is_some(), who != Who::Nobody, "{context}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_real_sign_in_passes_with_the_identity_set_and_forged_spellings_removed() -> Result<()> {
    let (port, public_url) = reserve_public_url();
    let idp = Idp::start(&public_url).await?;
    let mut service = Service::start(port, &idp.well_known_url(), RULES).await?;
    let browser = Browser::new();
    browser
        .log_in(&format!("{public_url}/auth/start?rd=%2Fbooks"), "alice")
        .await?;
    let cookie =
        reqwest::cookie::CookieStore::cookies(&*browser.jar, &url::Url::parse(&public_url)?)
            .context("a session cookie after signing in")?;
    let cookie = cookie.to_str()?.to_owned();

    let forged = [
        ("cookie", cookie.as_str()),
        ("x_forwarded_user", "root"),
        ("x-portcullis-root", "true"),
        ("accept", "text/html"),
    ];
    let answer = service.check("GET", "/admin/users", &forged).await?;
    let passed = ok(&answer).context("alice is an admin")?;
    assert_eq!(set(&passed.headers, "x-forwarded-user"), Some("alice"));
    assert_eq!(set(&passed.headers, "x-portcullis-role"), Some("admin"));
    assert_eq!(set(&passed.headers, "x-portcullis-root"), Some("false"));
    assert!(
        passed
            .headers_to_remove
            .iter()
            .any(|name| name == "x_forwarded_user"),
        "{:?}",
        passed.headers_to_remove
    );

    let anonymous = service
        .check("GET", "/books?page=2", &[("accept", "text/html")])
        .await?;
    let denied = refusal(&anonymous).context("nobody is signed in")?;
    assert_eq!(refused_status(denied), 303);
    assert_eq!(
        set(&denied.headers, "location"),
        Some("/auth/start?rd=%2Fbooks%3Fpage%3D2")
    );

    service.host = "apps.example.com".to_owned();
    let elsewhere = service.check("GET", "/", &forged).await?;
    let denied = refusal(&elsewhere).context("a host nobody configured")?;
    assert_eq!(refused_status(denied), 403);
    assert!(denied.body.contains("apps.example.com"), "{}", denied.body);
    Ok(())
}
