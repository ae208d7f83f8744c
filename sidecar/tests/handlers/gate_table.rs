//! The shared table of request vectors: what the gate must decide for each
//! request, whichever door it came through.
//!
//! Plain data with no imports, so that every door's tests read the same
//! file: the handler tests here (the gate, the reverse proxy, the
//! forward-auth door in-process) and the end-to-end tests through a real
//! nginx (`tests/tests/forward_auth_nginx.rs`, which includes this file).

/// The access rules the table is judged by: an app with a public health
/// check and static assets, an admin area, a root-only page and a
/// trusted-only upload; everything else for any user.
pub const RULES: &str = "authorization:
  rules:
    - {path: /healthz, allow: public}
    - {path: /static/**, methods: [GET, HEAD], allow: public}
    - {path: /admin/**, allow: admin}
    - {path: /root-only, allow: rootAdmin}
    - {path: /upload, methods: [POST], allow: trusted}
    - {path: /items/**, methods: [DELETE], allow: admin}
";

/// Who is calling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// Nobody is signed in.
    Nobody,
    /// A user whose groups give no role.
    Untrusted,
    /// A user in a trusted group.
    Trusted,
    /// A user in an admin group.
    Admin,
    /// The root admin.
    Root,
}

/// What the gate decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
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
pub type Headers = &'static [(&'static str, &'static str)];

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
/// Two override headers as Envoy and Node merge them: Express's
/// `method-override` acts on the first.
const OVERRIDE_JOINED: Headers = &[
    ("accept", "application/json"),
    ("x-http-method-override", "DELETE, GET"),
];
const METHOD_OVERRIDE: Headers = &[
    ("accept", "application/json"),
    ("x-method-override", "DELETE"),
];

/// (method, path as sent, headers, caller, outcome)
pub const VECTORS: &[(&str, &str, Headers, Who, Outcome)] = &[
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
    ("POST", "/items/7", OVERRIDE_JOINED, Untrusted, Denied),
    ("POST", "/items/7", METHOD_OVERRIDE, Untrusted, Denied),
    ("POST", "/items/7", OVERRIDE, Admin, Pass),
    ("POST", "/items/7", FORM, Untrusted, Denied),
    ("POST", "/items/7", MULTIPART, Untrusted, Denied),
    ("POST", "/items/7", FORM, Admin, Pass),
    ("POST", "/upload", FORM, Trusted, Pass),
    ("GET", "/items/7", FORM, Untrusted, Pass),
];
