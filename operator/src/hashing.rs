//! Root-admin password hashing off the async threads: a bounded number at a
//! time, each in argon2 working memory that is allocated once and reused.
//!
//! Unbounded, a thousand new `OidcSettings` started hundreds of 19 MiB argon2
//! runs at once on the blocking pool, and glibc kept the freed memory: the
//! operator grew to gigabytes. With `size` reusable work areas the hashing
//! memory is `size × 19 MiB`, whatever the load.

use crate::error::Result;
use portcullis_contract::password::PasswordWork;
use std::sync::Mutex;
use tokio::sync::Semaphore;

/// Runs password jobs, at most `size` at once.
pub struct HashingPool {
    permits: Semaphore,
    idle: Mutex<Vec<PasswordWork>>,
}

impl HashingPool {
    /// A pool running at most `size` (at least one) jobs at once.
    pub fn new(size: usize) -> Self {
        Self {
            permits: Semaphore::new(size.max(1)),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `job` on a blocking thread with reused working memory.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut PasswordWork) -> T + Send + 'static,
    ) -> Result<T> {
        let _permit = self.permits.acquire().await?;
        let mut work = self
            .idle
            .lock()
            .ok()
            .and_then(|mut idle| idle.pop())
            .unwrap_or_default();
        let (work, output) = tokio::task::spawn_blocking(move || {
            let output = job(&mut work);
            (work, output)
        })
        .await?;
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(work);
        }
        Ok(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_and_their_work_areas_are_kept_for_reuse() {
        let pool = HashingPool::new(2);
        let hashes = futures_util::future::join_all(
            (0..4).map(|i| pool.run(move |work| work.hash(&format!("pw{i}")))),
        )
        .await;
        assert_eq!(hashes.len(), 4);
        for hash in hashes {
            assert!(
                hash.expect("ran")
                    .expect("hashed")
                    .starts_with("$argon2id$")
            );
        }
        let kept = pool.idle.lock().map(|idle| idle.len()).unwrap_or(0);
        assert!((1..=2).contains(&kept), "{kept} work areas kept");
    }
}
