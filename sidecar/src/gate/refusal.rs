//! Why the gate stopped a request. Each door turns it into its own answer
//! (the HTTP one is in [`crate::http::refusal`]).

use crate::access::roles::NotAllowed;
use crate::oidc::provider::DiscoveryFailure;
use crate::session::session_cookies::SessionCookies;
use portcullis_contract::access::path::AmbiguousPath;

/// The gate's "no", with what the answer needs.
#[derive(Debug)]
pub enum Refusal {
    /// The path cannot be judged (it reads as different paths): 400.
    AmbiguousPath(AmbiguousPath),
    /// Nobody is signed in and a browser asked for a page: sign in, then
    /// come back to `return_to`.
    SignIn {
        /// The path and query to return to after signing in.
        return_to: String,
    },
    /// Nobody is signed in and a script asked: 401.
    Unauthenticated,
    /// The caller is signed in but may not: 403 (a page for a browser).
    Denied {
        /// Whether the client takes HTML.
        page: bool,
        /// The renewed session's cookie, when the session was renewed on
        /// the way: the answer carries it, so the old refresh token is
        /// never sent again.
        set_cookie: Option<SessionCookies>,
    },
    /// A bearer token that does not verify: 401.
    InvalidBearer,
    /// A bearer token's user is in none of the allowed groups: 403.
    NotAllowed(NotAllowed),
    /// The shared log-out list is too old to trust the session: 503.
    StoreUnavailable {
        /// Seconds to wait before trying again.
        retry_after_seconds: u64,
    },
    /// The provider's keys could not be had to check a bearer token: 503.
    ProviderUnavailable(DiscoveryFailure),
}
