//! One table of request vectors, held against the gate and against every
//! door over it, so that no door decides differently.
//!
//! Each vector is a method, a path as sent (encodings, dot segments, case),
//! an `Accept` header and a caller, judged by the access tests' rules; its outcome is what the gate must
//! decide. The gate is asked directly ([`decide`]); the reverse proxy is
//! asked through the public app, as a client would (its status code tells
//! the outcome). A new door adds its own reading of the same table.

use crate::access::RULES;
use crate::proxy::echo_app;
use crate::support::{CLIENT, Options, send, session_cookie_with, state};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::response::IntoResponse;
use portcullis_sidecar::access::roles::Role;
use portcullis_sidecar::gate::{Asked, Refusal, decide};
use portcullis_sidecar::http::state::SharedState;

/// Who is calling.
#[derive(Clone, Copy, Debug)]
enum Who {
    Nobody,
    Untrusted,
    Trusted,
    Admin,
    Root,
}

/// What the gate decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Let through, with the caller's identity (or none on a public path).
    Pass,
    /// A browser is sent to sign in.
    SignIn,
    /// A script is told to sign in: 401.
    Unauthenticated,
    /// The caller may not: 403.
    Denied,
    /// The path reads as more than one path: 400.
    Ambiguous,
}

use Outcome::{Ambiguous, Denied, Pass, SignIn, Unauthenticated};
use Who::{Admin, Nobody, Root, Trusted, Untrusted};

const HTML: &str = "text/html";
const JSON: &str = "application/json";

/// (method, path as sent, Accept, caller, outcome)
const VECTORS: &[(&str, &str, &str, Who, Outcome)] = &[
    ("GET", "/healthz", JSON, Nobody, Pass),
    ("GET", "/static/app.js", HTML, Nobody, Pass),
    ("HEAD", "/static/app.js", HTML, Nobody, Pass),
    ("POST", "/static/app.js", HTML, Nobody, Unauthenticated),
    ("GET", "/", HTML, Nobody, SignIn),
    ("GET", "/", JSON, Nobody, Unauthenticated),
    ("GET", "/", JSON, Untrusted, Pass),
    ("GET", "/admin", HTML, Nobody, SignIn),
    ("GET", "/admin/users", JSON, Untrusted, Denied),
    ("GET", "/admin/users", HTML, Trusted, Denied),
    ("GET", "/admin/users", JSON, Admin, Pass),
    ("DELETE", "/admin/users/7", JSON, Root, Pass),
    ("GET", "/root-only", JSON, Admin, Denied),
    ("GET", "/root-only", JSON, Root, Pass),
    ("POST", "/upload", JSON, Untrusted, Denied),
    ("POST", "/upload", JSON, Trusted, Pass),
    ("GET", "/upload", JSON, Untrusted, Pass),
    // Spellings of the admin area, each judged as /admin.
    ("GET", "/%61dmin", JSON, Untrusted, Denied),
    ("GET", "/static/../admin", JSON, Untrusted, Denied),
    ("GET", "/static/%2e%2e/admin", JSON, Nobody, Unauthenticated),
    ("GET", "//admin", JSON, Untrusted, Denied),
    ("GET", "/./admin/", JSON, Untrusted, Denied),
    ("GET", "/ADMIN", JSON, Untrusted, Denied),
    ("GET", "/static/x/../../Admin/users", JSON, Trusted, Denied),
    ("GET", "/admin;x", JSON, Untrusted, Denied),
    ("GET", "/static/..;/admin", JSON, Untrusted, Denied),
    // The query never decides.
    ("GET", "/admin?/static/x", JSON, Untrusted, Denied),
    ("GET", "/healthz?next=/admin", JSON, Nobody, Pass),
    // Paths no rule can judge.
    ("GET", "/static%2F..%2Fadmin", JSON, Admin, Ambiguous),
    ("GET", "/static/%5c../admin", JSON, Nobody, Ambiguous),
    ("GET", "/a%00b", JSON, Untrusted, Ambiguous),
];

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

fn headers(accept: &str, cookie: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_str(accept).expect("accept"),
    );
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
    for &(method, path, accept, who, expected) in VECTORS {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let uri: Uri = path.parse().expect("uri");
        let headers = headers(accept, cookie(&state, who).as_deref());
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
    for &(method, path, accept, who, expected) in VECTORS {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::ACCEPT, accept);
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
