//! Polling what cannot be watched: a check run again and again until it
//! gives a value or a bound passes.
//!
//! Waits on an API object's state watch it instead
//! ([`crate::kube::env::wait_for`]); this is for the rest (Events by reason,
//! metrics, a resource type becoming listable, a pod's log line). The bound
//! and the interval are the caller's: each test knows how slow what it waits
//! for may be.

use anyhow::{Result, bail};
use std::future::Future;
use std::time::Duration;

/// Runs `check` every `every` until it gives a value, for at most `limit`;
/// an error names `what` was waited for.
pub async fn eventually<T, F, Fut>(
    what: &str,
    limit: Duration,
    every: Duration,
    check: F,
) -> Result<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn the_first_value_the_check_gives_is_returned() -> Result<()> {
        let calls = AtomicU32::new(0);
        let value = eventually(
            "the third call",
            Duration::from_secs(5),
            Duration::ZERO,
            || {
                let call = calls.fetch_add(1, Ordering::Relaxed) + 1;
                async move { (call == 3).then_some(call) }
            },
        )
        .await?;
        assert_eq!(value, 3);
        Ok(())
    }

    #[tokio::test]
    async fn a_check_that_never_holds_times_out_naming_what_was_awaited() {
        let error = eventually(
            "the impossible",
            Duration::from_millis(50),
            Duration::from_millis(10),
            || async { None::<()> },
        )
        .await
        .expect_err("never holds");
        let text = error.to_string();
        assert!(text.contains("waiting for the impossible"), "{text}");
    }
}
