//! Server-rendered pages: plain HTML forms, no JavaScript, readable anywhere.
//!
//! Every dynamic value passes through [`escape`]; nothing from a request is
//! ever written into a page raw.

use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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
pub fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta name=\"referrer\" content=\"same-origin\"><title>{title}</title><style>{STYLE}</style></head>\
<body><main>{body}</main></body></html>",
        title = escape(title),
    )
}

/// The start page: one button that begins the login at the identity provider.
pub fn login_page(return_to: &str, notice: Option<&str>) -> String {
    let mut body = String::from("<h1>Sign in</h1>");
    if let Some(notice) = notice {
        let _ = write!(
            body,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(notice)
        );
    }
    let _ = write!(
        body,
        "<p>This application is protected. Sign in with your organisation's account.</p>\
<form method=\"get\" action=\"/auth/start\"><input type=\"hidden\" name=\"rd\" value=\"{}\">\
<button type=\"submit\">Sign in</button></form>",
        escape(return_to)
    );
    layout("Sign in", &body)
}

/// A page with a title and one alert message.
pub fn message_page(title: &str, message: &str) -> String {
    let body = format!(
        "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p>",
        escape(title),
        escape(message)
    );
    layout(title, &body)
}

/// The root admin's backup login form (`/login?backup=1`).
pub fn backup_login_page(csrf: Option<&str>, return_to: &str, error: Option<&str>) -> String {
    let mut body = String::from("<h1>Backup login</h1>");
    let Some(csrf) = csrf else {
        body.push_str(
            "<p class=\"error\" role=\"alert\">Backup login is disabled: no root admin password is configured.</p>\
<p><a href=\"/login\">Sign in with your organisation's account</a></p>",
        );
        return layout("Backup login", &body);
    };
    if let Some(error) = error {
        let _ = write!(
            body,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(error)
        );
    }
    let _ = write!(
        body,
        "<p>For the root admin when the identity provider cannot be used.</p>\
<form method=\"post\" action=\"/login\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"rd\" value=\"{rd}\">\
<label for=\"username\">Username</label><input id=\"username\" type=\"text\" name=\"username\" autocomplete=\"username\" required>\
<label for=\"password\">Password</label><input id=\"password\" type=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\">Log in</button></form>\
<p class=\"hint\"><a href=\"/login\">Sign in with your organisation's account instead</a></p>",
        csrf = escape(csrf),
        rd = escape(return_to),
    );
    layout("Backup login", &body)
}

/// The log-out confirmation: a form, so a link or image cannot log anyone out.
pub fn logout_page(csrf: &str, user: Option<&str>) -> String {
    let body = match user {
        Some(user) => format!(
            "<h1>Log out</h1><p>You are signed in as <strong>{user}</strong>.</p>\
<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button type=\"submit\">Log out</button></form>",
            user = escape(user),
            csrf = escape(csrf),
        ),
        None => {
            "<h1>Signed out</h1><p>You are not signed in.</p><p><a href=\"/login\">Sign in</a></p>"
                .to_owned()
        }
    };
    layout("Log out", &body)
}

/// A page explaining why a login failed, with the way back in for admins.
pub fn error_page(title: &str, message: &str, code: Option<&str>) -> String {
    let mut body = format!(
        "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p>",
        escape(title),
        escape(message)
    );
    if let Some(code) = code {
        let _ = write!(body, "<p>Error code: <code>{}</code></p>", escape(code));
    }
    body.push_str(
        "<p><a href=\"/login\">Try signing in again</a></p>\
<p class=\"hint\">Administrators locked out by an identity provider problem can use the \
<a href=\"/login?backup=1\">backup login</a> at <code>/login?backup=1</code>.</p>",
    );
    layout(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let page = error_page("Denied", "<script>alert(1)</script>", Some("\"><img>"));
        assert!(!page.contains("<script>alert"));
        assert!(!page.contains("\"><img>"));
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
    }

    #[test]
    fn backup_page_has_a_csrf_field_or_says_it_is_disabled() {
        let page = backup_login_page(Some("tok"), "/", Some("Wrong username or password."));
        assert!(page.contains("name=\"csrf\" value=\"tok\""));
        assert!(page.contains("type=\"password\""));
        assert!(page.contains("Wrong username or password."));
        let disabled = backup_login_page(None, "/", None);
        assert!(disabled.contains("Backup login is disabled"));
        assert!(!disabled.contains("type=\"password\""));
    }

    #[test]
    fn login_page_keeps_the_return_path_in_the_form() {
        let page = login_page("/books?a=1&b=2", None);
        assert!(page.contains("value=\"/books?a=1&amp;b=2\""));
        assert!(page.contains("action=\"/auth/start\""));
    }
}
