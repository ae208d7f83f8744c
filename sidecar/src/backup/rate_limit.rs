//! Token buckets that slow password guessing at the backup login.
//!
//! Each client address gets a small bucket and all clients share a larger
//! one, so neither one address nor many can try passwords quickly. Time is
//! passed in, so the arithmetic is tested without sleeping.
//!
//! Why not `governor`: its limiters answer for one key at a time, and a
//! guess here must draw on two buckets together or on neither (a guess the
//! client's own bucket refuses must not spend the shared budget, or one
//! address could lock everyone out); its keyed state grows until pruned,
//! where this one is bounded by `max_keys` at every insert; and the
//! budgets are meant to move to the shared session store for many
//! replicas, where an in-process limiter's state cannot follow.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

/// A bucket's size and refill speed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Attempts allowed at once.
    pub burst: f64,
    /// Seconds to earn one attempt back.
    pub seconds_per_attempt: f64,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: f64,
}

impl Bucket {
    fn full(rate: Rate, now: f64) -> Self {
        Self {
            tokens: rate.burst,
            updated: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: f64) {
        let earned = (now - self.updated).max(0.0) / rate.seconds_per_attempt;
        self.tokens = (self.tokens + earned).min(rate.burst);
        self.updated = now;
    }

    fn wait(&self, rate: Rate) -> Duration {
        Duration::from_secs_f64(
            ((1.0 - self.tokens) * rate.seconds_per_attempt)
                .max(0.0)
                .ceil()
                .max(1.0),
        )
    }
}

/// Per-key and overall limits.
#[derive(Debug)]
pub struct RateLimiter<K> {
    per_key: Rate,
    overall: Rate,
    buckets: HashMap<K, Bucket>,
    shared: Option<Bucket>,
    max_keys: usize,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    /// A limiter remembering at most `max_keys` keys (older full buckets are forgotten first).
    pub fn new(per_key: Rate, overall: Rate, max_keys: usize) -> Self {
        Self {
            per_key,
            overall,
            buckets: HashMap::new(),
            shared: None,
            max_keys,
        }
    }

    /// Takes one attempt for `key` at `now` (seconds), or says how long to wait.
    pub fn try_acquire(&mut self, key: &K, now: f64) -> Result<(), Duration> {
        let (per_key, overall) = (self.per_key, self.overall);
        let shared = self
            .shared
            .get_or_insert_with(|| Bucket::full(overall, now));
        shared.refill(overall, now);
        if shared.tokens < 1.0 {
            return Err(shared.wait(overall));
        }
        if !self.buckets.contains_key(key) && self.buckets.len() >= self.max_keys {
            self.forget_refilled(now);
        }
        let bucket = self
            .buckets
            .entry(key.clone())
            .or_insert_with(|| Bucket::full(per_key, now));
        bucket.refill(per_key, now);
        if bucket.tokens < 1.0 {
            return Err(bucket.wait(per_key));
        }
        bucket.tokens -= 1.0;
        if let Some(shared) = self.shared.as_mut() {
            shared.tokens -= 1.0;
        }
        Ok(())
    }

    fn forget_refilled(&mut self, now: f64) {
        let rate = self.per_key;
        self.buckets.retain(|_, bucket| {
            bucket.refill(rate, now);
            bucket.tokens < rate.burst
        });
        if self.buckets.len() >= self.max_keys {
            self.buckets.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PER_KEY: Rate = Rate {
        burst: 3.0,
        seconds_per_attempt: 10.0,
    };
    const OVERALL: Rate = Rate {
        burst: 5.0,
        seconds_per_attempt: 2.0,
    };

    #[test]
    fn a_client_gets_its_burst_then_waits() {
        let mut limiter = RateLimiter::new(PER_KEY, OVERALL, 100);
        for _ in 0..3 {
            assert!(limiter.try_acquire(&"a", 0.0).is_ok());
        }
        assert_eq!(limiter.try_acquire(&"a", 0.0), Err(Duration::from_secs(10)));
        assert_eq!(limiter.try_acquire(&"a", 6.0), Err(Duration::from_secs(4)));
        assert!(limiter.try_acquire(&"a", 10.0).is_ok());
    }

    #[test]
    fn many_clients_together_hit_the_overall_limit() {
        let mut limiter = RateLimiter::new(PER_KEY, OVERALL, 100);
        for client in 0..5 {
            assert!(limiter.try_acquire(&client, 0.0).is_ok());
        }
        assert_eq!(limiter.try_acquire(&99, 0.0), Err(Duration::from_secs(2)));
        assert!(limiter.try_acquire(&99, 2.0).is_ok());
    }

    #[test]
    fn remembered_clients_are_bounded() {
        let mut limiter = RateLimiter::new(
            PER_KEY,
            Rate {
                burst: 1e9,
                seconds_per_attempt: 1e-9,
            },
            10,
        );
        for client in 0..1000 {
            assert!(limiter.try_acquire(&client, 0.0).is_ok());
            assert!(limiter.buckets.len() <= 10);
        }
    }
}
