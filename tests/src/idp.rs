//! The real identity provider from `tests/idp` (oidc-provider).

use crate::process::{repo_root, spawn_until_ready};
use anyhow::Result;
use serde_json::json;
use tokio::process::{Child, Command};

/// Client id registered for the sidecar.
pub const CLIENT_ID: &str = "portcullis";
/// Its client secret.
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

    /// Starts the provider on `port` with a fresh signing key named `key_id`.
    async fn start_with_key_id(public_url: &str, port: u16, key_id: Option<&str>) -> Result<Self> {
        let clients = json!([{
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [format!("{public_url}/auth/oidc")],
            "post_logout_redirect_uris": [format!("{public_url}/"), format!("{public_url}/login")],
        }]);
        let mut command = Command::new("node");
        command
            .arg(repo_root().join("tests/idp/idp.mjs"))
            .env("IDP_PORT", port.to_string())
            .env("IDP_CLIENTS", clients.to_string());
        if let Some(key_id) = key_id {
            command.env("IDP_KEY_ID", key_id);
        }
        let (child, issuer) = spawn_until_ready(command, "IDP_READY").await?;
        let port = issuer
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .unwrap_or(port);
        Ok(Self {
            child: Some(child),
            issuer,
            port,
            public_url: public_url.to_owned(),
        })
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
