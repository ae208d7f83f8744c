//! Keycloak's admin REST API, as a realm administrator uses it: through the
//! realm's `portcullis-admin` service account (client credentials), which
//! may manage users and clients of the test realm only.

use crate::keycloak::{Keycloak, REALM};
use anyhow::{Context, Result};
use serde_json::Value;

/// The service account's client.
pub const ADMIN_CLIENT_ID: &str = "portcullis-admin";
const ADMIN_CLIENT_SECRET: &str = "portcullis-admin-secret";
/// The client whose back-channel logout URL a test sets to its sidecar.
pub const BACKCHANNEL_CLIENT_ID: &str = "portcullis-backchannel";
/// The user a test may log out at Keycloak (no other test signs in as them).
pub const LEAVING_USER: &str = "kc-leaver";

/// An administrator of the test realm.
pub struct RealmAdmin {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl RealmAdmin {
    /// Signs the service account in.
    pub async fn sign_in(keycloak: &Keycloak) -> Result<Self> {
        let http = reqwest::Client::new();
        let answer: Value = http
            .post(format!("{}/protocol/openid-connect/token", keycloak.issuer))
            .basic_auth(ADMIN_CLIENT_ID, Some(ADMIN_CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = answer["access_token"]
            .as_str()
            .context("a service-account token")?
            .to_owned();
        Ok(Self {
            http,
            base: format!("{}/admin/realms/{REALM}", keycloak.url),
            token,
        })
    }

    /// Sets the back-channel logout URL of the client `client_id`.
    pub async fn set_backchannel_logout_url(&self, client_id: &str, url: &str) -> Result<()> {
        let found: Vec<Value> = self.get(&format!("/clients?clientId={client_id}")).await?;
        let mut client = found.into_iter().next().context("the client exists")?;
        let id = client["id"].as_str().context("a client id")?.to_owned();
        client["attributes"]["backchannel.logout.url"] = Value::String(url.to_owned());
        self.http
            .put(format!("{}/clients/{id}", self.base))
            .bearer_auth(&self.token)
            .json(&client)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Ends every Keycloak session of `username` ("Sign out" on the user's
    /// sessions tab), which sends each client's back-channel logout.
    pub async fn log_out_user(&self, username: &str) -> Result<()> {
        let found: Vec<Value> = self
            .get(&format!("/users?username={username}&exact=true"))
            .await?;
        let user = found.first().context("the user exists")?;
        let id = user["id"].as_str().context("a user id")?;
        self.http
            .post(format!("{}/users/{id}/logout", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        Ok(self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }
}
