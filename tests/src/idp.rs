//! The real identity provider from `tests/idp` (oidc-provider).

use crate::certificate::TestCertificate;
use crate::process::{repo_root, spawn_until_ready_or_again};
use anyhow::Result;
use portcullis_contract::paths::BACKCHANNEL_LOGOUT_PATH;
use serde_json::json;
use tokio::process::{Child, Command};

/// The provider is ready in about a second; silent this long, it stalled.
const START_STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// Client id registered for the sidecar.
pub const CLIENT_ID: &str = "portcullis";
/// The `kid` a provider started with a given signing key publishes, so a
/// test can sign tokens the provider's keys verify.
pub const SIGNING_KEY_ID: &str = "portcullis-test-idp";
/// The client secret of [`CLIENT_ID`].
pub const CLIENT_SECRET: &str = "portcullis-secret";

/// A running provider; stopped on drop.
pub struct Idp {
    child: Option<Child>,
    /// The issuer, `http://127.0.0.1:<port>`.
    pub issuer: String,
    port: u16,
    public_url: String,
}

impl Idp {
    /// Starts the provider on a free port with one client for `public_url`.
    pub async fn start(public_url: &str) -> Result<Self> {
        Self::start_on(public_url, 0).await
    }

    /// Starts the provider on `port` (0 picks one).
    pub async fn start_on(public_url: &str, port: u16) -> Result<Self> {
        Self::start_with_key_id(public_url, port, None).await
    }

    /// Starts the provider on a free port of `host` (an address other than
    /// loopback, e.g. the test cluster's node address, so pods reach it) with
    /// one client for `public_url`; the issuer is `http://<host>:<port>`.
    pub async fn start_on_host(public_url: &str, host: &str) -> Result<Self> {
        let mut command = Self::command(public_url, 0, None, Vec::new());
        command.env("IDP_HOST", host);
        Self::spawned(command, public_url, 0).await
    }

    /// Starts the provider on a free port with the sidecar's client, the API
    /// clients of [`crate::api_clients`], and the PEM private key at
    /// `signing_key` (so a test can forge tokens with the provider's own key).
    pub async fn start_for_api(public_url: &str, signing_key: &std::path::Path) -> Result<Self> {
        let mut command = Self::command(public_url, 0, None, crate::api_clients::clients());
        command
            .env("IDP_SIGNING_KEY_FILE", signing_key)
            .env("IDP_KEY_ID", SIGNING_KEY_ID);
        Self::spawned(command, public_url, 0).await
    }

    /// Starts the provider on a free port speaking HTTPS only with
    /// `certificate` (a provider behind a private CA); the issuer is
    /// `https://127.0.0.1:<port>`.
    pub async fn start_tls(public_url: &str, certificate: &TestCertificate) -> Result<Self> {
        let mut command = Self::command(public_url, 0, None, Vec::new());
        command
            .env("IDP_TLS_CERT", certificate.file("server.pem"))
            .env("IDP_TLS_KEY", certificate.file("server.key"));
        Self::spawned(command, public_url, 0).await
    }

    /// Starts the provider with the sidecar's client allowed the
    /// `refresh_token` grant: every sign-in gets a refresh token, rotated
    /// at each use, a reused one revoking the grant.
    pub async fn start_refreshing(public_url: &str) -> Result<Self> {
        let mut client = sidecar_client(public_url);
        client["grant_types"] = json!(["authorization_code", "refresh_token"]);
        let command = Self::command_for(vec![client], 0, None);
        Self::spawned(command, public_url, 0).await
    }

    /// The refresh-token grants it answered and refused so far.
    pub async fn refresh_counts(&self) -> Result<(u64, u64)> {
        let counts: serde_json::Value = reqwest::get(format!("{}/test/counts", self.issuer))
            .await?
            .json()
            .await?;
        let count = |name: &str| counts[name].as_u64().unwrap_or(u64::MAX);
        Ok((count("refreshed"), count("refreshRefused")))
    }

    /// Makes the token endpoint answer `status` (a 5xx: an outage at the
    /// provider) until it is called with `None`.
    pub async fn set_token_outage(&self, status: Option<u16>) -> Result<()> {
        let response = reqwest::Client::new()
            .post(format!(
                "{}/test/token-outage?status={}",
                self.issuer,
                status.unwrap_or(0)
            ))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "the provider took the outage: {}",
            response.status()
        );
        Ok(())
    }

    /// Stops the provider without closing its connections (SIGSTOP): it
    /// accepts and answers nothing.
    pub fn pause(&self) -> Result<()> {
        self.signal("STOP")
    }

    /// Lets a paused provider go on (SIGCONT).
    pub fn resume(&self) -> Result<()> {
        self.signal("CONT")
    }

    fn signal(&self, signal: &str) -> Result<()> {
        let child = self
            .child
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the provider is not running"))?;
        crate::process::signal(child, signal)
    }

    /// Starts the provider declaring its issuer with a trailing slash
    /// (`http://127.0.0.1:<port>/`), as Authentik does; [`Self::issuer`]
    /// stays without it, as the discovery URL names it.
    pub async fn start_declaring_issuer_with_slash(public_url: &str) -> Result<Self> {
        let mut command = Self::command(public_url, 0, None, Vec::new());
        command.env("IDP_ISSUER_TRAILING_SLASH", "1");
        Self::spawned(command, public_url, 0).await
    }

    /// Starts the provider on `port` with a fresh signing key named `key_id`.
    async fn start_with_key_id(public_url: &str, port: u16, key_id: Option<&str>) -> Result<Self> {
        let command = Self::command(public_url, port, key_id, Vec::new());
        Self::spawned(command, public_url, port).await
    }

    /// Runs `command` until the provider says it is ready on `port` (0:
    /// the port its issuer names).
    async fn spawned(command: Command, public_url: &str, port: u16) -> Result<Self> {
        let (child, issuer) = spawn_until_ready_or_again(command, "IDP_READY", START_STALL).await?;
        Ok(Self {
            child: Some(child),
            port: port_of(&issuer).unwrap_or(port),
            issuer,
            public_url: public_url.to_owned(),
        })
    }

    /// The provider's command line: the sidecar's client and `more_clients`.
    fn command(
        public_url: &str,
        port: u16,
        key_id: Option<&str>,
        more_clients: Vec<serde_json::Value>,
    ) -> Command {
        let mut clients = vec![sidecar_client(public_url)];
        clients.extend(more_clients);
        Self::command_for(clients, port, key_id)
    }

    /// The provider's command line with `clients`.
    fn command_for(clients: Vec<serde_json::Value>, port: u16, key_id: Option<&str>) -> Command {
        let clients = serde_json::Value::Array(clients);
        let mut command = Command::new("node");
        command
            .arg(repo_root().join("tests/idp/idp.mjs"))
            .env("IDP_PORT", port.to_string())
            .env("IDP_CLIENTS", clients.to_string());
        if let Some(key_id) = key_id {
            command.env("IDP_KEY_ID", key_id);
        }
        command
    }

    /// An access token (a JWT for `resource`) from the client-credentials grant.
    pub async fn client_credentials_token(
        &self,
        client_id: &str,
        client_secret: &str,
        resource: &str,
    ) -> Result<String> {
        let response = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(client_id, Some(client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", resource),
                ("scope", "api"),
            ])
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        anyhow::ensure!(
            status.is_success(),
            "token endpoint answered {status}: {body}"
        );
        body["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no access_token in {body}"))
    }

    /// The discovery URL.
    pub fn well_known_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// Stops the provider (as an outage would).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port (new keys, no sessions).
    pub async fn restart(&mut self) -> Result<()> {
        self.restart_with_key_id(None).await
    }

    /// Starts it again on the same port with a new signing key: under the
    /// same `kid` (`None`) or a new one, as a provider rotating keys does.
    pub async fn restart_with_key_id(&mut self, key_id: Option<&str>) -> Result<()> {
        self.stop().await;
        let fresh = Self::start_with_key_id(&self.public_url, self.port, key_id).await?;
        *self = fresh;
        Ok(())
    }
}

/// The port of an issuer URL `http://127.0.0.1:<port>`.
fn port_of(issuer: &str) -> Option<u16> {
    issuer.rsplit(':').next().and_then(|port| port.parse().ok())
}

/// The sidecar's client at the provider, for the sidecar at `public_url`.
fn sidecar_client(public_url: &str) -> serde_json::Value {
    json!({
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [format!("{public_url}/auth/oidc")],
        "post_logout_redirect_uris": [format!("{public_url}/"), format!("{public_url}/login")],
        "backchannel_logout_uri": format!("{public_url}{BACKCHANNEL_LOGOUT_PATH}"),
        "backchannel_logout_session_required": true,
    })
}
