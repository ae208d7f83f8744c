//! Envoy's gRPC `ext_authz` (`Authorization/Check`) over a real HTTP/2
//! connection on 127.0.0.1, asked by a tonic client as Envoy asks: whom it
//! answers, for which host, and what its answers set, remove and refuse.
//! (Its verdicts, request by request, are held to the gate's in
//! `gate_vectors`.)

use crate::envoy_question::{check_request, ok, refusal, refused_status, set};
use crate::support::{CLIENT, Options, session_cookie, state};
use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use http::HeaderName;
use portcullis_sidecar::access::roles::Role;
use portcullis_sidecar::forward::check::service::{CheckService, serve_check};
use portcullis_sidecar::gate::identity_headers::IDENTITY;
use portcullis_sidecar::runtime::state::SharedState;
use std::net::IpAddr;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::Channel;

/// A gRPC `Check` service on 127.0.0.1, served until dropped.
pub struct Served {
    /// A client connected to it.
    pub client: AuthorizationClient<Channel>,
    _stop: watch::Sender<bool>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self._stop.send(true);
    }
}

/// Serves `state`'s `Check` service on a free port of 127.0.0.1.
pub async fn served(state: &SharedState) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(serve_check(listener, state.clone(), stopped));
    let client = AuthorizationClient::connect(format!("http://{address}"))
        .await
        .expect("connect");
    Served {
        client,
        _stop: stop,
    }
}

fn forward_auth() -> SharedState {
    state(Options {
        forward_auth: true,
        extra: "authorization:\n  rules:\n    - {path: /healthz, allow: public}\n    - {path: /admin/**, allow: admin}\n",
        ..Options::default()
    })
}

const HOST: &str = "127.0.0.1:4180";

#[tokio::test]
async fn a_signed_in_caller_passes_with_the_identity_set_and_every_forged_spelling_removed() {
    let state = forward_auth();
    let mut served = served(&state).await;
    let ursula = session_cookie(&state, "ursula", Role::Untrusted);
    let forged = [
        ("cookie", ursula.as_str()),
        ("x-forwarded-user", "admin"),
        ("x_forwarded_user", "admin"),
        ("x-portcullis_root", "true"),
        ("x-forwarded-for", "203.0.113.9"),
    ];
    let answer = served
        .client
        .check(check_request("GET", "/books?page=2", HOST, &forged))
        .await
        .expect("answered")
        .into_inner();
    assert_eq!(answer.status.as_ref().map(|status| status.code), Some(0));
    let ok = ok(&answer).expect("passes");
    assert_eq!(set(&ok.headers, "x-forwarded-user"), Some("ursula"));
    assert_eq!(set(&ok.headers, "x-portcullis-role"), Some("untrusted"));
    assert_eq!(set(&ok.headers, "x-portcullis-root"), Some("false"));
    for spelling in ["x_forwarded_user", "x-portcullis_root"] {
        assert!(
            ok.headers_to_remove.iter().any(|name| name == spelling),
            "{spelling} would reach the app: {:?}",
            ok.headers_to_remove
        );
    }
    for kept in [
        "x-forwarded-user",
        "x-portcullis-root",
        "x-forwarded-for",
        "cookie",
    ] {
        assert!(
            !ok.headers_to_remove.iter().any(|name| name == kept),
            "{kept} is removed: {:?}",
            ok.headers_to_remove
        );
    }
}

#[tokio::test]
async fn nobody_on_a_public_path_passes_with_every_identity_header_removed() {
    let state = forward_auth();
    let mut served = served(&state).await;
    let forged = [
        ("x-forwarded-user", "admin"),
        ("x-portcullis-role", "admin"),
    ];
    let answer = served
        .client
        .check(check_request("GET", "/healthz", HOST, &forged))
        .await
        .expect("answered")
        .into_inner();
    let ok = ok(&answer).expect("passes");
    assert!(
        ok.headers.is_empty(),
        "nobody has no identity: {:?}",
        ok.headers
    );
    for name in IDENTITY.iter().map(HeaderName::as_str) {
        assert!(
            ok.headers_to_remove.iter().any(|removed| removed == name),
            "{name} would keep the client's value"
        );
    }
}

#[tokio::test]
async fn a_browser_without_a_session_is_denied_with_the_redirect_to_sign_in() {
    let state = forward_auth();
    let mut served = served(&state).await;
    let browser = [("accept", "text/html")];
    let answer = served
        .client
        .check(check_request("GET", "/books?page=2", HOST, &browser))
        .await
        .expect("answered")
        .into_inner();
    assert_eq!(answer.status.as_ref().map(|status| status.code), Some(16));
    let denied = refusal(&answer).expect("refused");
    assert_eq!(refused_status(denied), 303);
    assert_eq!(
        set(&denied.headers, "location"),
        Some("/auth/start?rd=%2Fbooks%3Fpage%3D2")
    );
    let script = served
        .client
        .check(check_request(
            "GET",
            "/books",
            HOST,
            &[("accept", "application/json")],
        ))
        .await
        .expect("answered")
        .into_inner();
    assert_eq!(refused_status(refusal(&script).expect("refused")), 401);
}

#[tokio::test]
async fn a_browser_on_another_listed_host_is_sent_to_sign_in_on_the_public_host() {
    let state = state(Options {
        forward_auth: true,
        public_url: "https://auth.example.com",
        many_hosts: ("films.example.com", "example.com"),
        ..Options::default()
    });
    let mut served = served(&state).await;
    let browser = [("accept", "text/html")];
    let answer = served
        .client
        .check(check_request("GET", "/reel", "films.example.com", &browser))
        .await
        .expect("answered")
        .into_inner();
    let denied = refusal(&answer).expect("refused");
    assert_eq!(refused_status(denied), 303);
    assert_eq!(
        set(&denied.headers, "location"),
        Some("https://auth.example.com/auth/start?rd=https%3A%2F%2Ffilms.example.com%2Freel")
    );
    let unlisted = served
        .client
        .check(check_request("GET", "/", "books.example.com", &browser))
        .await
        .expect("answered")
        .into_inner();
    assert_eq!(refused_status(refusal(&unlisted).expect("refused")), 403);
}

#[tokio::test]
async fn a_role_too_low_is_denied_403_and_the_client_keeps_no_identity() {
    let state = forward_auth();
    let mut served = served(&state).await;
    let ursula = session_cookie(&state, "ursula", Role::Untrusted);
    let answer = served
        .client
        .check(check_request(
            "GET",
            "/admin/users",
            HOST,
            &[("cookie", &ursula)],
        ))
        .await
        .expect("answered")
        .into_inner();
    assert_eq!(answer.status.as_ref().map(|status| status.code), Some(7));
    let denied = refusal(&answer).expect("refused");
    assert_eq!(refused_status(denied), 403);
    assert!(set(&denied.headers, "x-forwarded-user").is_none());
}

#[tokio::test]
async fn a_question_from_an_untrusted_peer_or_for_another_host_is_refused_whatever_it_carries() {
    let state = forward_auth();
    let service = CheckService::new(state.clone());
    let admin = session_cookie(&state, "alice", Role::Admin);
    let question = check_request("GET", "/books", HOST, &[("cookie", &admin)]);
    let trusted = service.answer(CLIENT.ip(), &question).await;
    assert!(ok(&trusted).is_some(), "the trusted proxy is answered");
    let stranger: IpAddr = "192.0.2.1".parse().expect("address");
    let untrusted = service.answer(stranger, &question).await;
    let denied = refusal(&untrusted).expect("refused");
    assert_eq!(refused_status(denied), 403);
    assert!(denied.body.contains("trustedProxies"), "{}", denied.body);
    let other_host = check_request("GET", "/books", "apps.example.com", &[("cookie", &admin)]);
    let denied = service.answer(CLIENT.ip(), &other_host).await;
    let denied = refusal(&denied).expect("refused");
    assert_eq!(refused_status(denied), 403);
    assert!(denied.body.contains("apps.example.com"), "{}", denied.body);
    let unnamed = service.answer(CLIENT.ip(), &CheckRequest::default()).await;
    let denied = refusal(&unnamed).expect("refused");
    assert_eq!(refused_status(denied), 400);
    assert!(
        denied.body.contains("attributes.request.http"),
        "{}",
        denied.body
    );
    let no_message_to_strangers = service.answer(stranger, &CheckRequest::default()).await;
    assert_eq!(
        refused_status(refusal(&no_message_to_strangers).expect("refused")),
        403
    );
}

#[tokio::test]
async fn a_path_from_a_header_is_never_taken_for_the_one_envoy_names() {
    let state = forward_auth();
    let service = CheckService::new(state.clone());
    let ursula = session_cookie(&state, "ursula", Role::Untrusted);
    // The client says `/healthz` in every header a proxy might read; Envoy
    // names `/admin/users`.
    let forged = [
        ("cookie", ursula.as_str()),
        ("x-original-url", "https://127.0.0.1:4180/healthz"),
        ("x-forwarded-uri", "/healthz"),
        ("x-envoy-original-path", "/healthz"),
    ];
    let answer = service
        .answer(
            CLIENT.ip(),
            &check_request("GET", "/admin/users", HOST, &forged),
        )
        .await;
    assert_eq!(refused_status(refusal(&answer).expect("refused")), 403);
}

#[tokio::test]
async fn the_grpc_port_serves_at_most_max_connections_at_once() {
    let state = state(Options {
        forward_auth: true,
        extra: "connections:\n  maxConnections: 1\n",
        ..Options::default()
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (_stop, stopped) = watch::channel(false);
    tokio::spawn(serve_check(listener, state.clone(), stopped));
    // One connection holds the only place; a client's call waits for it.
    let holder = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let mut client = AuthorizationClient::new(
        tonic::transport::Endpoint::from_shared(format!("http://{address}"))
            .expect("endpoint")
            .connect_lazy(),
    );
    let question = check_request("GET", "/healthz", HOST, &[]);
    let mut call = Box::pin(client.check(question));
    let waited = tokio::time::timeout(std::time::Duration::from_millis(300), &mut call).await;
    assert!(
        waited.is_err(),
        "answered beside the connection holding the only place"
    );
    drop(holder);
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), call)
        .await
        .expect("answered once the place is free")
        .expect("answered");
    let refused = refusal(&answer.into_inner()).map(refused_status);
    assert_eq!(
        refused,
        Some(401),
        "nobody is signed in, and no rule makes it public"
    );
}
