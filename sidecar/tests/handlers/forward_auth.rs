//! The forward-auth door in-process: whom it answers, for which host, and
//! what its answers carry. (Its verdicts, request by request, are held to
//! the gate's in `gate_vectors`.)

use crate::support::{
    Options, ROOT_PASSWORD, ROOT_USER, csrf_pair, get, header_text, post_form, send, send_from,
    session_cookie, set_cookies, state, text,
};
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use portcullis_sidecar::access::roles::Role;
use portcullis_sidecar::runtime::state::SharedState;
use std::net::SocketAddr;

fn forward_auth() -> SharedState {
    state(Options {
        forward_auth: true,
        extra: "authorization:\n  rules:\n    - {path: /healthz, allow: public}\n",
        ..Options::default()
    })
}

/// nginx's question about `GET url`, with `headers` beside.
fn question(url: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::builder()
        .uri("/auth/verify")
        .header("x-original-url", url)
        .header("x-original-method", "GET")
        .header(header::ACCEPT, "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::empty()).expect("request")
}

#[tokio::test]
async fn a_question_from_a_peer_that_is_not_a_trusted_proxy_is_refused_whatever_it_carries() {
    let state = forward_auth();
    let admin = session_cookie(&state, "alice", Role::Admin);
    let stranger: SocketAddr = "192.0.2.1:40000".parse().expect("address");
    let request = question(
        "http://127.0.0.1:4180/",
        &[(header::COOKIE.as_str(), admin.as_str())],
    );
    let response = send_from(&state, stranger, request).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("x-forwarded-user").is_none());
    assert!(text(response).await.contains("trustedProxies"));
}

#[tokio::test]
async fn identity_headers_a_client_sent_are_never_answered() {
    let state = forward_auth();
    let forged = [
        ("x-forwarded-user", "admin"),
        ("x-portcullis-role", "admin"),
        ("x-portcullis-root", "true"),
        ("x-forwarded-groups", "admin"),
    ];
    let anonymous = send(&state, question("http://127.0.0.1:4180/healthz", &forged)).await;
    assert_eq!(anonymous.status(), StatusCode::OK);
    for (name, _) in forged {
        assert!(anonymous.headers().get(name).is_none(), "{name} was echoed");
    }
    let ursula = session_cookie(&state, "ursula", Role::Untrusted);
    let mut signed_in = forged.to_vec();
    signed_in.push((header::COOKIE.as_str(), &ursula));
    let answer = send(&state, question("http://127.0.0.1:4180/", &signed_in)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["x-forwarded-user"], "ursula");
    assert_eq!(answer.headers()["x-portcullis-role"], "untrusted");
    assert_eq!(answer.headers()["x-portcullis-root"], "false");
    assert_eq!(answer.headers()[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn a_question_about_a_host_nobody_configured_is_refused() {
    let state = forward_auth();
    let admin = session_cookie(&state, "alice", Role::Admin);
    let cookie = [(header::COOKIE.as_str(), admin.as_str())];
    let ours = send(&state, question("http://127.0.0.1:4180/", &cookie)).await;
    assert_eq!(ours.status(), StatusCode::OK, "the public URL's own host");
    let other = send(&state, question("http://apps.example.com/", &cookie)).await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    assert!(other.headers().get("x-forwarded-user").is_none());
    assert!(text(other).await.contains("apps.example.com"));
}

#[tokio::test]
async fn a_forward_auth_service_serves_its_own_pages_and_proxies_nothing() {
    let state = forward_auth();
    let page = |uri: &str| Request::get(uri).body(Body::empty()).expect("request");
    let app = send(&state, page("/books")).await;
    assert_eq!(app.status(), StatusCode::NOT_FOUND);
    assert!(text(app).await.contains("forward-auth"));
    assert_eq!(send(&state, page("/login")).await.status(), StatusCode::OK);
    let unnamed = send(&state, page("/auth/verify")).await;
    assert_eq!(unnamed.status(), StatusCode::BAD_REQUEST);
    assert!(text(unnamed).await.contains("X-Original-URL"));
}

#[tokio::test]
async fn envoy_is_answered_every_identity_header_so_a_clients_own_cannot_stay() {
    let state = forward_auth();
    let question = |cookie: Option<&str>| {
        let mut request = Request::get("/auth/envoy/healthz")
            .header(header::HOST, "127.0.0.1:4180")
            .header("x-forwarded-user", "admin");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.body(Body::empty()).expect("request")
    };
    let anonymous = send(&state, question(None)).await;
    assert_eq!(anonymous.status(), StatusCode::OK);
    for name in [
        "x-forwarded-user",
        "x-forwarded-groups",
        "x-forwarded-email",
        "x-forwarded-preferred-username",
        "x-portcullis-role",
        "x-portcullis-root",
    ] {
        assert_eq!(
            anonymous.headers()[name],
            "",
            "{name}: Envoy would keep the client's"
        );
    }
    let ursula = session_cookie(&state, "ursula", Role::Untrusted);
    let signed_in = send(&state, question(Some(&ursula))).await;
    assert_eq!(signed_in.headers()["x-forwarded-user"], "ursula");
    let stranger: SocketAddr = "192.0.2.1:40000".parse().expect("address");
    let refused = send_from(&state, stranger, question(Some(&ursula))).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn envoy_is_answered_the_signed_identity_header_too_empty_without_a_caller() {
    let state = state(Options {
        forward_auth: true,
        extra: "signedIdentity:\n  keyFile: /secrets/identity-keys\n  headerName: X-Jwt-Assertion\nauthorization:\n  rules:\n    - {path: /healthz, allow: public}\n",
        ..Options::default()
    });
    let request = Request::get("/auth/envoy/healthz")
        .header(header::HOST, "127.0.0.1:4180")
        .header("x-jwt-assertion", "a token the client brought")
        .body(Body::empty())
        .expect("request");
    let anonymous = send(&state, request).await;
    assert_eq!(anonymous.status(), StatusCode::OK);
    assert_eq!(
        anonymous.headers()["x-jwt-assertion"],
        "",
        "Envoy would keep the client's token"
    );
}

/// A forward-auth service signing in on `auth.example.com` for
/// `films.example.com` too, its cookie shared on `example.com`.
fn many_hosts() -> SharedState {
    state(Options {
        forward_auth: true,
        public_url: "https://auth.example.com",
        many_hosts: ("films.example.com", "example.com"),
        ..Options::default()
    })
}

/// A browser's nginx question about `GET url`.
fn browser_question(url: &str) -> Request<Body> {
    Request::builder()
        .uri("/auth/verify")
        .header("x-original-url", url)
        .header("x-original-method", "GET")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .expect("request")
}

#[tokio::test]
async fn a_listed_host_signs_in_on_the_public_host_and_comes_back_to_itself() {
    let state = many_hosts();
    let films = send(
        &state,
        browser_question("http://films.example.com/reel?x=1"),
    )
    .await;
    assert_eq!(films.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        films.headers()[header::LOCATION],
        "https://auth.example.com/auth/start?rd=https%3A%2F%2Ffilms.example.com%2Freel%3Fx%3D1",
        "the sign-in is on the public host, and comes back over its scheme"
    );
    let own = send(&state, browser_question("https://auth.example.com/account")).await;
    assert_eq!(
        own.headers()[header::LOCATION],
        "/auth/start?rd=%2Faccount",
        "the public host's own pages stay relative"
    );
    let traefik = Request::builder()
        .uri("/auth/verify")
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-host", "films.example.com")
        .header("x-forwarded-uri", "/reel")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .expect("request");
    let traefik = send(&state, traefik).await;
    assert_eq!(traefik.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        traefik.headers()[header::LOCATION],
        "https://auth.example.com/auth/start?rd=https%3A%2F%2Ffilms.example.com%2Freel"
    );
    let alice = session_cookie(&state, "alice", Role::Trusted);
    let cookie = [(header::COOKIE.as_str(), alice.as_str())];
    let passed = send(&state, question("https://films.example.com/reel", &cookie)).await;
    assert_eq!(passed.status(), StatusCode::OK);
    assert_eq!(passed.headers()["x-forwarded-user"], "alice");
    let unlisted = send(&state, question("https://books.example.com/", &cookie)).await;
    assert_eq!(unlisted.status(), StatusCode::FORBIDDEN);
    assert!(unlisted.headers().get("x-forwarded-user").is_none());
}

#[tokio::test]
async fn the_sign_in_pages_send_back_to_listed_hosts_only() {
    let state = many_hosts();
    for (rd, kept) in [
        (
            "https://films.example.com/reel",
            "https://films.example.com/reel",
        ),
        (
            "http://films.example.com/reel",
            "https://films.example.com/reel",
        ),
        ("https://auth.example.com/account", "/account"),
        ("https://books.example.com/", "/"),
        ("https://films.example.com.evil.example/", "/"),
        ("https://evil.example/?films.example.com", "/"),
    ] {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("rd", rd)
            .finish();
        let page = text(send(&state, get(&format!("/login?{query}"), None, None)).await).await;
        assert!(
            page.contains(&format!("name=\"rd\" value=\"{kept}\"")),
            "{rd} should give {kept}: {page}"
        );
    }
}

#[tokio::test]
async fn the_session_cookie_is_shared_on_the_domain_under_the_secure_prefix() {
    let state = many_hosts();
    let (token, csrf) = csrf_pair(&state, "/login?backup=1", None).await;
    let fields = [
        ("username", ROOT_USER),
        ("password", ROOT_PASSWORD),
        ("csrf", token.as_str()),
        ("rd", "https://films.example.com/reel"),
    ];
    let response = send(&state, post_form("/login", &fields, Some(&csrf))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        header_text(&response, header::LOCATION),
        "https://films.example.com/reel"
    );
    let session = set_cookie_starting(&response, "__Secure-portcullis_session=")
        .expect("a session cookie under the __Secure- prefix");
    for attribute in ["Domain=example.com", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(session.contains(attribute), "{attribute}: {session}");
    }
    let pair = session.split(';').next().expect("pair");
    let films = send(
        &state,
        question(
            "https://films.example.com/reel",
            &[(header::COOKIE.as_str(), pair)],
        ),
    )
    .await;
    assert_eq!(films.status(), StatusCode::OK);
    assert_eq!(films.headers()["x-forwarded-user"], ROOT_USER);
    let host_only = set_cookies(&response)
        .into_iter()
        .filter(|pair| pair.starts_with("__Host-"))
        .count();
    assert_eq!(host_only, 0, "a __Host- cookie cannot name a Domain");
    let (token, csrf) = csrf_pair(&state, "/logout", Some(pair)).await;
    let cookies = format!("{pair}; {csrf}");
    let logout = send(
        &state,
        post_form("/logout", &[("csrf", token.as_str())], Some(&cookies)),
    )
    .await;
    let cleared = set_cookie_starting(&logout, "__Secure-portcullis_session=;")
        .expect("the session cookie cleared");
    assert!(
        cleared.contains("Domain=example.com"),
        "a browser clears only the cookie of the same domain: {cleared}"
    );
}

/// The whole `Set-Cookie` value of `response` that starts with `start`,
/// attributes included.
fn set_cookie_starting<'a>(response: &'a Response<Body>, start: &str) -> Option<&'a str> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(start))
}
