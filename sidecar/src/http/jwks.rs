//! The public keys of the signed identity, as a JWKS, for apps and their
//! JWT libraries to fetch.
//!
//! Served on the public port without a session (a public key is no secret,
//! and an app must fetch it before anyone signs in), at a fixed path under
//! `/.well-known/` that no access rule or app route can shadow. Caches may
//! keep it for a minute: after a rotation, libraries that meet an unknown
//! `kid` fetch it again anyway.

use crate::runtime::state::SharedState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `GET` [`portcullis_contract::paths::JWKS_PATH`]: the JWKS, or 404 when
/// the identity is not signed.
pub async fn jwks(State(state): State<SharedState>) -> Response {
    let settings = state.settings.load();
    let Some(identity) = &settings.signed_identity else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            axum::Json(serde_json::json!({"error": "signed identity is not enabled"})),
        )
            .into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=60"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        identity.keys.jwks(),
    )
        .into_response()
}
