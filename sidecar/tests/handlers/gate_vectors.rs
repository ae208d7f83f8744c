//! One table of request vectors, held against the gate and against every
//! door over it, so that no door decides differently.
//!
//! Each vector is a method, a path as sent (encodings, dot segments, case),
//! request headers (`Accept`, a form's content type, method overrides) and a
//! caller, judged by the access tests' rules; its outcome is what the gate
//! must decide. The gate is asked directly ([`decide`]); the reverse proxy is
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
use portcullis_sidecar::runtime::state::SharedState;

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

/// Request headers of a vector beside the caller's cookie.
type Headers = &'static [(&'static str, &'static str)];

const HTML: Headers = &[("accept", "text/html")];
const JSON: Headers = &[("accept", "application/json")];
/// A form post, which may name another method in a `_method` field.
const FORM: Headers = &[
    ("accept", "text/html"),
    ("content-type", "application/x-www-form-urlencoded"),
];
const MULTIPART: Headers = &[
    ("accept", "text/html"),
    ("content-type", "multipart/form-data; boundary=x"),
];
const OVERRIDE: Headers = &[
    ("accept", "application/json"),
    ("x-http-method-override", "DELETE"),
];
const OVERRIDE_CGI_SPELLING: Headers =
    &[("accept", "application/json"), ("x_http_method", "delete")];
const METHOD_OVERRIDE: Headers = &[
    ("accept", "application/json"),
    ("x-method-override", "DELETE"),
];

/// (method, path as sent, headers, caller, outcome)
const VECTORS: &[(&str, &str, Headers, Who, Outcome)] = &[
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
    // Double encoding: an app that decodes twice reads `/admin`.
    ("GET", "/static/%252e%252e/admin", JSON, Nobody, Ambiguous),
    (
        "GET",
        "/static/%252E%252E%252Fadmin",
        JSON,
        Nobody,
        Ambiguous,
    ),
    (
        "GET",
        "/static/%25%32%65%25%32%65/admin",
        JSON,
        Nobody,
        Ambiguous,
    ),
    ("GET", "/%2561dmin", JSON, Untrusted, Ambiguous),
    ("GET", "/static/%255c..%255cadmin", JSON, Nobody, Ambiguous),
    ("GET", "/static/a%2525b", JSON, Nobody, Ambiguous),
    ("GET", "/static/100%25", JSON, Nobody, Pass),
    ("GET", "/static/%25zz", JSON, Nobody, Pass),
    // Overlong or broken UTF-8: dots and slashes to a lax decoder.
    ("GET", "/static/%c0%ae%c0%ae/admin", JSON, Nobody, Ambiguous),
    (
        "GET",
        "/static/%e0%80%ae%e0%80%ae/admin",
        JSON,
        Nobody,
        Ambiguous,
    ),
    ("GET", "/static/%c0%af", JSON, Nobody, Ambiguous),
    ("GET", "/static/%ff", JSON, Nobody, Ambiguous),
    ("GET", "/static/caf%c3%a9.css", JSON, Nobody, Pass),
    // Trailing dots and spaces, which Windows servers drop.
    ("GET", "/admin.", JSON, Untrusted, Denied),
    ("GET", "/admin%20", JSON, Untrusted, Denied),
    ("GET", "/admin.%20./users", JSON, Untrusted, Denied),
    ("GET", "/admin./users", JSON, Admin, Pass),
    ("GET", "/static/..%20/admin", JSON, Untrusted, Denied),
    (
        "GET",
        "/static/.%20./admin/users",
        JSON,
        Nobody,
        Unauthenticated,
    ),
    ("GET", "/static/x/..%20/../admin", JSON, Untrusted, Denied),
    // Method overrides: judged by the strictest method the app may act on.
    ("POST", "/items/7", JSON, Untrusted, Pass),
    ("DELETE", "/items/7", JSON, Untrusted, Denied),
    ("POST", "/items/7?_method=DELETE", JSON, Untrusted, Denied),
    (
        "POST",
        "/items/7?a=1&_method=delete",
        JSON,
        Untrusted,
        Denied,
    ),
    ("POST", "/items/7?%5Fmethod=DELETE", JSON, Untrusted, Denied),
    ("POST", "/items/7?_method=DELETE", JSON, Admin, Pass),
    ("POST", "/items/7?method=DELETE", JSON, Untrusted, Pass),
    ("POST", "/items/7", OVERRIDE, Untrusted, Denied),
    ("POST", "/items/7", OVERRIDE_CGI_SPELLING, Untrusted, Denied),
    ("POST", "/items/7", METHOD_OVERRIDE, Untrusted, Denied),
    ("POST", "/items/7", OVERRIDE, Admin, Pass),
    ("POST", "/items/7", FORM, Untrusted, Denied),
    ("POST", "/items/7", MULTIPART, Untrusted, Denied),
    ("POST", "/items/7", FORM, Admin, Pass),
    ("POST", "/upload", FORM, Trusted, Pass),
    ("GET", "/items/7", FORM, Untrusted, Pass),
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
