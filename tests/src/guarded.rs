//! The echo app behind a sidecar whose provider is unreachable, for tests
//! of what a signed-in client can and cannot do once past the login.
//!
//! No provider starts: sessions are sealed with the sidecar's own key file
//! through the sidecar's own sealing code, so a test can be any user with
//! any role in milliseconds, and many such tests can run at once on a busy
//! machine. The backup login works here too (it never needs the provider).

use crate::browser::form_token;
use crate::echo::Echo;
use crate::process::free_port;
use crate::sidecar::{Sidecar, SidecarSetup, reserve_public_url};
use anyhow::{Context, Result};
use portcullis_sidecar::access::roles::Role;
use portcullis_sidecar::session::model::new_session_id;
use portcullis_sidecar::session::session_cookies::cookie_header;
use portcullis_sidecar::session::{KeyRing, LoginMethod, Session, seal_session};
use reqwest::header::{COOKIE, SET_COOKIE};
use std::time::{SystemTime, UNIX_EPOCH};

/// The echo app and a sidecar in front of it; both stopped on drop.
pub struct Guarded {
    /// The app.
    pub echo: Echo,
    /// The sidecar under test.
    pub sidecar: Sidecar,
}

impl Guarded {
    /// Starts the echo app and a sidecar whose provider never answers.
    pub async fn start() -> Result<Self> {
        Self::start_with(|_| {}).await
    }

    /// Starts both, letting `tweak` change the sidecar's setup first.
    pub async fn start_with(tweak: impl FnOnce(&mut SidecarSetup)) -> Result<Self> {
        let (port, _) = reserve_public_url();
        let nowhere = format!(
            "http://127.0.0.1:{}/.well-known/openid-configuration",
            free_port()
        );
        let echo = Echo::start().await?;
        let mut setup = SidecarSetup::new(port, &nowhere, &echo.url)?;
        tweak(&mut setup);
        let sidecar = setup.start().await?;
        Ok(Self { echo, sidecar })
    }

    /// Another replica: a sidecar in front of the same app with the same
    /// session keys, so every replica opens the same cookies; `tweak`
    /// changes its setup first (the store, for one).
    pub async fn replica(&self, tweak: impl FnOnce(&mut SidecarSetup)) -> Result<Sidecar> {
        let (port, _) = reserve_public_url();
        let first = &self.sidecar.setup.config;
        let mut setup = SidecarSetup::new(port, &first.oidc.well_known_url, &self.echo.url)?;
        setup.config.session.key_file = first.session.key_file.clone();
        tweak(&mut setup);
        setup.start().await
    }

    /// The first sidecar and `count - 1` more replicas, each set up by
    /// `tweak` (the session store, for one).
    pub async fn start_replicas(
        count: usize,
        tweak: impl Fn(&mut SidecarSetup),
    ) -> Result<(Self, Vec<Sidecar>)> {
        let first = Self::start_with(&tweak).await?;
        let mut others = Vec::new();
        for _ in 1..count {
            others.push(first.replica(&tweak).await?);
        }
        Ok((first, others))
    }

    /// Logs the session of `cookie` out at `sidecar` (any replica).
    pub async fn log_out_at(sidecar: &Sidecar, cookie: &str) -> Result<reqwest::StatusCode> {
        log_out_at_url(sidecar.url(), cookie).await
    }

    /// A URL on the sidecar.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sidecar.url())
    }

    /// `host:port` of the sidecar, for raw connections.
    pub fn addr(&self) -> &str {
        self.sidecar.url().trim_start_matches("http://")
    }

    /// Sends `<method> <target>` with an empty body and `extra` header
    /// lines (each ending in CRLF), exactly as written, over a new
    /// connection: an HTTP client would resolve `..` or merge slashes itself.
    pub async fn send_raw(&self, method: &str, target: &str, extra: &str) -> Result<RawResponse> {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(self.addr()).await?;
        let request = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nContent-Length: 0\r\n{extra}Connection: close\r\n\r\n",
            self.addr()
        );
        stream.write_all(request.as_bytes()).await?;
        read_response(&mut stream).await
    }

    /// A WebSocket handshake with `cookie`, answered `101` and spliced to
    /// the echo app (which echoes bytes back).
    pub async fn open_websocket(&self, cookie: &str) -> Result<tokio::net::TcpStream> {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(self.addr()).await?;
        let request = format!(
            "GET /socket HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nCookie: {cookie}\r\n\r\n",
            self.addr()
        );
        stream.write_all(request.as_bytes()).await?;
        let response = read_response(&mut stream).await?;
        anyhow::ensure!(response.status() == 101, "{}", response.head);
        Ok(stream)
    }

    /// A `Cookie` header value with a session for `user` in `role`, valid for `seconds`.
    pub fn session_cookie(&self, user: &str, role: Role, seconds: u64) -> Result<String> {
        let config = &self.sidecar.setup.config;
        let keys = std::fs::read_to_string(&config.session.key_file)?;
        sealed_session_cookie(&keys, &config.session.cookie_name, user, role, seconds)
    }
}

/// A `Cookie` header value for the cookie `name`: a session of `user` in
/// `role`, valid for `seconds`, sealed with the key file's text `keys` by
/// the sidecar's own sealing code.
pub fn sealed_session_cookie(
    keys: &str,
    name: &str,
    user: &str,
    role: Role,
    seconds: u64,
) -> Result<String> {
    sealed_cookie_of(keys, name, user, (role, false), seconds)
}

/// A session cookie `sidecar` opens, sealed under its key file, for
/// `user` in `(role, root)`, valid for ten minutes.
pub fn sealed_cookie_for(sidecar: &Sidecar, user: &str, caller: (Role, bool)) -> Result<String> {
    let config = &sidecar.setup.config;
    let keys = std::fs::read_to_string(&config.session.key_file)?;
    sealed_cookie_of(&keys, &config.session.cookie_name, user, caller, 600)
}

/// [`sealed_session_cookie`] for a caller in `(role, root)`: the root
/// admin's session when `root`.
pub fn sealed_cookie_of(
    keys: &str,
    name: &str,
    user: &str,
    (role, root): (Role, bool),
    seconds: u64,
) -> Result<String> {
    let keys = KeyRing::parse(keys)
        .ok()
        .context("the session key file parses")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let session = Session {
        sid: new_session_id(),
        user: user.to_owned(),
        email: None,
        preferred_username: Some(user.to_owned()),
        groups: vec![role.as_str().to_owned()],
        role,
        root,
        method: LoginMethod::Oidc,
        expires_at: now + seconds,
        id_token: None,
        provider: None,
        refresh: None,
    };
    let parts = seal_session(&keys, name, &session)?;
    Ok(cookie_header(name, &parts))
}

/// Logs the session of `cookie` out at the sidecar at `base`: the log-out
/// form's token is fetched first, as a browser would.
pub async fn log_out_at_url(base: &str, cookie: &str) -> Result<reqwest::StatusCode> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let url = format!("{base}/logout");
    let page = client.get(&url).header(COOKIE, cookie).send().await?;
    let csrf_cookie = page
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    let token = form_token(&page.text().await?).context("the log-out form has a token")?;
    let done = client
        .post(&url)
        .header(COOKIE, format!("{cookie}; {csrf_cookie}"))
        .form(&[("csrf", token.as_str())])
        .send()
        .await?;
    Ok(done.status())
}

/// One response read off a raw connection: its head, and its body when it
/// declares a `Content-Length`.
#[derive(Debug)]
pub struct RawResponse {
    /// Status line and headers, as sent.
    pub head: String,
    /// The body (empty without a `Content-Length`).
    pub body: String,
}

impl RawResponse {
    /// The status code from the status line.
    pub fn status(&self) -> u16 {
        self.head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }
}

/// Reads one response from `stream` (within 10 s), leaving the connection open.
pub async fn read_response(stream: &mut tokio::net::TcpStream) -> Result<RawResponse> {
    use tokio::io::AsyncReadExt;
    let read = async {
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(end) = bytes.windows(4).position(|window| window == b"\r\n\r\n") {
                break end + 4;
            }
            let read = stream.read(&mut chunk).await?;
            anyhow::ensure!(read > 0, "connection closed before a full response head");
            bytes.extend_from_slice(&chunk[..read]);
        };
        let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
        let length = head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = bytes[head_end..].to_vec();
        while body.len() < length {
            let read = stream.read(&mut chunk).await?;
            anyhow::ensure!(read > 0, "connection closed inside the body");
            body.extend_from_slice(&chunk[..read]);
        }
        Ok(RawResponse {
            head,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .context("no response within 10 s")?
}
