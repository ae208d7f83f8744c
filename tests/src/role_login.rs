//! Signing in once as each role and checking what the app was told.
//!
//! Every real provider's tests start the same way: one user per role, a user
//! with no groups and the root admin's username sign in through the
//! provider's own form, and the app must see the right user, role, root flag
//! and groups. Only how a user signs in, and under which name the provider
//! sends them, differs.

use anyhow::Result;
use serde_json::{Value, json};
use std::future::Future;

/// One user of a provider's test realm and what the app must see for them.
#[derive(Clone, Debug)]
pub struct RoleCase {
    /// The name the user signs in with.
    pub user: &'static str,
    /// `X-Forwarded-User` the app must receive.
    pub forwarded_user: String,
    /// `X-Portcullis-Role` the app must receive.
    pub role: &'static str,
    /// Whether `X-Portcullis-Root` must be `true`.
    pub root: bool,
    /// `X-Forwarded-Groups` the app must receive, when the test cares.
    pub groups: Option<Value>,
}

/// Signs in as each case's user with `sign_in` (a fresh session each time;
/// it returns the echo app's JSON) and checks the identity headers the app
/// received.
pub async fn assert_each_role_signs_in<F, Fut>(cases: &[RoleCase], mut sign_in: F) -> Result<()>
where
    F: FnMut(&'static str) -> Fut,
    Fut: Future<Output = Result<Value>>,
{
    for case in cases {
        let user = case.user;
        let echo = sign_in(user).await?;
        let headers = &echo["headers"];
        assert_eq!(
            headers["x-forwarded-user"],
            json!([case.forwarded_user]),
            "{echo}"
        );
        assert_eq!(headers["x-portcullis-role"], json!([case.role]), "{user}");
        let root = if case.root { "true" } else { "false" };
        assert_eq!(headers["x-portcullis-root"], json!([root]), "{user}");
        if let Some(groups) = &case.groups {
            assert_eq!(&headers["x-forwarded-groups"], groups, "{user}");
        }
    }
    Ok(())
}
