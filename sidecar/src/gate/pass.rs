//! The gate's "yes": who is calling, and what the app must be told.

use crate::config::Settings;
use crate::gate::identity_headers::Unforwardable;
use crate::gate::identity_headers::{
    add_identity_headers, strip_header_spellings, strip_identity_headers,
};
use crate::identity::signer::SignError;
use crate::runtime::state::{AppState, unix_now};
use crate::session::Session;
use crate::session::session_cookies::SessionCookies;
use http::HeaderMap;
use std::sync::Arc;

/// Why the identity could not be written for the app: the request is
/// refused rather than forwarded with a header missing.
#[derive(Debug, thiserror::Error)]
pub enum IdentityNotWritten {
    /// A value of the session no header can carry.
    #[error(transparent)]
    Unforwardable(#[from] Unforwardable),
    /// The identity token could not be signed.
    #[error(transparent)]
    Unsigned(#[from] SignError),
}

/// A request the gate lets through.
#[derive(Clone, Debug)]
pub struct Pass {
    /// The caller, from a session or a bearer token; `None` on a public
    /// path without one.
    pub identity: Option<Arc<Session>>,
    /// The renewed session's cookies, which the answer must carry.
    pub set_cookie: Option<SessionCookies>,
}

impl Pass {
    /// Makes `headers` say what the app must hear, and only that: every
    /// identity and forwarding header the client sent is removed (in every
    /// spelling), then the caller's identity is set, with its signed token
    /// when configured. A door calls it on the request it forwards, or on
    /// the answer a proxy in front copies headers from.
    ///
    /// An identity no header can carry, or a token that cannot be signed,
    /// refuses the request rather than forwarding it with a header missing.
    pub fn write_identity(
        &self,
        state: &AppState,
        settings: &Settings,
        headers: &mut HeaderMap,
    ) -> Result<(), IdentityNotWritten> {
        strip_identity_headers(headers);
        if let Some(session) = &self.identity {
            add_identity_headers(headers, session).map_err(|error| {
                tracing::warn!(%error, user = %session.user.escape_debug(), "request refused");
                IdentityNotWritten::Unforwardable(error)
            })?;
        }
        let Some(signed) = &settings.signed_identity else {
            return Ok(());
        };
        strip_header_spellings(headers, &signed.header);
        if let Some(session) = &self.identity {
            let token = state
                .identity
                .header_value(signed, session, unix_now())
                .map_err(|error| {
                    tracing::error!(%error, "identity token not signed; request refused");
                    IdentityNotWritten::Unsigned(error)
                })?;
            headers.insert(signed.header.clone(), token);
        }
        Ok(())
    }
}
