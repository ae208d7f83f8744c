//! The OAuth client the sidecar calls the provider's token endpoint with:
//! the discovered metadata, the configured credentials and redirect URI, and
//! HTTP Basic authentication unless the provider lists only other methods.
//! Shared by sign-in, renewal and the check of the token endpoint's answer.

use super::provider::Discovered;
use super::types::OidcClient;
use crate::config::settings::ProviderSettings;
use openidconnect::core::CoreClientAuthMethod;
use openidconnect::{AuthType, ClientId, ClientSecret, RedirectUrl};

/// Builds a client for the discovered provider.
pub fn client_for(discovered: &Discovered, oidc: &ProviderSettings) -> OidcClient {
    let methods = discovered.metadata.token_endpoint_auth_methods_supported();
    let basic_supported = methods.is_none_or(|methods| {
        methods.is_empty() || methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
    });
    let auth_type = if basic_supported {
        AuthType::BasicAuth
    } else {
        AuthType::RequestBody
    };
    OidcClient::from_provider_metadata(
        discovered.metadata.clone(),
        ClientId::new(oidc.client_id.clone()),
        Some(ClientSecret::new(oidc.client_secret.expose().to_owned())),
    )
    .set_redirect_uri(RedirectUrl::from_url(oidc.redirect_url.clone()))
    .set_auth_type(auth_type)
}
