//! Answering a `CheckRequest` in Envoy's terms.
//!
//! - **Pass**: status `OK`; the identity headers the caller has are set on
//!   the request, overwriting what the client sent, and every other
//!   spelling of an identity header the client sent (`X_Forwarded_User`,
//!   `x-portcullis-role` for a caller without one, the signed identity's
//!   header) is removed, since Envoy keeps any header an answer does not
//!   touch; so is every header that would make the app route to another
//!   path or read another client (`X-Original-URL`, `Forwarded`), as the
//!   reverse proxy strips them, but the forwarding headers Envoy writes
//!   itself. A renewed session's `Set-Cookie` goes to the client.
//! - **Refusal**: the HTTP answer the other doors give (a `303` to sign
//!   in, `401`, `403`, `503`), as a `DeniedHttpResponse` with its status,
//!   headers and body, under the gRPC status that says why.

use crate::forward::verify::Passed;
use crate::gate::identity_headers::{IDENTITY, is_sidecar_owned, same_name};
use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::{HeaderValue, HeaderValueOption};
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{
    CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use envoy_types::pb::envoy::r#type::v3::HttpStatus;
use envoy_types::pb::google::rpc;
use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderName, StatusCode};

/// gRPC status codes (`google.rpc.Code`) a verdict is given under.
mod code {
    pub const OK: i32 = 0;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// The answer letting a request through as `passed` says, given the
/// `client`'s headers and the signed identity's header name, if any.
pub fn allowed(passed: Passed, client: &HeaderMap, signed: Option<&HeaderName>) -> CheckResponse {
    let identity = passed.identity;
    let headers = identity
        .iter()
        .map(|(name, value)| option(name, value, HeaderAppendAction::OverwriteIfExistsOrAdd))
        .collect();
    let mut set_cookie = HeaderMap::new();
    if let Some(cookies) = passed.set_cookie {
        cookies.append_to(&mut set_cookie);
    }
    let response_headers_to_add = set_cookie
        .iter()
        .map(|(name, value)| option(name, value, HeaderAppendAction::AppendIfExistsOrAdd))
        .collect();
    CheckResponse {
        status: Some(rpc::Status {
            code: code::OK,
            ..Default::default()
        }),
        http_response: Some(HttpResponse::OkResponse(OkHttpResponse {
            headers,
            headers_to_remove: to_remove(&identity, client, signed),
            response_headers_to_add,
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// The answer refusing a request with the HTTP answer `status`, `headers`
/// and `body`; a redirect is to sign in, so it is `UNAUTHENTICATED`.
pub fn denied(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> CheckResponse {
    let code = match status {
        StatusCode::BAD_REQUEST => code::INVALID_ARGUMENT,
        StatusCode::UNAUTHORIZED => code::UNAUTHENTICATED,
        status if status.is_redirection() => code::UNAUTHENTICATED,
        StatusCode::SERVICE_UNAVAILABLE => code::UNAVAILABLE,
        status if status.is_server_error() => code::INTERNAL,
        _ => code::PERMISSION_DENIED,
    };
    let headers = headers
        .iter()
        .map(|(name, value)| {
            let action = if name == SET_COOKIE {
                HeaderAppendAction::AppendIfExistsOrAdd
            } else {
                HeaderAppendAction::OverwriteIfExistsOrAdd
            };
            option(name, value, action)
        })
        .collect();
    CheckResponse {
        status: Some(rpc::Status {
            code,
            message: status.canonical_reason().unwrap_or_default().to_owned(),
            ..Default::default()
        }),
        http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
            status: Some(HttpStatus {
                code: i32::from(status.as_u16()),
            }),
            headers,
            body: String::from_utf8_lossy(body).into_owned(),
        })),
        ..Default::default()
    }
}

/// Forwarding headers Envoy writes itself on every request, by its own
/// configuration (`use_remote_address`, `forward_client_cert_details`):
/// the app reads Envoy's, which a removal would take away.
const ENVOYS_OWN: [&str; 3] = [
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-client-cert",
];

/// The client's headers the app must not read, as the reverse proxy strips
/// them: any spelling of an identity header the pass does not set (the
/// signed identity's among them), every identity header the caller lacks,
/// and every header by which an app server routes to another path or
/// reads another client ([`is_sidecar_owned`]) but those Envoy writes.
fn to_remove(identity: &HeaderMap, client: &HeaderMap, signed: Option<&HeaderName>) -> Vec<String> {
    let is_identity = |name: &HeaderName| {
        signed.is_some_and(|owned| same_name(name.as_str().as_bytes(), owned.as_str().as_bytes()))
    };
    let sent_for_the_sidecar = client.keys().filter(|name| {
        (is_sidecar_owned(name) || is_identity(name)) && !ENVOYS_OWN.contains(&name.as_str())
    });
    let mut names: Vec<String> = IDENTITY
        .iter()
        .chain(signed)
        .chain(sent_for_the_sidecar)
        .filter(|name| !identity.contains_key(*name))
        .map(|name| name.as_str().to_owned())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// One header of an answer, its value as text: Envoy's gRPC client copies
/// `value` and drops `raw_value`. Values are UTF-8 (names from the
/// provider's claims, the sidecar's own URLs), so nothing is replaced.
fn option(
    name: &HeaderName,
    value: &http::HeaderValue,
    action: HeaderAppendAction,
) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: name.as_str().to_owned(),
            value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            raw_value: Vec::new(),
        }),
        append_action: action.into(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
