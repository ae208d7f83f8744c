//! Where a session's refresh token is kept.
//!
//! Without a session store it is sealed in the session cookie with the
//! rest. With one, it is kept in the store, sealed with the session keys
//! under the digest of the session id, and the cookie only says so: the
//! cookie stays small, a copied cookie carries no refresh token, and
//! every replica and every old copy of the cookie renews with the one
//! current token, so a rotated token is never used twice. A dump of the
//! store opens nothing: the name is a digest, the value sealed.
//!
//! A store that does not take the token leaves it in the cookie; a store
//! that cannot be read when a renewal is due is an outage the session
//! rides out within its grace.

use super::keys::KeyRing;
use super::model::{Refresh, Session};
use super::revoked::sid_digest;
use super::store::SessionStore;

/// What the token is sealed as in the store (no cookie has this name).
const SEALED_AS: &str = "portcullis-refresh-token";

/// Why a session's refresh token could not be had.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenMissing {
    /// The session cannot be renewed: it has no token, or the store no
    /// longer keeps it (logged out, or past its end).
    #[error("the session has no refresh token")]
    Gone,
    /// The store did not answer.
    #[error("the session store did not answer: {0}")]
    StoreUnavailable(String),
}

fn name_of(session: &Session) -> String {
    format!("refresh:{}", sid_digest(&session.sid))
}

/// `session` with its refresh token moved into `store` (kept until the
/// session's end), or as it was when the store does not take it.
pub async fn keep_in_store(
    store: &SessionStore,
    keys: &KeyRing,
    mut session: Session,
    now: u64,
) -> Session {
    let name = name_of(&session);
    let Some(refresh) = session.refresh.as_mut().filter(|refresh| !refresh.in_store) else {
        return session;
    };
    let sealed = keys.seal(SEALED_AS, &refresh.token);
    let seconds = refresh.ends_at.saturating_sub(now);
    match store.put(&name, &sealed, seconds).await {
        Ok(()) => {
            *refresh = Refresh {
                token: String::new(),
                in_store: true,
                ends_at: refresh.ends_at,
            };
        }
        Err(error) => {
            tracing::warn!(%error, "the session store did not take the refresh token: it stays in the cookie");
        }
    }
    session
}

/// The refresh token of `session`: from its cookie, or from `store`.
pub async fn token_of(
    store: Option<&SessionStore>,
    keys: &KeyRing,
    session: &Session,
) -> Result<String, TokenMissing> {
    let refresh = session.refresh.as_ref().ok_or(TokenMissing::Gone)?;
    if !refresh.in_store {
        return Ok(refresh.token.clone());
    }
    let store = store.ok_or(TokenMissing::Gone)?;
    let sealed = store
        .get(&name_of(session))
        .await
        .map_err(|error| TokenMissing::StoreUnavailable(error.to_string()))?
        .ok_or(TokenMissing::Gone)?;
    keys.open(SEALED_AS, &sealed).ok_or(TokenMissing::Gone)
}

/// Drops the refresh token `store` keeps for `session`, if it keeps one.
pub async fn forget(store: &SessionStore, session: &Session) {
    if session
        .refresh
        .as_ref()
        .is_some_and(|refresh| refresh.in_store)
        && let Err(error) = store.forget(&name_of(session)).await
    {
        tracing::warn!(%error, "the session store did not drop a logged-out session's refresh token; it expires with the session");
    }
}
