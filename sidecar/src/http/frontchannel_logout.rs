//! `GET /auth/frontchannel-logout?iss=...&sid=...`: OpenID Connect
//! Front-Channel Logout 1.0, the provider's sign-out page loading this
//! route in a hidden frame of the user's browser.
//!
//! The session this browser carries ends when `iss` is the provider and
//! `sid` is the provider session it was signed in with: its cookie is
//! cleared and it joins the log-out list (announced to the other replicas).
//! Both parameters are required (register the URL with the session
//! required), so another site framing this route cannot end a session it
//! does not know the provider's id of. The page may be framed by the
//! provider's origin only. Browsers send the `SameSite=Lax` session cookie
//! to a frame only when the provider and the app are the same site (one
//! registrable domain); otherwise back-channel logout is the way.

use super::pages::message_page;
use super::session_end::clear_session_cookies;
use crate::gate::current_session;
use crate::runtime::state::SharedState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

/// The parameters the provider adds.
#[derive(Deserialize)]
pub struct FrontChannelQuery {
    iss: Option<String>,
    sid: Option<String>,
}

/// `GET /auth/frontchannel-logout`.
pub async fn frontchannel_logout(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(query): Query<FrontChannelQuery>,
) -> Response {
    let settings = state.settings.load_full();
    let Some(discovered) = state.provider.cached(&settings.oidc.issuer) else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The identity provider's settings are not loaded yet.",
        );
    };
    let issuer = discovered.declared_issuer();
    let (Some(iss), Some(sid)) = (query.iss, query.sid) else {
        return page(
            StatusCode::BAD_REQUEST,
            "A front-channel logout needs the provider's `iss` and `sid`.",
        );
    };
    if iss != issuer {
        return page(
            StatusCode::BAD_REQUEST,
            "This front-channel logout comes from another provider.",
        );
    }
    let session = current_session(&state, &settings, &headers).ok();
    let signed_in_with = session
        .as_ref()
        .and_then(|session| session.provider.as_ref())
        .and_then(|link| link.sid.as_deref());
    let mut response = match (&session, signed_in_with) {
        (Some(session), Some(provider_sid)) if provider_sid == sid => {
            state.revoke_session(session).await;
            tracing::info!(user = %session.user, "session ended by the provider's front-channel logout");
            let mut response = page(StatusCode::OK, "You are signed out of this app.");
            clear_session_cookies(&settings, &mut response);
            response
        }
        _ => page(StatusCode::OK, "No session of this sign-in is open here."),
    };
    if let Ok(origin) = url::Url::parse(issuer).map(|url| url.origin().ascii_serialization())
        && let Ok(policy) = HeaderValue::from_str(&format!(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors {origin}"
        ))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

fn page(status: StatusCode, message: &str) -> Response {
    (status, Html(message_page("Sign out", message))).into_response()
}
