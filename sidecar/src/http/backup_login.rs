//! The root admin's way back in: `/login?backup=1`.
//!
//! It never talks to the identity provider, so it works while the provider
//! is down or misconfigured. It is guarded by an origin check and a CSRF
//! token, budgets that an attacker cannot use up for the root admin's own
//! browser ([`crate::backup::budgets`]), a one-time enrolment code that
//! gives a new browser such a budget ([`crate::backup::enrolment`]), a bound on password checks at once
//! ([`crate::backup::password_checks`]), one generic message for every wrong
//! username or password, and an audit log line per attempt (never the
//! password).

use crate::access::roles::Role;
use crate::backup::budgets::Attempter;
use crate::backup::enrolment::{Enrolment, enrol};
use crate::backup::known_device::{known_device, remember_device};
use crate::backup::password_checks::Busy;
use crate::config::Settings;
use crate::gate::ClientHops;
use crate::http::csrf;
use crate::http::error::AppError;
use crate::http::issue_session::session_response;
use crate::http::pages::{backup_login_page, message_page};
use crate::http::return_path::return_target_or_default;
use crate::runtime::state::{SharedState, unix_now};
use crate::session::model::new_session_id;
use crate::session::{LoginMethod, Session};
use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// How long a known device waits for a free password check.
const KNOWN_DEVICE_PATIENCE: Duration = Duration::from_secs(5);

/// The one message for a wrong username or a wrong password.
pub const WRONG_CREDENTIALS: &str = "Wrong username or password.";

/// The message for an enrolment code that is wrong or was used before.
pub const WRONG_CODE: &str = "Wrong enrolment code, or one that was used already.";

/// The backup form page, with a fresh CSRF token.
pub fn backup_form(
    settings: &Settings,
    headers: &HeaderMap,
    return_to: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let root = settings.root_admin.as_ref();
    let enabled = root.is_some_and(|root| root.password_hash.is_some());
    let offer_enrolment = root.is_some_and(|root| root.enrolment_code_hash.is_some());
    if !enabled {
        return (
            StatusCode::FORBIDDEN,
            Html(backup_login_page(None, return_to, None, false)),
        )
            .into_response();
    }
    let (token, cookie) = csrf::issue(settings, headers);
    (
        status,
        [(header::SET_COOKIE, cookie)],
        Html(backup_login_page(
            Some(&token),
            return_to,
            error,
            offer_enrolment,
        )),
    )
        .into_response()
}

/// The backup login form's fields.
#[derive(Deserialize)]
pub struct BackupForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    rd: Option<String>,
    /// The one-time enrolment code, sent from a browser that is not yet a
    /// known device.
    #[serde(default)]
    enrolment: String,
}

/// `POST /login`: checks the root admin's password and issues a root session.
pub async fn backup_login(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<BackupForm>,
) -> Response {
    let settings = state.settings.load_full();
    let return_to = return_target_or_default(form.rd.as_deref(), settings.hosts());
    let Some((root_username, hash)) = settings.root_admin.as_ref().and_then(|root| {
        root.password_hash
            .as_ref()
            .map(|hash| (root.username.clone(), hash.clone()))
    }) else {
        return (
            StatusCode::FORBIDDEN,
            Html(backup_login_page(None, &return_to, None, false)),
        )
            .into_response();
    };
    if !csrf::verify(&settings, &headers, &form.csrf) {
        tracing::warn!(client = %peer.ip(), "backup login refused: missing or stale form token");
        let error = "The form expired. Please try again.";
        return backup_form(
            &settings,
            &headers,
            &return_to,
            Some(error),
            StatusCode::FORBIDDEN,
        );
    }
    let client = ClientHops::decide(peer.ip(), &headers, &settings.trusted_proxies).client;
    let page = FormPage {
        settings: &settings,
        headers: &headers,
        return_to: &return_to,
    };
    let (device, enrolled) = match device_of(&state, &page, &form.enrolment, client).await {
        Ok(device) => device,
        Err(refused) => return refused,
    };
    let attempter = match &device {
        Some(id) => Attempter::KnownDevice(id.clone()),
        None => Attempter::Unknown(client),
    };
    if let Err(wait) = state.backup.take_attempt(&attempter).await {
        tracing::warn!(%client, known_device = device.is_some(), retry_after_seconds = wait.as_secs(), "backup login rate limited");
        return too_many_attempts(wait);
    }
    let username_matches = bool::from(form.username.as_bytes().ct_eq(root_username.as_bytes()));
    let checked = check_password(&state, device.is_some(), form.password, hash.expose()).await;
    let Ok(password_matches) = checked else {
        tracing::warn!(%client, "backup login refused: every password check is busy");
        return too_many_attempts(Duration::from_secs(1));
    };
    if !(username_matches && password_matches) {
        tracing::warn!(%client, username_matches, "backup login failed");
        let mut response = page.with_error(WRONG_CREDENTIALS);
        if enrolled {
            // The code is spent: the browser keeps its own budget for the retry.
            append_cookie(&mut response, &remember_device(&settings, device));
        }
        return response;
    }
    tracing::info!(%client, user = %root_username, "backup login succeeded");
    let (session, lifetime) = root_session(&settings, root_username);
    let mut response = match session_response(&settings, &session, lifetime, &return_to) {
        Ok(response) => response,
        Err(error) => return AppError::from(error).into_response(),
    };
    append_cookie(&mut response, &remember_device(&settings, device));
    response
}

/// The backup form, answered again with an error for the same request.
struct FormPage<'a> {
    settings: &'a Settings,
    headers: &'a HeaderMap,
    return_to: &'a str,
}

impl FormPage<'_> {
    fn with_error(&self, error: &str) -> Response {
        backup_form(
            self.settings,
            self.headers,
            self.return_to,
            Some(error),
            StatusCode::UNAUTHORIZED,
        )
    }
}

/// This browser's known-device id, and whether it was enrolled just now
/// with the code `typed`; or the answer that ends the attempt.
async fn device_of(
    state: &SharedState,
    page: &FormPage<'_>,
    typed: &str,
    client: IpAddr,
) -> Result<(Option<String>, bool), Response> {
    match enrol(&state.backup, page.settings, typed, client).await {
        Enrolment::NotAsked => Ok((known_device(page.settings, page.headers), false)),
        Enrolment::Enrolled(id) => {
            tracing::warn!(%client, "backup login: a new browser enrolled with the enrolment code");
            Ok((Some(id), true))
        }
        Enrolment::Refused => {
            tracing::warn!(%client, "backup login failed: wrong or spent enrolment code");
            Err(page.with_error(WRONG_CODE))
        }
        Enrolment::RateLimited(wait) => {
            tracing::warn!(%client, retry_after_seconds = wait.as_secs(), "backup login rate limited: enrolment codes");
            Err(too_many_attempts(wait))
        }
    }
}

/// Checks `password` against `phc`: a known device may wait for a free
/// check, an unknown client is refused while one runs.
async fn check_password(
    state: &SharedState,
    known_device: bool,
    password: String,
    phc: &str,
) -> Result<bool, Busy> {
    let (checks, phc) = (&state.backup.password_checks, phc.to_owned());
    if known_device {
        checks
            .check_within(KNOWN_DEVICE_PATIENCE, password, phc)
            .await
    } else {
        checks.check_now(password, phc).await
    }
}

/// The root admin's session, and its lifetime.
fn root_session(settings: &Settings, username: String) -> (Session, Duration) {
    let lifetime = settings
        .root_admin
        .as_ref()
        .map(|root| root.session_lifetime)
        .unwrap_or_default();
    let session = Session {
        sid: new_session_id(),
        user: username,
        email: None,
        preferred_username: None,
        groups: Vec::new(),
        role: Role::Admin,
        root: true,
        method: LoginMethod::Backup,
        expires_at: unix_now() + lifetime.as_secs(),
        id_token: None,
        provider: None,
        refresh: None,
    };
    (session, lifetime)
}

fn append_cookie(response: &mut Response, cookie: &str) {
    if let Ok(cookie) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

fn too_many_attempts(wait: Duration) -> Response {
    let page = message_page(
        "Backup login",
        "Too many attempts. Please wait and try again.",
    );
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, wait.as_secs().max(1).to_string())],
        Html(page),
    )
        .into_response()
}
