//! The backup login's live state: who may try now, and the password checks.
//!
//! One value per running sidecar, held in the shared state; the handler
//! and the enrolment draw on it. The budgets are counted in this process's
//! memory.

use super::budgets::{Attempter, BackupGate};
use super::password_checks::PasswordChecks;
use std::sync::Mutex;
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
}

impl Default for BackupGuard {
    fn default() -> Self {
        Self {
            budgets: Mutex::new(BackupGate::default()),
            password_checks: PasswordChecks::new(PASSWORD_CHECK_SLOTS),
            started: Instant::now(),
        }
    }
}

impl BackupGuard {
    /// Takes one backup-login attempt for `who`, or says how long to wait.
    pub fn take_attempt(&self, who: &Attempter) -> Result<(), Duration> {
        let now = self.started.elapsed().as_secs_f64();
        match self.budgets.lock() {
            Ok(mut budgets) => budgets.try_attempt(who, now),
            Err(_) => Err(WAIT_WHEN_UNREADABLE),
        }
    }

    /// Spends the enrolment code hashed as `phc`: true the first time only.
    pub fn spend_code(&self, phc: &str) -> bool {
        self.budgets
            .lock()
            .is_ok_and(|mut budgets| budgets.spend_code(phc))
    }
}
