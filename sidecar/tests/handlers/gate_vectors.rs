//! One table of request vectors, held against the gate and against every
//! door over it, so that no door decides differently.
//!
//! Each vector is a method, a path as sent (encodings, dot segments, case),
//! request headers (`Accept`, a form's content type, method overrides) and a
//! caller, judged by the access tests' rules; its outcome is what the gate
//! must decide. The gate is asked directly ([`decide`]); the reverse proxy is
//! asked through the public app, as a client would (its status code tells
//! the outcome), the forward-auth door as nginx, Traefik and Envoy ask it
//! over HTTP, and Envoy's gRPC `Check` through a real HTTP/2 connection. A
//! new door adds its own reading of the same table.

use crate::envoy_check::served;
use crate::envoy_question::{check_request, ok, refusal, refused_status, set};
use crate::gate_table::{
    Headers, Outcome,
    Outcome::{Ambiguous, Denied, Pass, SignIn, Unauthenticated},
    RULES, VECTORS, Who,
    Who::{Admin, Nobody, Root, Trusted, Untrusted},
};
use crate::proxy::echo_app;
use crate::support::{CLIENT, Options, send, session_cookie_with, state};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::response::IntoResponse;
use portcullis_sidecar::access::roles::Role;
use portcullis_sidecar::gate::{Asked, Refusal, decide};
use portcullis_sidecar::runtime::state::SharedState;

async fn guarded() -> SharedState {
    state(Options {
        upstream: echo_app().await,
        extra: RULES,
        ..Options::default()
    })
}

fn cookie(state: &SharedState, who: Who) -> Option<String> {
    let (user, role, root) = match who {
        Nobody => return None,
        Untrusted => ("ursula", Role::Untrusted, false),
        Trusted => ("trudy", Role::Trusted, false),
        Admin => ("alice", Role::Admin, false),
        Root => ("admin", Role::Admin, true),
    };
    Some(session_cookie_with(state, user, role, root))
}

fn headers(sent: Headers, cookie: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in sent {
        headers.insert(*name, HeaderValue::from_static(value));
    }
    if let Some(cookie) = cookie {
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(cookie).expect("cookie"),
        );
    }
    headers
}

/// The gate's own answer.
fn gate_outcome(decided: Result<&portcullis_sidecar::gate::Pass, &Refusal>) -> Outcome {
    match decided {
        Ok(_) => Pass,
        Err(Refusal::SignIn { .. }) => SignIn,
        Err(Refusal::Unauthenticated | Refusal::InvalidBearer) => Unauthenticated,
        Err(Refusal::Denied { .. } | Refusal::NotAllowed(_)) => Denied,
        Err(Refusal::AmbiguousPath(_)) => Ambiguous,
        Err(Refusal::ProviderUnavailable(_)) => panic!("no provider is asked here"),
        Err(Refusal::StoreUnavailable { .. }) => panic!("no session store is set up here"),
    }
}

/// The outcome a client reads from an answer's status.
fn answered_outcome(status: StatusCode) -> Outcome {
    match status {
        StatusCode::SEE_OTHER => SignIn,
        StatusCode::UNAUTHORIZED => Unauthenticated,
        StatusCode::FORBIDDEN => Denied,
        StatusCode::BAD_REQUEST => Ambiguous,
        status if status.is_success() => Pass,
        other => panic!("unexpected status {other}"),
    }
}

#[tokio::test]
async fn the_gate_decides_every_vector_as_the_table_says() {
    let state = guarded().await;
    let settings = state.settings.load_full();
    for &(method, path, sent, who, expected) in VECTORS {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let uri: Uri = path.parse().expect("uri");
        let headers = headers(sent, cookie(&state, who).as_deref());
        let decided = decide(&state, &settings, Asked::new(&method, &uri, &headers)).await;
        assert_eq!(
            gate_outcome(decided.as_ref()),
            expected,
            "{method} {path} as {who:?}"
        );
        if let Err(Refusal::SignIn { return_to }) = &decided {
            assert_eq!(return_to, path, "a sign-in returns to the page asked for");
        }
        if let (Ok(pass), Nobody) = (&decided, who) {
            assert!(pass.identity.is_none(), "{path}: nobody has no identity");
        }
        // The answer the gate gives for its refusal is the one a door sends.
        if let Err(refusal) = decided {
            let status = refusal.into_response().status();
            assert_eq!(answered_outcome(status), expected, "{path}: {status}");
        }
    }
}

#[tokio::test]
async fn the_reverse_proxy_door_answers_every_vector_as_the_gate_decides() {
    let state = guarded().await;
    for &(method, path, sent, who, expected) in VECTORS {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in sent {
            request = request.header(*name, *value);
        }
        if let Some(cookie) = cookie(&state, who) {
            request = request.header(header::COOKIE, cookie);
        }
        let response = send(&state, request.body(Body::empty()).expect("request")).await;
        assert_eq!(
            answered_outcome(response.status()),
            expected,
            "{method} {path} as {who:?} from {CLIENT}"
        );
    }
}

/// How a proxy in front asks the forward-auth door about a request.
#[derive(Clone, Copy, Debug)]
enum Asking {
    /// `X-Original-URL` and `X-Original-Method`.
    Nginx,
    /// `X-Forwarded-Method`, `-Proto`, `-Host` and `-Uri`.
    Traefik,
    /// Envoy's HTTP `ext_authz`: the original method, path and `Host`.
    Envoy,
}

/// The outcome a forward-auth question's answer tells, under `asking`'s
/// contract: nginx's sign-in is a 401 with where to sign in, Traefik's the
/// redirect itself.
fn forward_outcome(asking: Asking, response: &axum::http::Response<Body>) -> Outcome {
    let status = response.status();
    match (asking, status) {
        (Asking::Nginx, StatusCode::UNAUTHORIZED)
            if response.headers().contains_key(header::LOCATION) =>
        {
            SignIn
        }
        (Asking::Nginx, StatusCode::SEE_OTHER) => panic!("nginx cannot follow a redirect"),
        _ => answered_outcome(status),
    }
}

#[tokio::test]
async fn the_forward_auth_door_answers_every_vector_as_the_gate_decides() {
    let state = state(Options {
        forward_auth: true,
        extra: RULES,
        ..Options::default()
    });
    let public = state.settings.load().public_url.clone();
    let host = public.host_str().expect("host").to_owned();
    for asking in [Asking::Nginx, Asking::Traefik, Asking::Envoy] {
        for &(method, path, sent, who, expected) in VECTORS {
            let mut request = Request::builder().uri("/auth/verify");
            request = match asking {
                Asking::Envoy => Request::builder()
                    .method(method)
                    .uri(format!("/auth/envoy{path}"))
                    .header(header::HOST, format!("{host}:8443")),
                Asking::Nginx => request
                    .header("x-original-url", format!("http://{host}:8443{path}"))
                    .header("x-original-method", method),
                Asking::Traefik => request
                    .header("x-forwarded-method", method)
                    .header("x-forwarded-proto", "http")
                    .header("x-forwarded-host", &host)
                    .header("x-forwarded-uri", path),
            };
            for (name, value) in sent {
                request = request.header(*name, *value);
            }
            if let Some(cookie) = cookie(&state, who) {
                request = request.header(header::COOKIE, cookie);
            }
            let response = send(&state, request.body(Body::empty()).expect("request")).await;
            let context = format!("{asking:?}: {method} {path} as {who:?}");
            assert_eq!(forward_outcome(asking, &response), expected, "{context}");
            // Envoy's answers name every identity header, empty without one.
            let user = response
                .headers()
                .get("x-forwarded-user")
                .filter(|user| !user.is_empty());
            match (expected, who) {
                (SignIn, _) => {
                    let start = response.headers()[header::LOCATION]
                        .to_str()
                        .expect("ascii");
                    let rd = url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("rd", path)
                        .finish();
                    assert_eq!(start, format!("/auth/start?{rd}"), "{context}");
                }
                (Pass, Nobody) => assert!(user.is_none(), "{context}: nobody has no identity"),
                (Pass, _) => assert!(user.is_some(), "{context}: the identity is answered"),
                _ => assert!(user.is_none(), "{context}: a refusal tells no identity"),
            }
        }
    }
}

#[tokio::test]
async fn envoys_grpc_check_answers_every_vector_as_the_gate_decides() {
    let state = state(Options {
        forward_auth: true,
        extra: RULES,
        ..Options::default()
    });
    let public = state.settings.load().public_url.clone();
    let host = format!("{}:8443", public.host_str().expect("host"));
    let mut served = served(&state).await;
    for &(method, path, sent, who, expected) in VECTORS {
        let cookie = cookie(&state, who);
        let mut headers: Vec<(String, &str)> = sent
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), *value))
            .collect();
        if let Some(cookie) = &cookie {
            headers.push(("cookie".to_owned(), cookie));
        }
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (name.as_str(), *value))
            .collect();
        let answer = served
            .client
            .check(check_request(method, path, &host, &headers))
            .await
            .expect("answered")
            .into_inner();
        let context = format!("gRPC: {method} {path} as {who:?}");
        let Some(denied) = refusal(&answer) else {
            assert_eq!(expected, Pass, "{context}");
            let ok = ok(&answer).expect("an OK answer");
            let user = ok
                .headers
                .iter()
                .filter_map(|option| option.header.as_ref())
                .find(|header| header.key == "x-forwarded-user");
            assert_eq!(
                user.is_some(),
                who != Nobody,
                "{context}: the identity is set for a caller only"
            );
            continue;
        };
        let status = StatusCode::from_u16(refused_status(denied)).expect("status");
        assert_eq!(answered_outcome(status), expected, "{context}");
        if expected == SignIn {
            let rd = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("rd", path)
                .finish();
            let location = set(&denied.headers, "location");
            assert_eq!(
                location,
                Some(format!("/auth/start?{rd}").as_str()),
                "{context}"
            );
        }
    }
}

/// The path fuzzer starts from every path of the table
/// (`fuzz/corpus/gate_path`, one file per path), so what it finds grows
/// from the cases already known.
#[test]
fn every_path_of_the_table_seeds_the_path_fuzzer() {
    let seeds_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/gate_path");
    let seeds: std::collections::BTreeSet<Vec<u8>> = std::fs::read_dir(&seeds_dir)
        .expect("the seed corpus")
        .map(|entry| std::fs::read(entry.expect("a seed").path()).expect("readable"))
        .collect();
    for &(_, path, ..) in VECTORS {
        assert!(
            seeds.contains(path.as_bytes()),
            "{path} is no seed in {}",
            seeds_dir.display()
        );
    }
}
