//! Envoy's gRPC `Check` question and the parts of its answer, as plain
//! functions over the protocol's types, so that every test asking it reads
//! the same file: the handler tests here and the end-to-end tests against
//! the real binary (`tests/tests/forward_auth_envoy_grpc.rs`, which
//! includes this file).

use envoy_types::pb::envoy::config::core::v3::HeaderValueOption;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{
    AttributeContext, CheckRequest, CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use std::collections::HashMap;

/// Envoy's question about `method path` on `host`, with the client's
/// `headers` (lowercase names), merged in a map as Envoy sends them.
pub fn check_request(
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
) -> CheckRequest {
    let mut map: HashMap<String, String> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    map.insert(":authority".to_owned(), host.to_owned());
    // A pseudo header that disagrees with the attributes: never read.
    map.insert(":path".to_owned(), "/somewhere-else".to_owned());
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                http: Some(HttpRequest {
                    method: method.to_owned(),
                    path: path.to_owned(),
                    host: host.to_owned(),
                    scheme: "https".to_owned(),
                    headers: map,
                    ..Default::default()
                }),
                time: None,
            }),
            ..Default::default()
        }),
    }
}

/// The `OK` answer's part, or `None` for a refusal.
pub fn ok(response: &CheckResponse) -> Option<&OkHttpResponse> {
    match &response.http_response {
        Some(HttpResponse::OkResponse(ok)) => Some(ok),
        _ => None,
    }
}

/// The refusal's part, or `None` when the request passes.
pub fn refusal(response: &CheckResponse) -> Option<&DeniedHttpResponse> {
    match &response.http_response {
        Some(HttpResponse::DeniedResponse(denied)) => Some(denied),
        _ => None,
    }
}

/// The HTTP status of a refusal.
pub fn refused_status(denied: &DeniedHttpResponse) -> u16 {
    let code = denied.status.as_ref().map_or(0, |status| status.code);
    u16::try_from(code).expect("an HTTP status")
}

/// The value of header `name` an answer sets, if any.
pub fn set<'a>(options: &'a [HeaderValueOption], name: &str) -> Option<&'a str> {
    options
        .iter()
        .filter_map(|option| option.header.as_ref())
        .find(|header| header.key == name)
        .map(|header| header.value.as_str())
}
