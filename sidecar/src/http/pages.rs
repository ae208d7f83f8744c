//! Server-rendered pages: plain HTML forms, no JavaScript, readable anywhere.
//!
//! The pages are `maud` templates, which escape every value they splice in;
//! the only markup written raw is the fixed style sheet, so nothing from a
//! request, a session or a provider can reach a page unescaped.

use maud::{DOCTYPE, Markup, PreEscaped, html};

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f4f5f7;color:#1d2330;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}\
main{background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:2rem 2.5rem;max-width:26rem;width:100%}\
h1{font-size:1.35rem;margin:0 0 1rem}p{line-height:1.5}code{background:#eef0f4;padding:.1rem .3rem;border-radius:4px}\
label{display:block;margin:.8rem 0 .3rem;font-weight:600}input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #b8bfcc;border-radius:6px;font-size:1rem}\
button{margin-top:1.2rem;width:100%;padding:.7rem;border:0;border-radius:6px;background:#2a5bd7;color:#fff;font-size:1rem;cursor:pointer}button:focus{outline:3px solid #9db7f5}\
.error{color:#a11;background:#fdecec;border-radius:6px;padding:.6rem .8rem}.hint{color:#5a6275;font-size:.9rem}";

/// Wraps `body` in the common page layout.
///
/// The referrer policy is `same-origin`: nothing about the page reaches
/// another site, while the sidecar's own forms still carry their real
/// `Origin` (under `no-referrer` a browser sends `Origin: null`, which the
/// same-origin check must refuse).
fn layout(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    }
    .into_string()
}

/// The start page: one button that begins the login at the identity provider.
pub fn login_page(return_to: &str, notice: Option<&str>) -> String {
    let body = html! {
        h1 { "Sign in" }
        @if let Some(notice) = notice {
            p class="error" role="alert" { (notice) }
        }
        p { "This application is protected. Sign in with your organisation's account." }
        form method="get" action="/auth/start" {
            input type="hidden" name="rd" value=(return_to);
            button type="submit" { "Sign in" }
        }
    };
    layout("Sign in", body)
}

/// A page with a title and one alert message.
pub fn message_page(title: &str, message: &str) -> String {
    let body = html! {
        h1 { (title) }
        p class="error" role="alert" { (message) }
    };
    layout(title, body)
}

/// A page with a title and one plain paragraph, for failures that are not
/// about signing in (the app did not answer, a method is not passed on).
pub fn notice_page(title: &str, message: &str) -> String {
    let body = html! {
        h1 { (title) }
        p { (message) }
    };
    layout(title, body)
}

/// The root admin's backup login form (`/login?backup=1`).
pub fn backup_login_page(
    csrf: Option<&str>,
    return_to: &str,
    error: Option<&str>,
    offer_enrolment: bool,
) -> String {
    let Some(csrf) = csrf else {
        let body = html! {
            h1 { "Backup login" }
            p class="error" role="alert" {
                "Backup login is disabled: no root admin password is configured."
            }
            p { a href="/login" { "Sign in with your organisation's account" } }
        };
        return layout("Backup login", body);
    };
    let body = html! {
        h1 { "Backup login" }
        @if let Some(error) = error {
            p class="error" role="alert" { (error) }
        }
        p { "For the root admin when the identity provider cannot be used." }
        form method="post" action="/login" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="rd" value=(return_to);
            label for="username" { "Username" }
            input id="username" type="text" name="username" autocomplete="username" required;
            label for="password" { "Password" }
            input id="password" type="password" name="password" autocomplete="current-password" required;
            @if offer_enrolment {
                label for="enrolment" { "Enrolment code (only on a browser that never used this page)" }
                input id="enrolment" type="text" name="enrolment" autocomplete="one-time-code" spellcheck="false";
            }
            button type="submit" { "Log in" }
        }
        p class="hint" {
            a href="/login" { "Sign in with your organisation's account instead" }
        }
    };
    layout("Backup login", body)
}

/// The log-out confirmation: a form, so a link or image cannot log anyone out.
pub fn logout_page(csrf: &str, user: Option<&str>) -> String {
    let body = match user {
        Some(user) => html! {
            h1 { "Log out" }
            p { "You are signed in as " strong { (user) } "." }
            form method="post" action="/logout" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Log out" }
            }
        },
        None => html! {
            h1 { "Signed out" }
            p { "You are not signed in." }
            p { a href="/login" { "Sign in" } }
        },
    };
    layout("Log out", body)
}

/// A page explaining why a login failed, with the way back in for admins.
pub fn error_page(title: &str, message: &str, code: Option<&str>) -> String {
    let body = html! {
        h1 { (title) }
        p class="error" role="alert" { (message) }
        @if let Some(code) = code {
            p { "Error code: " code { (code) } }
        }
        p { a href="/login" { "Try signing in again" } }
        p class="hint" {
            "Administrators locked out by an identity provider problem can use the "
            a href="/login?backup=1" { "backup login" }
            " at " code { "/login?backup=1" } "."
        }
    };
    layout(title, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Markup and both quotes, as a hostile provider, user or client sends them.
    const HOSTILE: &str = "<script>alert(\"x\")</script>' onmouseover='alert(1)";

    /// True when `page` shows `HOSTILE` only as text.
    fn shows_only_escaped(page: &str) -> bool {
        !page.contains("<script>")
            && !page.contains("alert(\"x\")")
            && page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;")
    }

    #[test]
    fn a_hostile_title_and_message_are_escaped_on_the_error_page() {
        let page = error_page(HOSTILE, HOSTILE, Some(HOSTILE));
        assert!(shows_only_escaped(&page), "{page}");
        assert!(!page.contains("<title><script>"), "{page}");
    }

    #[test]
    fn a_hostile_return_path_and_notice_are_escaped_on_the_login_page() {
        let page = login_page(HOSTILE, Some(HOSTILE));
        assert!(shows_only_escaped(&page), "{page}");
        assert!(
            page.contains("name=\"rd\" value=\"&lt;script&gt;alert(&quot;x&quot;)"),
            "{page}"
        );
    }

    #[test]
    fn a_hostile_user_name_is_escaped_on_the_logout_page() {
        let page = logout_page(HOSTILE, Some(HOSTILE));
        assert!(shows_only_escaped(&page), "{page}");
        assert!(
            page.contains("<strong>&lt;script&gt;alert(&quot;x&quot;)"),
            "{page}"
        );
    }

    #[test]
    fn hostile_values_are_escaped_on_the_backup_login_page() {
        let page = backup_login_page(Some(HOSTILE), HOSTILE, Some(HOSTILE), true);
        assert!(shows_only_escaped(&page), "{page}");
        assert!(
            page.contains("name=\"csrf\" value=\"&lt;script&gt;alert(&quot;x&quot;)"),
            "{page}"
        );
    }

    #[test]
    fn hostile_values_are_escaped_on_the_message_and_notice_pages() {
        for page in [
            message_page(HOSTILE, HOSTILE),
            notice_page(HOSTILE, HOSTILE),
        ] {
            assert!(shows_only_escaped(&page), "{page}");
        }
    }

    #[test]
    fn error_page_shows_the_code_and_the_backup_hint() {
        let page = error_page(
            "Sign-in failed",
            "The provider refused.",
            Some("access_denied"),
        );
        assert!(page.contains("<code>access_denied</code>"));
        assert!(page.contains("/login?backup=1"));
        assert!(page.contains(
            "use the <a href=\"/login?backup=1\">backup login</a> at <code>/login?backup=1</code>."
        ));
    }

    #[test]
    fn backup_page_has_a_csrf_field_or_says_it_is_disabled() {
        let page = backup_login_page(Some("tok"), "/", Some("Wrong username or password."), false);
        assert!(page.contains("name=\"csrf\" value=\"tok\""));
        assert!(page.contains("type=\"password\""));
        assert!(page.contains("Wrong username or password."));
        assert!(!page.contains("name=\"enrolment\""), "no code configured");
        let offered = backup_login_page(Some("tok"), "/", None, true);
        assert!(offered.contains("name=\"enrolment\""));
        let disabled = backup_login_page(None, "/", None, false);
        assert!(disabled.contains("Backup login is disabled"));
        assert!(!disabled.contains("type=\"password\""));
    }

    #[test]
    fn login_page_keeps_the_return_path_in_the_form() {
        let page = login_page("/books?a=1&b=2", None);
        assert!(page.contains("value=\"/books?a=1&amp;b=2\""));
        assert!(page.contains("action=\"/auth/start\""));
    }

    #[test]
    fn the_layout_keeps_its_referrer_policy_and_style() {
        let page = message_page("Refused", "This form was sent from another site.");
        assert!(
            page.starts_with("<!DOCTYPE html><html lang=\"en\">"),
            "{page}"
        );
        assert!(page.contains("<meta name=\"referrer\" content=\"same-origin\">"));
        assert!(
            page.contains("<title>Refused</title><style>body{"),
            "{page}"
        );
        assert!(page.contains("'Segoe UI'"), "{page}");
    }
}
