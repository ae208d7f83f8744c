//! Access rules at the door: public paths, role checks, and paths spelled
//! to slip past a rule.

use crate::gate_table::RULES;
use crate::proxy::echo_app;
use crate::support::{
    Options, get, header_text, send, session_cookie, session_cookie_with, state, text,
};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use portcullis_sidecar::access::roles::Role;
use portcullis_sidecar::runtime::state::SharedState;
use serde_json::{Value, json};

async fn guarded() -> SharedState {
    let upstream = echo_app().await;
    state(Options {
        upstream,
        extra: RULES,
        ..Options::default()
    })
}

async fn echoed(response: axum::http::Response<Body>) -> Value {
    serde_json::from_str(&text(response).await).expect("the echo app's JSON")
}

/// Every spelling of `/admin` an app might read as the admin area.
const ADMIN_SPELLINGS: [&str; 11] = [
    "/admin",
    "/%61dmin",
    "/%61%64%6d%69%6e",
    "/static/../admin",
    "/static/%2e%2e/admin",
    "//admin",
    "/./admin/",
    "/admin;x",
    "/static/..;/admin",
    "/ADMIN",
    "/static/x/../../Admin/users",
];

#[tokio::test]
async fn every_spelling_of_the_admin_area_is_refused_to_an_untrusted_user() {
    let state = guarded().await;
    let cookie = session_cookie(&state, "ursula", Role::Untrusted);
    for path in ADMIN_SPELLINGS {
        let response = send(&state, get(path, Some("application/json"), Some(&cookie))).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let body: Value = serde_json::from_str(&text(response).await).expect("json");
        assert_eq!(body["error"], "forbidden", "{path}");
    }
    let page = send(&state, get("/%61dmin", Some("text/html"), Some(&cookie))).await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(text(page).await.contains("Not allowed"));
}

#[tokio::test]
async fn an_admin_reaches_every_spelling_and_the_app_gets_the_path_as_sent() {
    let state = guarded().await;
    let cookie = session_cookie(&state, "alice", Role::Admin);
    for path in ADMIN_SPELLINGS {
        let response = send(&state, get(path, None, Some(&cookie))).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(echoed(response).await["path"], path, "forwarded unchanged");
    }
}

#[tokio::test]
async fn anonymous_callers_of_a_protected_path_are_sent_to_sign_in() {
    let state = guarded().await;
    for path in ["/admin", "/%61dmin", "//admin", "/books"] {
        let page = send(&state, get(path, Some("text/html"), None)).await;
        assert_eq!(page.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(header_text(&page, header::LOCATION).starts_with("/auth/start?rd="));
        let script = send(&state, get(path, Some("application/json"), None)).await;
        assert_eq!(script.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn public_paths_need_no_session_and_never_carry_a_clients_identity() {
    let state = guarded().await;
    let request = Request::get("/static/app.css?v=/admin")
        .header("x-forwarded-user", "mallory")
        .header("X_Portcullis_Role", "admin")
        .body(Body::empty())
        .expect("request");
    let response = send(&state, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen = echoed(response).await;
    assert_eq!(seen["path"], "/static/app.css?v=/admin");
    let headers = seen["headers"].as_object().expect("headers");
    for name in ["x-forwarded-user", "x_portcullis_role", "x-portcullis-role"] {
        assert!(!headers.contains_key(name), "{name} in {headers:?}");
    }
}

#[tokio::test]
async fn public_paths_pass_the_identity_of_a_valid_session() {
    let state = guarded().await;
    let cookie = session_cookie(&state, "trudy", Role::Trusted);
    let response = send(&state, get("/healthz", None, Some(&cookie))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = &echoed(response).await["headers"];
    assert_eq!(headers["x-forwarded-user"], json!(["trudy"]));
    assert_eq!(headers["x-portcullis-role"], json!(["trusted"]));
}

#[tokio::test]
async fn the_query_and_forwarded_uri_headers_never_decide() {
    let state = guarded().await;
    let cookie = session_cookie(&state, "ursula", Role::Untrusted);
    for header_name in ["x-forwarded-uri", "x-original-url", "x-rewrite-url"] {
        let request = Request::get("/admin")
            .header(header::COOKIE, &cookie)
            .header(header_name, "/healthz")
            .body(Body::empty())
            .expect("request");
        assert_eq!(
            send(&state, request).await.status(),
            StatusCode::FORBIDDEN,
            "{header_name}"
        );
    }
    let anonymous = send(&state, get("/admin?x=/healthz", None, None)).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let public = send(&state, get("/healthz?x=/admin", None, None)).await;
    assert_eq!(public.status(), StatusCode::OK);
    let public_header = Request::get("/healthz")
        .header("x-original-url", "/admin")
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(&state, public_header).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_public_path_spelled_another_way_is_public_only_if_every_reading_agrees() {
    let state = guarded().await;
    assert_eq!(
        send(&state, get("/%68ealthz", None, None)).await.status(),
        StatusCode::OK
    );
    for path in ["/HEALTHZ", "/healthz;x", "/healthz/"] {
        let response = send(&state, get(path, None, None)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn roles_methods_and_the_root_flag_are_each_checked() {
    let state = guarded().await;
    let untrusted = session_cookie(&state, "ursula", Role::Untrusted);
    let trusted = session_cookie(&state, "trudy", Role::Trusted);
    let admin = session_cookie(&state, "alice", Role::Admin);
    let root = session_cookie_with(&state, "admin", Role::Admin, true);
    let post = |cookie: &str| {
        Request::post("/upload")
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .expect("request")
    };
    assert_eq!(
        send(&state, post(&untrusted)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(send(&state, post(&trusted)).await.status(), StatusCode::OK);
    assert_eq!(
        send(&state, get("/upload", None, Some(&untrusted)))
            .await
            .status(),
        StatusCode::OK,
        "the rule names POST only"
    );
    assert_eq!(
        send(&state, get("/root-only", None, Some(&admin)))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&state, get("/root-only", None, Some(&root)))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn paths_an_app_could_misread_are_refused_with_400() {
    let state = guarded().await;
    let cookie = session_cookie(&state, "alice", Role::Admin);
    for path in [
        "/static%2F..%2Fadmin",
        "/static/%5c../admin",
        "/a%00b",
        "/a%zz",
    ] {
        let response = send(&state, get(path, None, Some(&cookie))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
    }
}

#[tokio::test]
async fn decisions_are_counted_by_outcome() {
    let state = guarded().await;
    let cookie = session_cookie(&state, "ursula", Role::Untrusted);
    send(&state, get("/admin", None, Some(&cookie))).await;
    send(&state, get("/books", None, Some(&cookie))).await;
    send(&state, get("/healthz", None, None)).await;
    send(&state, get("/books", None, None)).await;
    send(&state, get("/a%2fb", None, None)).await;
    let metrics = state.metrics.render();
    for outcome in [
        "Denied",
        "Allowed",
        "Public",
        "SignInRequired",
        "AmbiguousPath",
    ] {
        let line = format!("portcullis_access_decisions_total{{outcome=\"{outcome}\"}} 1");
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
}
