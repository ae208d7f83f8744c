//! Builds the sidecar's state and public app from an in-memory config, and reads
//! what the handlers answer.

use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, header};
use portcullis_contract::config::SidecarConfig;
use portcullis_contract::enrolment::hash_enrolment_code;
use portcullis_contract::identity_keys::generate_identity_key_line;
use portcullis_contract::password::hash_password;
use portcullis_contract::session_keys::generate_key_line;
use portcullis_sidecar::access::roles::Role;
use portcullis_sidecar::config::Settings;
use portcullis_sidecar::observe::metrics::Metrics;
use portcullis_sidecar::runtime::state::{AppState, SharedState, unix_now};
use portcullis_sidecar::serve::routes::PublicApp;
use portcullis_sidecar::session::model::{ProviderLink, new_session_id};
use portcullis_sidecar::session::session_cookies::cookie_header;
use portcullis_sidecar::session::{LoginMethod, Session, seal_session};
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The root admin's name and password in every test config.
pub const ROOT_USER: &str = "admin";
/// The backup login's one-time enrolment code.
pub const ENROLMENT_CODE: &str = "7K3M-0Q1Z-ABCD-EFGH-JKMN";
/// The root admin's password.
pub const ROOT_PASSWORD: &str = "correct horse battery staple";
/// The session cookie's name (the default).
pub const SESSION_COOKIE: &str = "portcullis_session";

/// How the test config differs from the usual one.
#[derive(Clone, Copy)]
pub struct Options {
    /// Whether the root admin has a password (the backup login is enabled).
    pub backup_enabled: bool,
    /// Where the app listens; a closed port when the test needs no app.
    pub upstream: SocketAddr,
    /// YAML appended to the config (top-level sections such as `authorization`).
    pub extra: &'static str,
    /// A forward-auth service answering [`CLIENT`]'s address, instead of a
    /// proxy to `upstream`.
    pub forward_auth: bool,
    /// The public URL.
    pub public_url: &'static str,
    /// A forward-auth service's other hosts (`forwardAuth.hosts`, comma
    /// separated) and the session cookie's domain; empty: none.
    pub many_hosts: (&'static str, &'static str),
}

impl Default for Options {
    fn default() -> Self {
        Self {
            backup_enabled: true,
            upstream: closed_port(),
            extra: "",
            forward_auth: false,
            public_url: "http://127.0.0.1:4180",
            many_hosts: ("", ""),
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on.
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    listener.local_addr().expect("address")
}

/// The root admin's hash, computed once per test binary (argon2 is slow on purpose).
fn root_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(ROOT_PASSWORD).expect("hash"))
}

/// The identity key file every test config may point `signedIdentity.keyFile`
/// at (`/secrets/identity-keys`): two keys, as after a rotation.
pub fn identity_keys() -> &'static str {
    static KEYS: OnceLock<String> = OnceLock::new();
    KEYS.get_or_init(|| {
        let line = || generate_identity_key_line().expect("identity key");
        format!("{}\n# the previous key\n{}\n", line(), line())
    })
}

/// Validated settings from an in-memory config and in-memory secret files.
pub fn settings(options: Options) -> Settings {
    let provider = closed_port();
    let root_hash_line = if options.backup_enabled {
        "  passwordHashFile: /secrets/root-hash\n  enrolmentCodeHashFile: /secrets/enrolment-hash\n"
    } else {
        ""
    };
    let (hosts, cookie_domain) = options.many_hosts;
    let door = if options.forward_auth {
        format!(
            "forwardAuth: {{hosts: [{hosts}]}}\ntrustedProxies: [{}]",
            CLIENT.ip()
        )
    } else {
        format!("upstream: http://{}", options.upstream)
    };
    let yaml = format!(
        r#"
listen: 127.0.0.1:0
adminListen: 127.0.0.1:0
{door}
publicUrl: {public_url}
oidc:
  wellKnownUrl: http://{provider}/.well-known/openid-configuration
  clientId: books
  clientSecretFile: /secrets/client-secret
rootAdmin:
  username: {ROOT_USER}
{root_hash_line}session:
  keyFile: /secrets/keys
{domain_line}{extra}"#,
        public_url = options.public_url,
        domain_line = if cookie_domain.is_empty() {
            String::new()
        } else {
            format!("  cookieDomain: {cookie_domain}\n")
        },
        extra = options.extra,
    );
    let files = HashMap::from([
        ("/secrets/client-secret", "client-secret\n".to_owned()),
        ("/secrets/keys", format!("{}\n", generate_key_line())),
        ("/secrets/root-hash", format!("{}\n", root_hash())),
        (
            "/secrets/enrolment-hash",
            format!("{}\n", hash_enrolment_code(ENROLMENT_CODE).expect("hash")),
        ),
        ("/secrets/identity-keys", identity_keys().to_owned()),
    ]);
    let config = SidecarConfig::from_yaml(&yaml).expect("config parses");
    Settings::from_config(&config, |path: &Path| {
        files
            .get(path.to_str().unwrap_or_default())
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    })
    .expect("config is valid")
}

/// State for `options`, with fresh metrics.
pub fn state(options: Options) -> SharedState {
    let state = AppState::new(settings(options), Arc::new(Metrics::default())).expect("state");
    Arc::new(state)
}

/// The address every request appears to come from.
pub const CLIENT: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);

/// Sends one request to the public port's app built on `state`, as the
/// listener does: from [`CLIENT`], which the request also carries.
pub async fn send(state: &SharedState, request: Request<Body>) -> Response<Body> {
    send_from(state, CLIENT, request).await
}

/// Sends one request to the public port's app built on `state` from `peer`.
pub async fn send_from(
    state: &SharedState,
    peer: SocketAddr,
    mut request: Request<Body>,
) -> Response<Body> {
    request.extensions_mut().insert(ConnectInfo(peer));
    PublicApp::new(state.clone()).serve(peer, request).await
}

/// A GET of `uri` with optional `Accept` and `Cookie` headers.
pub fn get(uri: &str, accept: Option<&str>, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(uri);
    if let Some(accept) = accept {
        builder = builder.header(header::ACCEPT, accept);
    }
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(Body::empty()).expect("request")
}

/// A form POST of `fields` to `uri` with an optional `Cookie` header.
pub fn post_form(uri: &str, fields: &[(&str, &str)], cookie: Option<&str>) -> Request<Body> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut builder =
        Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(Body::from(body)).expect("request")
}

/// The response body as text.
pub async fn text(response: Response<Body>) -> String {
    let bytes = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A header's value as text, or `""`.
pub fn header_text(response: &Response<Body>, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// Every `Set-Cookie` as `name=value` pairs, attributes dropped.
pub fn set_cookies(response: &Response<Body>) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .map(str::to_owned)
        .collect()
}

/// A form page's CSRF token and the cookie that goes with it, for a browser
/// that sends `cookie`.
pub async fn csrf_pair(
    state: &SharedState,
    form_uri: &str,
    cookie: Option<&str>,
) -> (String, String) {
    let response = send(state, get(form_uri, None, cookie)).await;
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|pair| {
            pair.split('=')
                .next()
                .is_some_and(|name| name.ends_with(&format!("{SESSION_COOKIE}_csrf")))
        })
        .expect("a CSRF cookie");
    let page = text(response).await;
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a CSRF field") + marker.len();
    let token = page[start..].split('"').next().expect("token").to_owned();
    (token, cookie)
}

/// A valid session cookie (`name=value`) for `user` with `role`.
pub fn session_cookie(state: &SharedState, user: &str, role: Role) -> String {
    session_cookie_with(state, user, role, false)
}

/// A valid session cookie for `user` with `role`, the root admin when `root`.
pub fn session_cookie_with(state: &SharedState, user: &str, role: Role, root: bool) -> String {
    let settings = state.settings.load();
    let session = Session {
        sid: new_session_id(),
        user: user.to_owned(),
        email: Some(format!("{user}@example.com")),
        preferred_username: Some(user.to_owned()),
        groups: vec!["readers".to_owned()],
        role,
        root,
        method: LoginMethod::Oidc,
        expires_at: unix_now() + 600,
        id_token: None,
        provider: Some(ProviderLink {
            sid: Some(format!("provider-session-of-{user}")),
            subject: format!("subject-of-{user}"),
            signed_in_at: unix_now() - 1,
        }),
        refresh: None,
    };
    let parts = seal_session(&settings.session.keys, SESSION_COOKIE, &session)
        .expect("a small session fits");
    cookie_header(SESSION_COOKIE, &parts)
}
