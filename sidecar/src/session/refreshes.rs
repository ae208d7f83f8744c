//! One renewal per session at a time, and its result for the requests
//! that come with the same cookie.
//!
//! Requests of one session that arrive together as its access token
//! expires make one call to the provider: the first runs it, the others
//! wait for its outcome. A provider that rotates refresh tokens and
//! detects reuse (Keycloak's "Revoke Refresh Token", oidc-provider) would
//! revoke the whole grant on a second use of the old token, so the outcome
//! is kept for a while under the token it used: a straggler that still
//! carries the old cookie gets the renewed session, never a second call.
//! An outage is kept only briefly, so renewals are retried every few
//! seconds, not on every request.

use super::Session;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// How long an outcome is kept for stragglers (seconds).
const KEPT_FOR_SECONDS: u64 = 120;
/// How long an outage answers for the provider before the next try (seconds).
const RETRY_AFTER_SECONDS: u64 = 5;
/// Most renewals remembered at once; beyond, the oldest are forgotten.
const MAX_KEPT: usize = 100_000;

/// What a renewal came to.
#[derive(Clone, Debug)]
pub enum RefreshOutcome {
    /// The provider renewed it: the session to use from now on.
    Renewed(Arc<Session>),
    /// The provider refused (or the answer did not hold): the session ends.
    Ended,
    /// The provider did not answer usefully: try again later.
    Unavailable,
}

type Flight = Arc<OnceCell<RefreshOutcome>>;

/// The renewals under way or recently done, by session and refresh token.
#[derive(Debug, Default)]
pub struct Refreshes {
    flights: Mutex<HashMap<String, (Flight, u64)>>,
}

impl Refreshes {
    /// The outcome of renewing under `key` (the session id and its refresh
    /// token's digest): `renew`'s, run here if no renewal under `key` is
    /// under way or recent, else the one that is.
    pub async fn run<F, Fut>(&self, key: &str, now: u64, renew: F) -> RefreshOutcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = RefreshOutcome>,
    {
        let flight = self.flight(key, now);
        let outcome = flight.get_or_init(renew).await.clone();
        if matches!(outcome, RefreshOutcome::Unavailable) {
            self.keep_until(key, &flight, now + RETRY_AFTER_SECONDS);
        }
        outcome
    }

    fn flight(&self, key: &str, now: u64) -> Flight {
        let Ok(mut flights) = self.flights.lock() else {
            return Flight::default();
        };
        flights.retain(|_, (_, until)| *until > now);
        if flights.len() >= MAX_KEPT
            && let Some(oldest) = flights
                .iter()
                .min_by_key(|(_, (_, until))| *until)
                .map(|(key, _)| key.clone())
        {
            flights.remove(&oldest);
        }
        let (flight, _) = flights
            .entry(key.to_owned())
            .or_insert_with(|| (Flight::default(), now + KEPT_FOR_SECONDS));
        Arc::clone(flight)
    }

    fn keep_until(&self, key: &str, flight: &Flight, until: u64) {
        if let Ok(mut flights) = self.flights.lock()
            && let Some((kept, kept_until)) = flights.get_mut(key)
            && Arc::ptr_eq(kept, flight)
        {
            *kept_until = (*kept_until).min(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn twenty_requests_at_once_make_one_renewal_and_share_it() {
        let refreshes = Arc::new(Refreshes::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut waiting = Vec::new();
        for _ in 0..20 {
            let (refreshes, calls) = (Arc::clone(&refreshes), Arc::clone(&calls));
            waiting.push(tokio::spawn(async move {
                refreshes
                    .run("sid:token", 1_000, || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        RefreshOutcome::Ended
                    })
                    .await
            }));
        }
        for waiter in waiting {
            assert!(matches!(waiter.await, Ok(RefreshOutcome::Ended)));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let straggler = refreshes
            .run("sid:token", 1_100, || async { RefreshOutcome::Unavailable })
            .await;
        assert!(
            matches!(straggler, RefreshOutcome::Ended),
            "kept for stragglers"
        );
        let later = refreshes
            .run("sid:token", 1_000 + KEPT_FOR_SECONDS, || async {
                RefreshOutcome::Unavailable
            })
            .await;
        assert!(
            matches!(later, RefreshOutcome::Unavailable),
            "forgotten after a while"
        );
    }

    #[tokio::test]
    async fn an_outage_is_retried_after_a_few_seconds() {
        let refreshes = Refreshes::default();
        let first = refreshes
            .run("k", 0, || async { RefreshOutcome::Unavailable })
            .await;
        assert!(matches!(first, RefreshOutcome::Unavailable));
        let soon = refreshes
            .run("k", 1, || async { RefreshOutcome::Ended })
            .await;
        assert!(
            matches!(soon, RefreshOutcome::Unavailable),
            "no new call at once"
        );
        let later = refreshes
            .run("k", RETRY_AFTER_SECONDS, || async { RefreshOutcome::Ended })
            .await;
        assert!(matches!(later, RefreshOutcome::Ended), "retried");
    }
}
