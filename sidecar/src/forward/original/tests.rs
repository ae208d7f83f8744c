//! Which forward-auth questions are believed, and what they are read as.

use super::*;
use http::HeaderValue;

const INGRESS: &str = "10.0.0.7";
const PUBLIC_URL: &str = "https://books.example.com";

static PUBLIC: std::sync::LazyLock<url::Url> =
    std::sync::LazyLock::new(|| url::Url::parse(PUBLIC_URL).expect("url"));

fn hosts() -> Hosts<'static> {
    Hosts::new(&PUBLIC, &[])
}

fn ask(peer: &str, headers: &[(&'static str, &str)]) -> Result<Original, NotBelieved> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(*name, HeaderValue::from_str(value).expect("header value"));
    }
    original_request(
        peer.parse().expect("address"),
        &map,
        &["10.0.0.0/24".parse().expect("net")],
        hosts(),
    )
}

fn nginx(url: &str, method: &str) -> Result<Original, NotBelieved> {
    ask(
        INGRESS,
        &[("x-original-url", url), ("x-original-method", method)],
    )
}

#[test]
fn nginx_names_the_request_in_its_original_url_and_method() {
    let original = nginx("https://books.example.com/admin/users?page=2", "DELETE").expect("read");
    assert_eq!(original.method, Method::DELETE);
    assert_eq!(original.uri, "/admin/users?page=2");
    assert_eq!(original.contract, Contract::Nginx);
    let bare = nginx("https://books.example.com", "GET").expect("read");
    assert_eq!(bare.uri, "/");
}

#[test]
fn the_target_is_kept_as_sent_for_the_rules_to_judge() {
    for target in [
        "/static/../admin",
        "/static/%2e%2e/admin",
        "//admin",
        "/static%2F..%2Fadmin",
        "/admin;x",
    ] {
        let original = nginx(&format!("http://books.example.com{target}"), "GET").expect(target);
        assert_eq!(original.uri, target);
    }
}

#[test]
fn traefik_names_the_request_in_its_forwarded_headers() {
    let original = ask(
        INGRESS,
        &[
            ("x-forwarded-method", "POST"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "books.example.com:443"),
            ("x-forwarded-uri", "/upload?x=1"),
        ],
    )
    .expect("read");
    assert_eq!(original.method, Method::POST);
    assert_eq!(original.uri, "/upload?x=1");
    assert_eq!(original.contract, Contract::Traefik);
}

#[test]
fn a_question_from_a_peer_that_is_not_a_trusted_proxy_is_never_believed() {
    let refused = ask(
        "192.0.2.1",
        &[
            ("x-original-url", "https://books.example.com/static/x"),
            ("x-original-method", "GET"),
        ],
    );
    let error = refused.expect_err("untrusted peer");
    assert_eq!(
        error,
        NotBelieved::UntrustedPeer("192.0.2.1".parse().expect("ip"))
    );
    assert!(error.is_forbidden());
    assert!(error.to_string().contains("trustedProxies"), "{error}");
}

#[test]
fn a_question_naming_its_request_both_ways_is_refused() {
    // ingress-nginx sets X-Original-URL and passes a client's X-Forwarded-Uri
    // on; Traefik does the reverse. Either way one of them is the client's.
    let refused = ask(
        INGRESS,
        &[
            ("x-original-url", "https://books.example.com/admin"),
            ("x-original-method", "GET"),
            ("x-forwarded-method", "GET"),
            ("x-forwarded-host", "books.example.com"),
            ("x-forwarded-uri", "/static/app.js"),
        ],
    );
    assert_eq!(refused, Err(NotBelieved::BothContracts));
}

#[test]
fn only_the_exact_header_names_are_read() {
    let underscored = ask(
        INGRESS,
        &[
            ("x_original_url", "https://books.example.com/static/x"),
            ("x_original_method", "GET"),
        ],
    );
    assert_eq!(underscored, Err(NotBelieved::Unnamed));
    let cased = ask(
        INGRESS,
        &[
            ("X-ORIGINAL-URL", "https://books.example.com/x"),
            ("x-original-method", "GET"),
        ],
    );
    assert!(cased.is_ok(), "header names are case-insensitive in HTTP");
}

#[test]
fn a_host_this_service_does_not_protect_is_refused() {
    for url in [
        "https://other.example.com/",
        "https://books.example.com.evil.example/",
        "https://evil.example/https://books.example.com/",
    ] {
        let error = nginx(url, "GET").expect_err(url);
        assert!(matches!(error, NotBelieved::OtherHost(_)), "{url}: {error}");
        assert!(error.is_forbidden());
    }
    let other = ask(
        INGRESS,
        &[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-host", "other.example.com"),
            ("x-forwarded-uri", "/"),
        ],
    );
    assert_eq!(
        other,
        Err(NotBelieved::OtherHost("other.example.com".into()))
    );
    // Behind a load balancer that ends TLS, nginx sees http and no port.
    assert!(nginx("http://BOOKS.example.com:8080/x", "GET").is_ok());
}

#[test]
fn a_target_with_a_fragment_is_refused_rather_than_cut_short() {
    // Found by the `forward_question` fuzz target: the URI parser dropped
    // `#admin` and the rules would have judged `/static/..`.
    let traefik = ask(
        INGRESS,
        &[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-host", "books.example.com"),
            ("x-forwarded-uri", "/static/..#admin"),
        ],
    );
    assert!(
        matches!(traefik, Err(NotBelieved::Malformed { .. })),
        "{traefik:?}"
    );
    let nginx = nginx("https://books.example.com/static/..#admin", "GET");
    assert!(
        matches!(nginx, Err(NotBelieved::Malformed { .. })),
        "{nginx:?}"
    );
    let envoy = envoy(INGRESS, "/auth/envoy/static/..#admin", "books.example.com");
    assert!(
        matches!(envoy, Err(NotBelieved::Malformed { .. })),
        "{envoy:?}"
    );
}

#[test]
fn missing_repeated_and_malformed_headers_are_named() {
    let cases: [(&[(&str, &str)], NotBelieved); 6] = [
        (&[], NotBelieved::Unnamed),
        (
            &[("x-original-url", "https://books.example.com/")],
            NotBelieved::Missing("X-Original-Method"),
        ),
        (
            &[
                ("x-original-url", "https://books.example.com/"),
                ("x-original-url", "https://books.example.com/admin"),
                ("x-original-method", "GET"),
            ],
            NotBelieved::Repeated("X-Original-URL"),
        ),
        (
            &[("x-original-url", "/admin"), ("x-original-method", "GET")],
            NotBelieved::Malformed {
                header: "X-Original-URL",
                why: "not an http or https URL",
            },
        ),
        (
            &[
                ("x-original-url", "https://books.example.com/"),
                ("x-original-method", "G E T"),
            ],
            NotBelieved::Malformed {
                header: "X-Original-Method",
                why: "not an HTTP method",
            },
        ),
        (
            &[
                ("x-forwarded-method", "GET"),
                ("x-forwarded-host", "books.example.com"),
                ("x-forwarded-uri", "https://books.example.com/admin"),
            ],
            NotBelieved::Malformed {
                header: "X-Forwarded-Uri",
                why: "not a path such as `/books?page=2`",
            },
        ),
    ];
    for (headers, expected) in cases {
        let error = ask(INGRESS, headers).expect_err("refused");
        assert_eq!(error, expected, "{headers:?}");
        assert!(!error.is_forbidden(), "{error}");
    }
}

fn envoy(peer: &str, target: &str, host: &str) -> Result<Original, NotBelieved> {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(host).expect("host"));
    // A client's header naming another request is not read in this contract.
    headers.insert(
        "x-original-url",
        HeaderValue::from_static("https://books.example.com/static/x"),
    );
    envoy_request(
        peer.parse().expect("address"),
        &Method::DELETE,
        target,
        &headers,
        &["10.0.0.0/24".parse().expect("net")],
        hosts(),
    )
}

#[test]
fn envoy_names_the_request_in_its_own_method_path_and_host() {
    let original =
        envoy(INGRESS, "/auth/envoy/admin/users?x=1", "books.example.com").expect("read");
    assert_eq!(original.method, Method::DELETE);
    assert_eq!(original.uri, "/admin/users?x=1");
    assert_eq!(original.contract, Contract::Envoy);
    let kept = envoy(
        INGRESS,
        "/auth/envoy/static/../admin",
        "books.example.com:443",
    )
    .expect("read");
    assert_eq!(kept.uri, "/static/../admin", "kept as sent for the rules");
}

#[test]
fn envoy_questions_are_believed_from_trusted_peers_for_the_public_host_only() {
    assert_eq!(
        envoy("192.0.2.1", "/auth/envoy/", "books.example.com"),
        Err(NotBelieved::UntrustedPeer("192.0.2.1".parse().expect("ip")))
    );
    assert_eq!(
        envoy(INGRESS, "/auth/envoy/", "other.example.com"),
        Err(NotBelieved::OtherHost("other.example.com".into()))
    );
    for target in ["/auth/envoy", "/auth/envoyadmin", "/auth/envoy?x=/admin"] {
        let error = envoy(INGRESS, target, "books.example.com").expect_err(target);
        assert!(
            matches!(error, NotBelieved::Malformed { .. }),
            "{target}: {error}"
        );
    }
}

#[test]
fn a_listed_host_is_believed_by_every_contract_with_its_port_kept() {
    let public = url::Url::parse("https://auth.example.com").expect("url");
    let others = ["films.example.com".to_owned()];
    let hosts = Hosts::new(&public, &others);
    let trusted = ["10.0.0.0/24".parse().expect("net")];
    let peer: IpAddr = INGRESS.parse().expect("address");
    let headers = |pairs: &[(&'static str, &str)]| {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    };
    let nginx = headers(&[
        ("x-original-url", "https://Films.example.com:8443/reel?x=1"),
        ("x-original-method", "GET"),
    ]);
    let read = original_request(peer, &nginx, &trusted, hosts).expect("listed host");
    assert_eq!(read.authority, "Films.example.com:8443");
    assert_eq!(read.uri, "/reel?x=1");
    let traefik = headers(&[
        ("x-forwarded-method", "GET"),
        ("x-forwarded-host", "films.example.com"),
        ("x-forwarded-uri", "/reel"),
    ]);
    let read = original_request(peer, &traefik, &trusted, hosts).expect("listed host");
    assert_eq!(read.authority, "films.example.com");
    let envoy = envoy_check_request(peer, "GET", "/reel", "films.example.com", &trusted, hosts)
        .expect("listed host");
    assert_eq!(envoy.authority, "films.example.com");
    for unlisted in [
        "books.example.com",
        "films.example.com.evil.example",
        "example.com",
    ] {
        let asked = headers(&[
            ("x-original-url", &format!("https://{unlisted}/")),
            ("x-original-method", "GET"),
        ]);
        assert_eq!(
            original_request(peer, &asked, &trusted, hosts),
            Err(NotBelieved::OtherHost(unlisted.to_owned()))
        );
    }
}

#[test]
fn a_host_with_a_user_before_it_is_not_believed() {
    for (name, value) in [
        ("x-original-url", "https://evil@books.example.com/"),
        ("x-forwarded-host", "evil@books.example.com"),
    ] {
        let mut asked = vec![(name, value)];
        if name == "x-original-url" {
            asked.push(("x-original-method", "GET"));
        } else {
            asked.extend([("x-forwarded-method", "GET"), ("x-forwarded-uri", "/")]);
        }
        let read = ask(INGRESS, &asked);
        assert!(
            matches!(read, Err(NotBelieved::Malformed { .. })),
            "{name}: {read:?}"
        );
    }
}
