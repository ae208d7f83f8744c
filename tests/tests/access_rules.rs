//! Access rules in the real sidecar binary, in front of the real echo app.
//!
//! Requests go over raw TCP so each path reaches the sidecar byte for byte
//! (an HTTP client would resolve `..` or merge slashes itself). Sessions are
//! sealed with the sidecar's own keys (see [`Guarded`]), so a test can be a
//! user before and after a role change.

use anyhow::Result;
use portcullis_contract::access::{Access, AccessRule};
use portcullis_e2e::guarded::{Guarded, RawResponse};
use portcullis_sidecar::access::roles::Role;
use serde_json::Value;

/// A public health check and static assets, an admin area, a trusted area.
async fn guarded() -> Result<Guarded> {
    Guarded::start_with(|setup| {
        let rule = |path: &str, allow| AccessRule {
            path: path.to_owned(),
            methods: Vec::new(),
            allow,
        };
        setup.config.authorization.rules = vec![
            rule("/healthz", Access::Public),
            rule("/static/**", Access::Public),
            rule("/admin/**", Access::Admin),
            rule("/reports/**", Access::Trusted),
        ];
    })
    .await
}

/// Sends `GET <target>` with `extra` header lines, exactly as written.
async fn get(guarded: &Guarded, target: &str, extra: &str) -> Result<RawResponse> {
    guarded.send_raw("GET", target, extra).await
}

/// Every spelling of `/admin` that some app server reads as the admin area.
const ADMIN_SPELLINGS: [&str; 10] = [
    "/admin",
    "/%61dmin",
    "/static/../admin",
    "/static/%2E%2E/admin",
    "//admin",
    "/admin;x",
    "/static/..;/admin",
    "/ADMIN",
    "/admin?x=/healthz",
    "/./admin/users",
];

#[tokio::test]
async fn every_spelling_of_the_admin_area_gets_the_decision_of_admin() -> Result<()> {
    let guarded = guarded().await?;
    let untrusted = guarded.session_cookie("ursula", Role::Untrusted, 600)?;
    let admin = guarded.session_cookie("alice", Role::Admin, 600)?;
    for path in ADMIN_SPELLINGS {
        let cookie = format!("Cookie: {untrusted}\r\n");
        let refused = get(&guarded, path, &cookie).await?;
        assert_eq!(refused.status(), 403, "{path}: {}", refused.head);
        let anonymous = get(&guarded, path, "").await?;
        assert_eq!(anonymous.status(), 401, "{path}: {}", anonymous.head);
        let cookie = format!("Cookie: {admin}\r\n");
        let allowed = get(&guarded, path, &cookie).await?;
        assert_eq!(allowed.status(), 200, "{path}: {}", allowed.head);
        let seen: Value = serde_json::from_str(&allowed.body)?;
        let expected_path = path.split('?').next().unwrap_or(path);
        assert_eq!(seen["path"], expected_path, "the app gets the path as sent");
    }
    Ok(())
}

#[tokio::test]
async fn a_spoofed_forwarded_uri_changes_nothing() -> Result<()> {
    let guarded = guarded().await?;
    let untrusted = guarded.session_cookie("ursula", Role::Untrusted, 600)?;
    for header in ["X-Forwarded-Uri", "X-Original-URL", "X-Rewrite-URL"] {
        let spoof = format!("Cookie: {untrusted}\r\n{header}: /healthz\r\n");
        assert_eq!(get(&guarded, "/admin", &spoof).await?.status(), 403);
        let anonymous = format!("{header}: /healthz\r\n");
        assert_eq!(get(&guarded, "/admin", &anonymous).await?.status(), 401);
        let public = format!("{header}: /admin\r\n");
        let response = get(&guarded, "/healthz", &public).await?;
        assert_eq!(response.status(), 200, "{}", response.head);
        let seen: Value = serde_json::from_str(&response.body)?;
        let headers = seen["headers"].as_object().cloned().unwrap_or_default();
        assert!(
            !headers.contains_key("x-forwarded-uri"),
            "forwarding headers are the sidecar's own: {headers:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_user_gets_what_their_role_allows_and_more_after_a_role_change() -> Result<()> {
    let guarded = guarded().await?;
    let before = guarded.session_cookie("ursula", Role::Untrusted, 600)?;
    let cookie = format!("Cookie: {before}\r\n");
    assert_eq!(get(&guarded, "/reports/q3", &cookie).await?.status(), 403);
    assert_eq!(get(&guarded, "/books", &cookie).await?.status(), 200);
    let after = guarded.session_cookie("ursula", Role::Trusted, 600)?;
    let cookie = format!("Cookie: {after}\r\n");
    assert_eq!(get(&guarded, "/reports/q3", &cookie).await?.status(), 200);
    assert_eq!(get(&guarded, "/admin", &cookie).await?.status(), 403);
    Ok(())
}

#[tokio::test]
async fn public_paths_are_open_only_in_their_own_spellings() -> Result<()> {
    let guarded = guarded().await?;
    for path in [
        "/healthz",
        "/%68ealthz",
        "/static/app.css",
        "//static//app.css",
    ] {
        assert_eq!(get(&guarded, path, "").await?.status(), 200, "{path}");
    }
    for path in ["/HEALTHZ", "/healthz;x", "/static/../books"] {
        assert_eq!(get(&guarded, path, "").await?.status(), 401, "{path}");
    }
    for path in ["/static%2F..%2Fadmin", "/static/%5C../admin"] {
        assert_eq!(get(&guarded, path, "").await?.status(), 400, "{path}");
    }
    Ok(())
}

#[tokio::test]
async fn decisions_are_counted_by_outcome() -> Result<()> {
    let guarded = guarded().await?;
    let untrusted = guarded.session_cookie("ursula", Role::Untrusted, 600)?;
    get(&guarded, "/admin", &format!("Cookie: {untrusted}\r\n")).await?;
    get(&guarded, "/healthz", "").await?;
    let sidecar = &guarded.sidecar;
    sidecar
        .wait_for_metric("portcullis_access_decisions_total{outcome=\"Denied\"} 1")
        .await?;
    sidecar
        .wait_for_metric("portcullis_access_decisions_total{outcome=\"Public\"} 1")
        .await?;
    Ok(())
}
