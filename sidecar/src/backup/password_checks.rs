//! Root-admin password checks, a bounded number at a time, in reused memory.
//!
//! Each argon2id check fills 19 MiB on purpose. Without a bound, twenty
//! wrong passwords sent at once cost twenty such buffers (hundreds of MiB)
//! and a memory limit kills the pod, forgetting every logged-out session.
//! Here a check needs one of a few slots; the working memory of a slot is
//! made on first use and kept, so the cost is paid once, not per attempt.
//! Who must wait for a slot and who is refused at once is the caller's
//! choice: an unknown client is refused, a known device may wait briefly.

use portcullis_contract::password::PasswordWork;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The slots for password checks.
pub struct PasswordChecks {
    permits: Arc<Semaphore>,
    idle: Arc<Mutex<Vec<PasswordWork>>>,
}

/// Why no check ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("every password check slot is busy")]
pub struct Busy;

impl PasswordChecks {
    /// At most `slots` checks at once.
    pub fn new(slots: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(slots)),
            idle: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Checks `password` against `phc` if a slot is free now.
    pub async fn check_now(&self, password: String, phc: String) -> Result<bool, Busy> {
        let permit = self.permits.clone().try_acquire_owned().map_err(|_| Busy)?;
        Ok(self.run(permit, password, phc).await)
    }

    /// Checks `password` against `phc`, waiting up to `patience` for a slot.
    pub async fn check_within(
        &self,
        patience: Duration,
        password: String,
        phc: String,
    ) -> Result<bool, Busy> {
        let permit = tokio::time::timeout(patience, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        Ok(self.run(permit, password, phc).await)
    }

    async fn run(&self, permit: OwnedSemaphorePermit, password: String, phc: String) -> bool {
        let idle = self.idle.clone();
        tokio::task::spawn_blocking(move || {
            let mut work = idle
                .lock()
                .ok()
                .and_then(|mut idle| idle.pop())
                .unwrap_or_default();
            let matches = work.verify(&password, &phc);
            if let Ok(mut idle) = idle.lock() {
                idle.push(work);
            }
            drop(permit);
            matches
        })
        .await
        .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_contract::password::hash_password;

    #[tokio::test]
    async fn a_busy_slot_refuses_at_once_or_lets_a_patient_caller_wait() {
        let hash = hash_password("right").expect("hash");
        let checks = Arc::new(PasswordChecks::new(1));
        let held = checks
            .permits
            .clone()
            .try_acquire_owned()
            .expect("the only slot");
        assert_eq!(
            checks.check_now("right".into(), hash.clone()).await,
            Err(Busy)
        );
        let waiting = tokio::spawn({
            let checks = checks.clone();
            let hash = hash.clone();
            async move {
                checks
                    .check_within(Duration::from_secs(30), "right".into(), hash)
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(held);
        assert_eq!(waiting.await.expect("joined"), Ok(true));
        assert_eq!(checks.check_now("wrong".into(), hash).await, Ok(false));
        assert_eq!(checks.idle.lock().map(|idle| idle.len()).ok(), Some(1));
    }
}
