//! The `openidconnect` types, specialised to keep every claim.
//!
//! The library's `Core*` aliases drop claims they do not know; the group
//! claim's name is configurable, so ID token and userinfo claims are kept in
//! a flat map ([`OtherClaims`]) and the provider metadata keeps
//! `end_session_endpoint` for logging out at the provider and whether it
//! names itself in authorization responses (RFC 9207).

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreClaimName, CoreClaimType, CoreClientAuthMethod,
    CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, Client, EmptyExtraTokenFields, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IdTokenFields, ProviderMetadata, StandardErrorResponse,
    StandardTokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Every claim the library does not model itself, by name.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    /// The claims, by name.
    #[serde(flatten)]
    pub claims: Map<String, Value>,
}

impl AdditionalClaims for OtherClaims {}

/// Provider metadata fields beyond OpenID Connect Discovery's core set.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ExtraMetadata {
    /// RP-initiated logout endpoint, when the provider has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<url::Url>,
    /// RFC 9207: `true` when every authorization response carries `iss`.
    /// Kept as any JSON value so an odd value cannot break discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_response_iss_parameter_supported: Option<Value>,
    /// Back-Channel Logout 1.0: `true` when the provider posts logout tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_supported: Option<Value>,
}

impl ExtraMetadata {
    /// Whether the provider promises `iss` in every authorization response.
    pub fn promises_issuer_param(&self) -> bool {
        matches!(
            self.authorization_response_iss_parameter_supported,
            Some(Value::Bool(true))
        )
    }
}

impl ExtraMetadata {
    /// Whether the provider says it posts back-channel logout tokens.
    pub fn sends_back_channel_logouts(&self) -> bool {
        matches!(self.backchannel_logout_supported, Some(Value::Bool(true)))
    }
}

impl AdditionalProviderMetadata for ExtraMetadata {}

/// The discovery document with its JWKS.
pub type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// ID token fields keeping every claim.
pub type IdFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The token endpoint's response.
pub type TokenResponse = StandardTokenResponse<IdFields, CoreTokenType>;

/// A client built from discovered metadata.
pub type OidcClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;
