//! The backup login's live state: who may try now, and the password checks.
//!
//! One value per running sidecar, held in the shared state; the handler
//! and the enrolment draw on it. With a session store the budgets and the
//! spent enrolment codes are counted there, once for every replica; while
//! the store does not answer they are counted in this process's memory, so
//! the root admin can still get in when the store is what broke.

use super::budgets::{Attempter, BackupGate, spent_code_name, stored_buckets};
use super::password_checks::PasswordChecks;
use crate::observe::metrics::Metrics;
use crate::session::store::SessionStore;
use crate::session::store::buckets::Taken;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Root-admin password checks at once: each holds 19 MiB of argon2 memory.
const PASSWORD_CHECK_SLOTS: usize = 1;

/// How long a client waits when the budgets cannot be read.
const WAIT_WHEN_UNREADABLE: Duration = Duration::from_secs(60);

/// The budgets of the backup login and its bounded password checks.
pub struct BackupGuard {
    budgets: Mutex<BackupGate>,
    /// Root-admin password checks, bounded in number and memory.
    pub password_checks: PasswordChecks,
    started: Instant,
    store: Option<Arc<SessionStore>>,
    metrics: Arc<Metrics>,
}

impl Default for BackupGuard {
    fn default() -> Self {
        Self::counted_in(None, Arc::default())
    }
}

impl BackupGuard {
    /// Budgets counted in `store` when there is one, else in memory; each
    /// time the store does not answer is counted in `metrics`.
    pub fn counted_in(store: Option<Arc<SessionStore>>, metrics: Arc<Metrics>) -> Self {
        Self {
            budgets: Mutex::new(BackupGate::default()),
            password_checks: PasswordChecks::new(PASSWORD_CHECK_SLOTS),
            started: Instant::now(),
            store,
            metrics,
        }
    }

    /// Takes one backup-login attempt for `who`, or says how long to wait:
    /// from the store's budgets when it answers, else from this replica's.
    pub async fn take_attempt(&self, who: &Attempter) -> Result<(), Duration> {
        if let Some(store) = &self.store {
            let (own, shared) = stored_buckets(who);
            match store.take(&own, shared.as_ref()).await {
                Ok(Taken::Allowed) => return Ok(()),
                Ok(Taken::Wait(wait)) => return Err(wait),
                Err(error) => {
                    self.metrics.store_fallbacks.inc();
                    tracing::warn!(
                        %error,
                        "backup login budget counted on this replica only: the session store did not answer"
                    );
                }
            }
        }
        self.take_local_attempt(who)
    }

    fn take_local_attempt(&self, who: &Attempter) -> Result<(), Duration> {
        let now = self.started.elapsed().as_secs_f64();
        match self.budgets.lock() {
            Ok(mut budgets) => budgets.try_attempt(who, now),
            Err(_) => Err(WAIT_WHEN_UNREADABLE),
        }
    }

    /// Spends the enrolment code hashed as `phc`: true the first time only
    /// (across replicas when the store answers; in this replica's memory
    /// too, so a store that lost its data cannot hand it out again here).
    pub async fn spend_code(&self, phc: &str) -> bool {
        let first_here = self
            .budgets
            .lock()
            .is_ok_and(|mut budgets| budgets.spend_code(phc));
        let Some(store) = &self.store else {
            return first_here;
        };
        match store.first_use(&spent_code_name(phc)).await {
            Ok(first_anywhere) => first_here && first_anywhere,
            Err(error) => {
                self.metrics.store_fallbacks.inc();
                tracing::warn!(%error, "enrolment code spent on this replica only: the session store did not answer");
                first_here
            }
        }
    }
}
