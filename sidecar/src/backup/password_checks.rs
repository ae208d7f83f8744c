//! Root-admin password checks, a bounded number at a time, in reused memory.
//!
//! Each argon2id check fills 19 MiB on purpose; the contract's
//! [`PasswordPool`] bounds how many run at once and reuses their memory.
//! Who must wait for a slot and who is refused at once is chosen here: an
//! unknown client is refused, a known device may wait briefly.

use portcullis_contract::password_pool::{PasswordPool, PoolError};
use std::time::Duration;

/// The slots for password checks.
pub struct PasswordChecks {
    pool: PasswordPool,
}

/// Why no check ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("every password check slot is busy")]
pub struct Busy;

impl PasswordChecks {
    /// At most `slots` checks at once.
    pub fn new(slots: usize) -> Self {
        Self {
            pool: PasswordPool::new(slots),
        }
    }

    /// Checks `password` against `phc` if a slot is free now.
    pub async fn check_now(&self, password: String, phc: String) -> Result<bool, Busy> {
        let slot = self.pool.try_slot().map_err(|_| Busy)?;
        Ok(verify(
            slot.run(move |work| work.verify(&password, &phc)).await,
        ))
    }

    /// Checks `password` against `phc`, waiting up to `patience` for a slot.
    pub async fn check_within(
        &self,
        patience: Duration,
        password: String,
        phc: String,
    ) -> Result<bool, Busy> {
        let slot = self.pool.slot_within(patience).await.map_err(|_| Busy)?;
        Ok(verify(
            slot.run(move |work| work.verify(&password, &phc)).await,
        ))
    }
}

/// A check that did not run to its end is a mismatch.
fn verify(checked: Result<bool, PoolError>) -> bool {
    checked.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_contract::password::hash_password;

    #[tokio::test]
    async fn an_unknown_client_is_refused_at_once_while_a_check_runs() {
        let hash = hash_password("right").expect("hash");
        let checks = PasswordChecks::new(1);
        let held = checks.pool.try_slot().expect("the only slot");
        assert_eq!(
            checks.check_now("right".into(), hash.clone()).await,
            Err(Busy)
        );
        assert_eq!(
            checks
                .check_within(Duration::from_millis(20), "right".into(), hash.clone())
                .await,
            Err(Busy)
        );
        drop(held);
        assert_eq!(
            checks.check_now("right".into(), hash.clone()).await,
            Ok(true)
        );
        assert_eq!(checks.check_now("wrong".into(), hash).await, Ok(false));
    }
}
