//! The door's hardening in the real sidecar binary, in front of the real
//! echo app: headers that rewrite the URL for the app never reach it, a
//! method the app may act on instead of the request's own is judged, and
//! paths that a double-decoding or Windows server reads as the admin area
//! get the admin area's decision or a 400.
//!
//! Requests go over raw TCP so each request reaches the sidecar byte for
//! byte (an HTTP client would resolve `%2e%2e` itself).

use anyhow::Result;
use portcullis_contract::access::{Access, AccessRule};
use portcullis_e2e::guarded::{Guarded, RawResponse};
use portcullis_sidecar::access::roles::Role;
use serde_json::Value;

/// The README's example: a public health check and static assets, an admin
/// area, and items that only admins delete.
async fn guarded() -> Result<Guarded> {
    Guarded::start_with(|setup| {
        let rule = |path: &str, methods: &[&str], allow| AccessRule {
            path: path.to_owned(),
            methods: methods.iter().map(|method| (*method).to_owned()).collect(),
            allow,
        };
        setup.config.authorization.rules = vec![
            rule("/healthz", &[], Access::Public),
            rule("/static/**", &["GET", "HEAD"], Access::Public),
            rule("/admin/**", &[], Access::Admin),
            rule("/items/**", &["DELETE"], Access::Admin),
        ];
    })
    .await
}

async fn send(guarded: &Guarded, method: &str, target: &str, extra: &str) -> Result<RawResponse> {
    guarded.send_raw(method, target, extra).await
}

#[tokio::test]
async fn headers_that_rewrite_the_url_for_the_app_are_stripped() -> Result<()> {
    let guarded = guarded().await?;
    let rewrites = "X-Original-URL: /admin\r\nX_Original_URL: /admin\r\nX-Rewrite-URL: /admin\r\n\
                    X-Original-URI: /admin\r\nX-Forwarded-Prefix: /admin\r\nX-Envoy-Original-Path: /admin\r\n";
    let response = send(&guarded, "GET", "/healthz", rewrites).await?;
    assert_eq!(response.status(), 200, "{}", response.head);
    let seen: Value = serde_json::from_str(&response.body)?;
    for name in [
        "x-original-url",
        "x_original_url",
        "x-rewrite-url",
        "x-original-uri",
        "x-forwarded-prefix",
        "x-envoy-original-path",
    ] {
        assert!(seen["headers"].get(name).is_none(), "{name}: {seen}");
    }
    Ok(())
}

#[tokio::test]
async fn a_post_naming_delete_needs_what_a_delete_needs() -> Result<()> {
    let guarded = guarded().await?;
    let untrusted = format!(
        "Cookie: {}\r\n",
        guarded.session_cookie("ursula", Role::Untrusted, 600)?
    );
    let admin = format!(
        "Cookie: {}\r\n",
        guarded.session_cookie("alice", Role::Admin, 600)?
    );
    let plain = send(&guarded, "POST", "/items/7", &untrusted).await?;
    assert_eq!(
        plain.status(),
        200,
        "a plain POST is the user's: {}",
        plain.head
    );
    let overrides = [
        ("/items/7?_method=DELETE", String::new()),
        ("/items/7?%5Fmethod=delete", String::new()),
        ("/items/7", "X-HTTP-Method-Override: DELETE\r\n".to_owned()),
        ("/items/7", "X_HTTP_Method: DELETE\r\n".to_owned()),
        ("/items/7", "X-Method-Override: DELETE\r\n".to_owned()),
        (
            "/items/7",
            "Content-Type: application/x-www-form-urlencoded\r\n".to_owned(),
        ),
    ];
    for (target, header) in &overrides {
        let refused = send(&guarded, "POST", target, &format!("{untrusted}{header}")).await?;
        assert_eq!(refused.status(), 403, "{target} {header}: {}", refused.head);
        let allowed = send(&guarded, "POST", target, &format!("{admin}{header}")).await?;
        assert_eq!(allowed.status(), 200, "{target} {header}: {}", allowed.head);
    }
    Ok(())
}

#[tokio::test]
async fn paths_a_lax_server_reads_as_the_admin_area_are_refused_or_judged_as_it() -> Result<()> {
    let guarded = guarded().await?;
    let untrusted = format!(
        "Cookie: {}\r\n",
        guarded.session_cookie("ursula", Role::Untrusted, 600)?
    );
    for ambiguous in [
        "/static/%252e%252e/admin",
        "/static/%25%32%65%25%32%65/admin",
        "/static/%c0%ae%c0%ae/admin",
    ] {
        let response = send(&guarded, "GET", ambiguous, "").await?;
        assert_eq!(response.status(), 400, "{ambiguous}: {}", response.head);
    }
    for windows in ["/admin.", "/admin%20", "/static/..%20/admin"] {
        let response = send(&guarded, "GET", windows, &untrusted).await?;
        assert_eq!(response.status(), 403, "{windows}: {}", response.head);
    }
    let plain = send(&guarded, "GET", "/static/100%25.css", "").await?;
    assert_eq!(plain.status(), 200, "a plain percent sign: {}", plain.head);
    Ok(())
}
