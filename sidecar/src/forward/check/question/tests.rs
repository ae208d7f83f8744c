use super::*;
use envoy_types::pb::envoy::config::core::v3::{HeaderMap as RawHeaders, HeaderValue as RawHeader};
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::Request;
use std::collections::HashMap;

fn proxy() -> IpAddr {
    IpAddr::from([10, 0, 0, 7])
}

fn trusted() -> Vec<IpNet> {
    vec!["10.0.0.0/8".parse().expect("net")]
}

static PUBLIC: std::sync::LazyLock<url::Url> =
    std::sync::LazyLock::new(|| url::Url::parse("https://books.example.com").expect("url"));

fn public() -> Hosts<'static> {
    Hosts::new(&PUBLIC, &[])
}

fn check(http: HttpRequest) -> CheckRequest {
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                http: Some(http),
                time: None,
            }),
            ..Default::default()
        }),
    }
}

fn http(headers: &[(&str, &str)]) -> HttpRequest {
    HttpRequest {
        method: "POST".to_owned(),
        path: "/books?page=2".to_owned(),
        host: "books.example.com:443".to_owned(),
        headers: headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect::<HashMap<_, _>>(),
        ..Default::default()
    }
}

fn ask(check: &CheckRequest) -> Result<Question, NotBelieved> {
    question_of(proxy(), check, &trusted(), public())
}

#[test]
fn the_request_is_the_one_the_attributes_name_and_pseudo_headers_are_left_out() {
    let question = ask(&check(http(&[
        (":path", "/healthz"),
        (":authority", "books.example.com"),
        ("cookie", "books=1"),
    ])))
    .expect("believed");
    assert_eq!(question.original.method, http::Method::POST);
    assert_eq!(question.original.uri, "/books?page=2");
    assert_eq!(question.headers.len(), 1);
    assert_eq!(question.headers["cookie"], "books=1");
}

#[test]
fn raw_headers_are_read_as_sent_each_value_apart() {
    let mut asked = http(&[("cookie", "merged")]);
    asked.header_map = Some(RawHeaders {
        headers: vec![
            RawHeader {
                key: "cookie".to_owned(),
                raw_value: b"a=1".to_vec(),
                ..Default::default()
            },
            RawHeader {
                key: "cookie".to_owned(),
                raw_value: b"b=2".to_vec(),
                ..Default::default()
            },
        ],
    });
    let question = ask(&check(asked)).expect("believed");
    let cookies: Vec<_> = question.headers.get_all("cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
}

#[test]
fn a_header_no_http_request_could_carry_is_refused_by_name() {
    for (name, value) in [("bad name", "x"), ("x-ok", "line\nbreak")] {
        let refused = ask(&check(http(&[(name, value)]))).expect_err("malformed");
        assert!(!refused.is_forbidden());
        assert!(refused.to_string().contains(HEADERS), "{refused}");
    }
}

#[test]
fn an_untrusted_peer_is_refused_before_anything_about_the_message_is_said() {
    let stranger = IpAddr::from([192, 0, 2, 1]);
    let empty = CheckRequest::default();
    let refused = question_of(stranger, &empty, &trusted(), public()).expect_err("untrusted");
    assert_eq!(refused, NotBelieved::UntrustedPeer(stranger));
    assert_eq!(ask(&empty).expect_err("empty"), NotBelieved::Missing(HTTP));
}

#[test]
fn the_attributes_must_name_a_method_an_origin_form_path_and_our_host() {
    type Spoil = fn(&mut HttpRequest);
    let cases: [(Spoil, &str); 5] = [
        (|http| http.method.clear(), "attributes.request.http.method"),
        (
            |http| http.path = "https://evil.example/".to_owned(),
            "attributes.request.http.path",
        ),
        (
            |http| http.path = "/a#/admin".to_owned(),
            "attributes.request.http.path",
        ),
        (|http| http.host.clear(), "attributes.request.http.host"),
        (|http| http.host = "evil.example".to_owned(), "evil.example"),
    ];
    for (spoil, named) in cases {
        let mut asked = http(&[]);
        spoil(&mut asked);
        let refused = ask(&check(asked)).expect_err("not believed");
        assert!(refused.to_string().contains(named), "{refused}");
    }
}
