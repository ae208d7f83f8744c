//! Answering a `CheckRequest` in Envoy's terms.
//!
//! - **Pass**: status `OK`; the identity headers the caller has are set on
//!   the request, overwriting what the client sent, and every other
//!   spelling of an identity header the client sent (`X_Forwarded_User`,
//!   `x-portcullis-role` for a caller without one, the signed identity's
//!   header) is removed, since Envoy keeps any header an answer does not
//!   touch. A renewed session's `Set-Cookie` goes to the client.
//! - **Refusal**: the HTTP answer the other doors give (a `303` to sign
//!   in, `401`, `403`, `503`), as a `DeniedHttpResponse` with its status,
//!   headers and body, under the gRPC status that says why.

use crate::forward::verify::Passed;
use crate::gate::identity_headers::{IDENTITY, same_name};
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

/// The client's headers that speak for the caller without the gate having
/// set them: any spelling of an identity header (or the signed identity's)
/// the pass does not set, and every identity header the caller lacks.
fn to_remove(identity: &HeaderMap, client: &HeaderMap, signed: Option<&HeaderName>) -> Vec<String> {
    let is_identity = |name: &HeaderName| {
        IDENTITY
            .iter()
            .chain(signed)
            .any(|owned| same_name(name.as_str().as_bytes(), owned.as_str().as_bytes()))
    };
    let mut names: Vec<String> = IDENTITY
        .iter()
        .chain(signed)
        .chain(client.keys().filter(|name| is_identity(name)))
        .filter(|name| !identity.contains_key(*name))
        .map(|name| name.as_str().to_owned())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// One header of an answer: as text when it is, else as raw bytes.
fn option(
    name: &HeaderName,
    value: &http::HeaderValue,
    action: HeaderAppendAction,
) -> HeaderValueOption {
    let (value, raw_value) = match value.to_str() {
        Ok(text) => (text.to_owned(), Vec::new()),
        Err(_) => (String::new(), value.as_bytes().to_vec()),
    };
    HeaderValueOption {
        header: Some(HeaderValue {
            key: name.as_str().to_owned(),
            value,
            raw_value,
        }),
        append_action: action.into(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
