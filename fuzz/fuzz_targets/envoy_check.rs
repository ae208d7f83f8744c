//! Envoy's gRPC `CheckRequest` is believed only from a trusted proxy, for
//! the public host, and read as exactly the request its attributes name;
//! a pass then leaves no client spelling of an identity header standing.
//!
//! The input is the message as Envoy sends it (protobuf); inputs that do not
//! decode are skipped. Each is asked from a trusted peer (in `10.0.0.0/8`)
//! and from one outside. Afterwards:
//!
//! - the untrusted peer is never believed;
//! - a believed question names an origin-form target, the attributes' own
//!   path as sent, for `books.example.com`, and carries no pseudo header;
//! - answering it with an identity (`x-forwarded-user`) sets that header,
//!   and removes every other identity header and every header the client
//!   sent that reads as one (`_` for `-`), never one it sets.

#![no_main]

use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use http::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use portcullis_sidecar::config::hosts::Hosts;
use portcullis_sidecar::forward::check::answer::allowed;
use portcullis_sidecar::forward::check::question::question_of;
use portcullis_sidecar::forward::verify::Passed;
use portcullis_sidecar::gate::identity_headers::IDENTITY;
use prost::Message;
use std::net::IpAddr;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let Ok(check) = CheckRequest::decode(data) else {
        return;
    };
    let trusted: [IpNet; 1] = ["10.0.0.0/8".parse().expect("net")];
    let public_url = Url::parse("https://books.example.com").expect("url");
    let hosts = Hosts::new(&public_url, &[]);
    let stranger: IpAddr = "192.0.2.1".parse().expect("ip");
    assert!(question_of(stranger, &check, &trusted, hosts).is_err());

    let proxy: IpAddr = "10.1.2.3".parse().expect("ip");
    let Ok(question) = question_of(proxy, &check, &trusted, hosts) else {
        return;
    };
    let http = check
        .attributes
        .as_ref()
        .and_then(|attributes| attributes.request.as_ref())
        .and_then(|request| request.http.as_ref())
        .expect("a believed question has its request");
    let uri = question.original.uri.to_string();
    assert!(uri.starts_with('/'), "{uri}");
    assert_eq!(uri, http.path, "the target is the attributes' own");
    assert!(question.original.uri.authority().is_none());
    assert!(
        question
            .headers
            .keys()
            .all(|name| !name.as_str().starts_with(':'))
    );

    let signed = HeaderName::from_static("x-jwt-assertion");
    let mut identity = HeaderMap::new();
    identity.insert("x-forwarded-user", HeaderValue::from_static("alice"));
    let passed = Passed {
        identity,
        set_cookie: None,
    };
    let answer = allowed(passed, &question.headers, Some(&signed));
    let Some(HttpResponse::OkResponse(ok)) = answer.http_response else {
        panic!("a pass is answered OK");
    };
    let set: Vec<&str> = ok
        .headers
        .iter()
        .filter_map(|option| option.header.as_ref())
        .map(|header| header.key.as_str())
        .collect();
    assert_eq!(set, ["x-forwarded-user"]);
    let removed = |name: &str| ok.headers_to_remove.iter().any(|gone| gone == name);
    assert!(!removed("x-forwarded-user"));
    let dashed = |name: &str| name.replace('_', "-");
    for name in IDENTITY.iter().chain([&signed]) {
        if name != "x-forwarded-user" {
            assert!(removed(name.as_str()), "{name} stays");
        }
    }
    for name in question.headers.keys() {
        let reads_as = dashed(name.as_str());
        let identity_spelling = IDENTITY
            .iter()
            .chain([&signed])
            .any(|owned| owned == reads_as.as_str());
        if identity_spelling && name != "x-forwarded-user" {
            assert!(removed(name.as_str()), "the client's {name} stays");
        }
    }
});
