//! Role mapping end to end: provider group names of one's own, Keycloak-style
//! group paths, a nested role claim, and the allow-list, with the real
//! provider, the real sidecar binary and the echo app.

use anyhow::Result;
use portcullis_contract::config::RoleGroups;
use portcullis_e2e::browser::Browser;
use portcullis_e2e::stack::Stack;
use reqwest::StatusCode;
use serde_json::Value;

/// The role and groups the app received for a fresh login of `login`.
async fn seen_by_app(stack: &Stack, login: &str) -> Result<(String, String)> {
    let (_, response) = Browser::new().log_in(&stack.url("/"), login).await?;
    assert_eq!(response.status(), StatusCode::OK, "{login} reaches the app");
    let echo: Value = response.json().await?;
    let header = |name: &str| {
        echo["headers"][name][0]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    Ok((header("x-portcullis-role"), header("x-forwarded-groups")))
}

#[tokio::test]
async fn group_paths_map_to_roles_through_the_configured_names() -> Result<()> {
    let stack = Stack::start_with(|setup| {
        setup.config.oidc.role_groups = RoleGroups {
            admin: vec!["platform/ops".into()],
            trusted: vec!["STAFF".into()],
        };
    })
    .await?;
    let (role, groups) = seen_by_app(&stack, "kira").await?;
    assert_eq!(role, "admin", "/Platform/Ops matches platform/ops");
    assert_eq!(
        groups, "/staff,/Platform/Ops",
        "the app gets the groups as sent"
    );
    let (role, _) = seen_by_app(&stack, "alice").await?;
    assert_eq!(
        role, "trusted",
        "alice's group `admin` no longer grants admin; `staff` grants trusted"
    );
    let (role, _) = seen_by_app(&stack, "root").await?;
    assert_eq!(role, "admin", "the root admin's username still wins");
    Ok(())
}

#[tokio::test]
async fn roles_are_read_from_a_nested_claim_path() -> Result<()> {
    let stack = Stack::start_with(|setup| {
        setup.config.oidc.group_claim = "realm_access.roles".into();
        setup.config.oidc.role_groups = RoleGroups {
            admin: vec!["books-admin".into()],
            trusted: vec![],
        };
    })
    .await?;
    let (role, groups) = seen_by_app(&stack, "kira").await?;
    assert_eq!(role, "admin");
    assert_eq!(groups, "offline_access,Books-Admin");
    Ok(())
}

#[tokio::test]
async fn roles_are_read_from_the_keys_of_zitadels_roles_object() -> Result<()> {
    let stack = Stack::start_with(|setup| {
        setup.config.oidc.group_claim = "urn:zitadel:iam:org:project:roles".into();
        setup.config.oidc.role_groups = RoleGroups {
            admin: vec!["books-admin".into()],
            trusted: vec!["readers".into()],
        };
    })
    .await?;
    let (role, groups) = seen_by_app(&stack, "zed").await?;
    assert_eq!(role, "admin", "the key Books-Admin grants admin");
    assert_eq!(groups, "Books-Admin,readers");
    let (role, _) = seen_by_app(&stack, "alice").await?;
    assert_eq!(role, "untrusted", "alice has no such claim");
    Ok(())
}

#[tokio::test]
async fn users_in_none_of_the_allowed_groups_are_refused_with_a_clear_page() -> Result<()> {
    let stack = Stack::start_with(|setup| {
        setup.config.oidc.allowed_groups = vec!["staff".into()];
    })
    .await?;
    let browser = Browser::new();
    let (url, response) = browser.log_in(&stack.url("/books"), "otto").await?;
    assert_eq!(url.path(), "/auth/oidc");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = response.text().await?;
    assert!(page.contains("not allowed here"), "{page}");
    let me = browser.client().get(stack.url("/auth/me")).send().await?;
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "no session was issued"
    );

    let (role, _) = seen_by_app(&stack, "kira").await?;
    assert_eq!(role, "untrusted", "/staff is on the allow-list");
    let (role, _) = seen_by_app(&stack, "root").await?;
    assert_eq!(role, "admin", "the root admin passes whatever the groups");
    stack
        .sidecar
        .wait_for_metric("portcullis_logins_total{outcome=\"BadClaims\"} 1")
        .await?;
    Ok(())
}

#[tokio::test]
async fn only_listed_email_domains_sign_in_and_a_wildcard_means_subdomains_only() -> Result<()> {
    let subdomains_only = Stack::start_with(|setup| {
        setup.config.oidc.allowed_email_domains = vec!["*.example.test".into()];
    })
    .await?;
    let browser = Browser::new();
    let (url, response) = browser
        .log_in(&subdomains_only.url("/books"), "alice")
        .await?;
    assert_eq!(url.path(), "/auth/oidc");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = response.text().await?;
    assert!(
        page.contains("your email address is not in a domain allowed here"),
        "{page}"
    );
    let me = browser
        .client()
        .get(subdomains_only.url("/auth/me"))
        .send()
        .await?;
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "no session was issued"
    );
    let (role, _) = seen_by_app(&subdomains_only, "root").await?;
    assert_eq!(role, "admin", "the root admin passes whatever the email");

    let listed = Stack::start_with(|setup| {
        setup.config.oidc.allowed_email_domains = vec!["EXAMPLE.test".into()];
    })
    .await?;
    let (role, _) = seen_by_app(&listed, "alice").await?;
    assert_eq!(role, "admin", "alice@example.test is in the listed domain");
    Ok(())
}
