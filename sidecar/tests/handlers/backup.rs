//! `/login?backup=1` and `POST /login`: the root admin's way back in.

use crate::support::{
    ENROLMENT_CODE, Options, ROOT_PASSWORD, ROOT_USER, SESSION_COOKIE, csrf_pair, get, header_text,
    post_form, send, set_cookies, state, text,
};
use axum::body::Body;
use axum::http::Response;
use axum::http::{StatusCode, header};
use portcullis_sidecar::runtime::state::SharedState;

const FORM: &str = "/login?backup=1";

#[tokio::test]
async fn the_backup_form_carries_a_csrf_token_and_its_cookie() {
    let state = state(Options::default());
    let (token, cookie) = csrf_pair(&state, FORM, None).await;
    assert!(token.len() >= 32, "{token}");
    assert!(cookie.starts_with(&format!("{SESSION_COOKIE}_csrf=")));
}

#[tokio::test]
async fn a_disabled_backup_login_shows_no_form_and_refuses_posts() {
    let state = state(Options {
        backup_enabled: false,
        ..Options::default()
    });
    let form = send(&state, get(FORM, None, None)).await;
    assert_eq!(form.status(), StatusCode::FORBIDDEN);
    assert!(set_cookies(&form).is_empty());
    let page = text(form).await;
    assert!(page.contains("Backup login is disabled"), "{page}");
    assert!(!page.contains("type=\"password\""), "{page}");

    let fields = [("username", ROOT_USER), ("password", ROOT_PASSWORD)];
    let post = send(&state, post_form("/login", &fields, None)).await;
    assert_eq!(post.status(), StatusCode::FORBIDDEN);
    assert!(set_cookies(&post).is_empty());
}

#[tokio::test]
async fn a_post_without_the_csrf_pair_is_refused_even_with_the_right_password() {
    let state = state(Options::default());
    let (token, cookie) = csrf_pair(&state, FORM, None).await;
    let attempts = [
        (None, ""),
        (None, token.as_str()),
        (Some(cookie.as_str()), ""),
        (Some(cookie.as_str()), "forged-token"),
    ];
    for (cookie, csrf) in attempts {
        let fields = [
            ("username", ROOT_USER),
            ("password", ROOT_PASSWORD),
            ("csrf", csrf),
        ];
        let response = send(&state, post_form("/login", &fields, cookie)).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{cookie:?} {csrf}"
        );
        assert!(
            !set_cookies(&response)
                .iter()
                .any(|pair| pair.starts_with(&format!("{SESSION_COOKIE}="))),
            "no session without the CSRF pair"
        );
        assert!(text(response).await.contains("The form expired"));
    }
}

#[tokio::test]
async fn the_right_password_issues_a_root_session_and_returns_to_a_safe_path() {
    let state = state(Options::default());
    let (token, cookie) = csrf_pair(&state, FORM, None).await;
    let fields = [
        ("username", ROOT_USER),
        ("password", ROOT_PASSWORD),
        ("csrf", token.as_str()),
        ("rd", "/admin?tab=users"),
    ];
    let response = send(&state, post_form("/login", &fields, Some(&cookie))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(header_text(&response, header::LOCATION), "/admin?tab=users");
    let session = set_cookies(&response)
        .into_iter()
        .find(|pair| pair.starts_with(&format!("{SESSION_COOKIE}=")))
        .expect("a session cookie");

    let me = send(&state, get("/auth/me", None, Some(&session))).await;
    let body: serde_json::Value = serde_json::from_str(&text(me).await).expect("json");
    assert_eq!(body["user"], ROOT_USER);
    assert_eq!(body["root"], true);
    assert_eq!(body["method"], "backup");
}

#[tokio::test]
async fn a_hostile_return_path_after_backup_login_becomes_the_root() {
    let state = state(Options::default());
    let (token, cookie) = csrf_pair(&state, FORM, None).await;
    for hostile in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let fields = [
            ("username", ROOT_USER),
            ("password", ROOT_PASSWORD),
            ("csrf", token.as_str()),
            ("rd", hostile),
        ];
        let response = send(&state, post_form("/login", &fields, Some(&cookie))).await;
        assert_eq!(header_text(&response, header::LOCATION), "/", "{hostile}");
    }
}

#[tokio::test]
async fn wrong_credentials_get_one_message_and_then_a_rate_limit() {
    let state = state(Options::default());
    let (token, cookie) = csrf_pair(&state, FORM, None).await;
    let mut statuses = Vec::new();
    for (username, password) in [
        ("admin", "wrong"),
        ("root", ROOT_PASSWORD),
        ("admin", "wrong"),
        ("admin", "wrong"),
        ("admin", "wrong"),
        ("admin", ROOT_PASSWORD),
    ] {
        let fields = [
            ("username", username),
            ("password", password),
            ("csrf", token.as_str()),
        ];
        let response = send(&state, post_form("/login", &fields, Some(&cookie))).await;
        statuses.push(response.status());
        if response.status() == StatusCode::UNAUTHORIZED {
            assert!(text(response).await.contains("Wrong username or password."));
        } else {
            assert!(
                header_text(&response, header::RETRY_AFTER)
                    .parse::<u64>()
                    .is_ok_and(|seconds| seconds > 0),
                "a rate-limited answer says when to retry"
            );
        }
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(
        statuses[5],
        StatusCode::TOO_MANY_REQUESTS,
        "the sixth attempt within a minute is refused, even with the right password"
    );
}

/// Posts the backup form from a browser holding `cookies` (the CSRF pair's
/// and any others), with an enrolment code when `code` is not empty.
async fn log_in(
    state: &SharedState,
    password: &str,
    code: &str,
    cookies: &str,
    token: &str,
) -> Response<Body> {
    let fields = [
        ("username", ROOT_USER),
        ("password", password),
        ("csrf", token),
        ("enrolment", code),
    ];
    send(state, post_form("/login", &fields, Some(cookies))).await
}

fn cookie_named(response: &Response<Body>, name: &str) -> Option<String> {
    set_cookies(response)
        .into_iter()
        .find(|pair| pair.starts_with(&format!("{name}=")))
}

/// Empties the budget of unknown clients from the test's client address.
async fn flood(state: &SharedState, cookie: &str, token: &str) {
    for _ in 0..6 {
        let _ = log_in(state, "wrong", "", cookie, token).await;
    }
    let refused = log_in(state, ROOT_PASSWORD, "", cookie, token).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_form_asks_for_an_enrolment_code_on_a_new_browser() {
    let state = state(Options::default());
    let page = text(send(&state, get(FORM, None, None)).await).await;
    assert!(page.contains("name=\"enrolment\""), "{page}");
}

#[tokio::test]
async fn a_new_browser_with_the_enrolment_code_gets_in_while_the_shared_budget_is_empty() {
    let state = state(Options::default());
    let (token, cookie) = csrf_pair(&state, FORM, None).await;
    flood(&state, &cookie, &token).await;

    let typed = ENROLMENT_CODE.to_lowercase().replace('-', " ");
    let response = log_in(&state, ROOT_PASSWORD, &typed, &cookie, &token).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        cookie_named(&response, SESSION_COOKIE).is_some(),
        "a root session"
    );
    let device = cookie_named(&response, &format!("{SESSION_COOKIE}_device"))
        .expect("the browser becomes a known device");

    // Known now, it logs in again without the code, past the empty budget.
    let known = format!("{cookie}; {device}");
    let again = log_in(&state, ROOT_PASSWORD, "", &known, &token).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_enrolment_code_enrols_one_browser_only() {
    let state = state(Options::default());
    let (token, cookie) = csrf_pair(&state, FORM, None).await;
    let first = log_in(&state, ROOT_PASSWORD, ENROLMENT_CODE, &cookie, &token).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);

    let second = log_in(&state, ROOT_PASSWORD, ENROLMENT_CODE, &cookie, &token).await;
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);
    assert!(cookie_named(&second, SESSION_COOKIE).is_none());
    assert!(text(second).await.contains("Wrong enrolment code"));
}

#[tokio::test]
async fn a_wrong_enrolment_code_is_refused_even_with_the_right_password() {
    let state = state(Options::default());
    let (token, cookie) = csrf_pair(&state, FORM, None).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = log_in(
            &state,
            ROOT_PASSWORD,
            "7K3M-0Q1Z-ABCD-EFGH-JKMP",
            &cookie,
            &token,
        )
        .await;
        assert!(cookie_named(&response, SESSION_COOKIE).is_none());
        assert!(cookie_named(&response, &format!("{SESSION_COOKIE}_device")).is_none());
        statuses.push(response.status());
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(
        statuses[5],
        StatusCode::TOO_MANY_REQUESTS,
        "codes are rate limited per client"
    );
}

#[tokio::test]
async fn an_enrolled_browser_keeps_its_own_budget_after_a_mistyped_password() {
    let state = state(Options::default());
    let (token, cookie) = csrf_pair(&state, FORM, None).await;
    let mistyped = log_in(&state, "wrong", ENROLMENT_CODE, &cookie, &token).await;
    assert_eq!(mistyped.status(), StatusCode::UNAUTHORIZED);
    let device = cookie_named(&mistyped, &format!("{SESSION_COOKIE}_device"))
        .expect("the spent code still made the browser known");
    flood(&state, &cookie, &token).await;

    let known = format!("{cookie}; {device}");
    let response = log_in(&state, ROOT_PASSWORD, "", &known, &token).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}
