//! Signing in through a real provider's own HTML login form (Keycloak, Dex).
//!
//! The oidc-provider tests know that provider's URLs; real providers render
//! their forms differently, so this follows redirects until either the
//! sidecar's callback or a page with a form, and posts the given fields to
//! that form's `action`, exactly as a browser without scripts would.

use crate::browser::{Browser, location};
use anyhow::{Context, Result, bail};
use reqwest::Response;
use url::Url;

/// Most login forms posted in one sign-in (a form shown again means a refusal).
const MAX_FORMS: usize = 2;

/// Where following the redirects from a start URL ended.
pub enum Reached {
    /// The sidecar's callback, not yet delivered: the provider signed the
    /// browser in without asking (it still had a session there).
    Callback(Url),
    /// A page with a form; its absolute `action`.
    Form(Url),
}

/// Follows redirects from `start` until the sidecar's callback or a form page.
pub async fn reach_callback_or_form(browser: &Browser, start: &Url) -> Result<Reached> {
    let is_callback = |url: &Url| url.path() == "/auth/oidc";
    let (url, page) = browser.follow_until(start.clone(), is_callback).await?;
    let Some(page) = page else {
        return Ok(Reached::Callback(url));
    };
    let status = page.status();
    let html = page.text().await?;
    let action = form_action(&html)
        .with_context(|| format!("no form on {url} ({status}): {}", excerpt(&html)))?;
    Ok(Reached::Form(url.join(&action)?))
}

/// Opens `start`, fills the provider's login form with `fields` and follows
/// on to the end; returns the final URL and response.
pub async fn log_in_with_form(
    browser: &Browser,
    start: &str,
    fields: &[(&str, &str)],
) -> Result<(Url, Response)> {
    let mut next = Url::parse(start)?;
    for _ in 0..MAX_FORMS {
        match reach_callback_or_form(browser, &next).await? {
            Reached::Callback(callback) => return browser.follow(callback).await,
            Reached::Form(action) => {
                let response = browser
                    .client()
                    .post(action.clone())
                    .form(fields)
                    .send()
                    .await?;
                match location(&action, &response)? {
                    Some(target) => next = target,
                    None => bail!(
                        "the provider did not accept the form at {action}: {}",
                        response.status()
                    ),
                }
            }
        }
    }
    bail!("the provider showed its login form {MAX_FORMS} times from {start}")
}

/// The `action` of the first form in `html`, with HTML entities in it decoded.
pub fn form_action(html: &str) -> Option<String> {
    let pattern = regex_lite::Regex::new(r#"(?is)<form\b[^>]*\baction="([^"]*)""#).ok()?;
    let raw = pattern.captures(html)?.get(1)?.as_str();
    Some(
        raw.replace("&amp;", "&")
            .replace("&#x3D;", "=")
            .replace("&#61;", "=")
            .replace("&quot;", "\""),
    )
}

fn excerpt(html: &str) -> String {
    html.chars().take(400).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_action_of_the_first_form_is_found_and_decoded() {
        let html = r#"<form id="kc-form-login" onsubmit="x"
            action="http://127.0.0.1:1/realms/r/login-actions/authenticate?session_code=a&amp;execution=b" method="post"><form action="/other">"#;
        assert_eq!(
            form_action(html).as_deref(),
            Some(
                "http://127.0.0.1:1/realms/r/login-actions/authenticate?session_code=a&execution=b"
            )
        );
        assert_eq!(form_action("<p>no form</p>"), None);
    }
}
