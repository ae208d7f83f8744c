//! Argon2 work for async callers: a bounded number of jobs at a time, off
//! the async threads, each in working memory allocated once and reused.
//!
//! Each argon2id run fills 19 MiB on purpose. Unbounded, a thousand new
//! `OidcSettings` started hundreds of runs at once in the operator, and
//! twenty wrong passwords sent at once did the same in a sidecar; glibc
//! kept the freed memory and a memory limit killed the pod. With `size`
//! slots the hashing memory is `size × 19 MiB`, whatever the load. Whether
//! a caller waits for a slot, waits a little, or is refused at once is the
//! caller's choice: [`PasswordPool::slot`], [`PasswordPool::slot_within`],
//! [`PasswordPool::try_slot`].

use crate::password::PasswordWork;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// At most `size` argon2 jobs at once, in reused working memory.
pub struct PasswordPool {
    permits: Arc<Semaphore>,
    idle: Arc<Mutex<Vec<PasswordWork>>>,
}

/// One job's place in the pool, held until its job has run.
pub struct Slot {
    permit: OwnedSemaphorePermit,
    idle: Arc<Mutex<Vec<PasswordWork>>>,
}

/// Why a job did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// No slot came free in time.
    #[error("every password slot is busy")]
    Busy,
    /// The job panicked on its blocking thread.
    #[error("a password job ended without a result")]
    JobFailed,
}

impl PasswordPool {
    /// A pool running at most `size` (at least one) jobs at once.
    pub fn new(size: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(size.max(1))),
            idle: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// A slot, waiting as long as it takes.
    pub async fn slot(&self) -> Result<Slot, PoolError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PoolError::Busy)?;
        Ok(self.slot_of(permit))
    }

    /// A slot, waiting at most `patience`.
    pub async fn slot_within(&self, patience: Duration) -> Result<Slot, PoolError> {
        match tokio::time::timeout(patience, self.slot()).await {
            Ok(slot) => slot,
            Err(_) => Err(PoolError::Busy),
        }
    }

    /// A slot if one is free now.
    pub fn try_slot(&self) -> Result<Slot, PoolError> {
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| PoolError::Busy)?;
        Ok(self.slot_of(permit))
    }

    /// Working memories kept for reuse now.
    pub fn idle_work_areas(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
    }

    fn slot_of(&self, permit: OwnedSemaphorePermit) -> Slot {
        Slot {
            permit,
            idle: Arc::clone(&self.idle),
        }
    }
}

impl Slot {
    /// Runs `job` on a blocking thread with reused working memory; the slot
    /// is free again once the job has run.
    pub async fn run<T: Send + 'static>(
        self,
        job: impl FnOnce(&mut PasswordWork) -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let Slot { permit, idle } = self;
        tokio::task::spawn_blocking(move || {
            let mut work = idle
                .lock()
                .ok()
                .and_then(|mut idle| idle.pop())
                .unwrap_or_default();
            let output = job(&mut work);
            if let Ok(mut idle) = idle.lock() {
                idle.push(work);
            }
            drop(permit);
            output
        })
        .await
        .map_err(|_| PoolError::JobFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::hash_password;

    #[tokio::test]
    async fn jobs_run_and_their_work_areas_are_kept_for_reuse() {
        let pool = PasswordPool::new(2);
        let hashes = futures_join(&pool, 4).await;
        for hash in hashes {
            assert!(hash.starts_with("$argon2id$"), "{hash}");
        }
        assert!((1..=2).contains(&pool.idle_work_areas()));
    }

    async fn futures_join(pool: &PasswordPool, jobs: usize) -> Vec<String> {
        let mut running = Vec::new();
        for n in 0..jobs {
            let slot = pool.slot().await.expect("slot");
            running.push(tokio::spawn(
                slot.run(move |work| work.hash(&format!("pw{n}")).expect("hashed")),
            ));
        }
        let mut hashes = Vec::new();
        for job in running {
            hashes.push(job.await.expect("joined").expect("ran"));
        }
        hashes
    }

    #[tokio::test]
    async fn a_busy_pool_refuses_at_once_or_lets_a_patient_caller_wait() {
        let hash = hash_password("right").expect("hash");
        let pool = Arc::new(PasswordPool::new(1));
        let held = pool.try_slot().expect("the only slot");
        assert!(matches!(pool.try_slot(), Err(PoolError::Busy)));
        assert!(matches!(
            pool.slot_within(Duration::from_millis(20)).await,
            Err(PoolError::Busy)
        ));
        let waiting = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move {
                let slot = pool.slot_within(Duration::from_secs(30)).await?;
                slot.run(move |work| work.verify("right", &hash)).await
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(held);
        assert!(waiting.await.expect("joined").expect("ran"));
        assert_eq!(pool.idle_work_areas(), 1);
    }
}
