//! Token buckets kept in the store, so every replica draws on the same
//! budget: an attacker gets one backup-login budget, not one per replica,
//! and a rollout resets nothing.
//!
//! One Lua script takes an attempt from a bucket and, when given, a shared
//! bucket, atomically and on the server's clock: both allow it, or neither
//! is spent (a guess its own bucket refuses must not empty the shared one).
//! Buckets are hashes that expire once they would be full again. Which
//! buckets there are and their rates are the backup login's policy; this is
//! only the arithmetic, the same as the in-memory limiter's.

use super::SessionStore;
use super::connection::within;
use redis::{RedisResult, Script};
use std::sync::LazyLock;
use std::time::Duration;

/// A bucket in the store: its key (under the app's prefix) and its rate.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredBucket {
    /// The key's name after the prefix.
    pub name: String,
    /// Attempts allowed at once.
    pub burst: f64,
    /// Seconds to earn one attempt back.
    pub seconds_per_attempt: f64,
}

/// What the store said about an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taken {
    /// Allowed, and counted in every replica's budget.
    Allowed,
    /// Refused: try again after this long.
    Wait(Duration),
}

/// KEYS: the bucket, then optionally the shared bucket. ARGV: burst and
/// seconds per attempt of each. Returns the seconds to wait, "0" when
/// allowed (as a string: Lua numbers come back truncated to integers).
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local function level(key, burst, per)
  local kept = redis.call('HMGET', key, 'tokens', 'updated')
  local tokens = tonumber(kept[1]) or burst
  local updated = tonumber(kept[2]) or now
  return math.min(burst, tokens + math.max(0, now - updated) / per)
end
local function wait(tokens, per)
  if tokens >= 1 then return 0 end
  return (1 - tokens) * per
end
local function spend(key, tokens, burst, per)
  redis.call('HSET', key, 'tokens', tostring(tokens - 1), 'updated', tostring(now))
  redis.call('PEXPIRE', key, math.ceil((burst - tokens + 1) * per * 1000) + 1000)
end
local own_burst, own_per = tonumber(ARGV[1]), tonumber(ARGV[2])
local own = level(KEYS[1], own_burst, own_per)
local longest = wait(own, own_per)
local shared, shared_burst, shared_per
if #KEYS > 1 then
  shared_burst, shared_per = tonumber(ARGV[3]), tonumber(ARGV[4])
  shared = level(KEYS[2], shared_burst, shared_per)
  longest = math.max(longest, wait(shared, shared_per))
end
if longest > 0 then return tostring(longest) end
spend(KEYS[1], own, own_burst, own_per)
if shared then spend(KEYS[2], shared, shared_burst, shared_per) end
return '0'
",
    )
});

impl SessionStore {
    /// Takes one attempt from `own` and, when given, from `shared` too,
    /// within [`super::STORE_TIMEOUT`]. An error means the store did not answer;
    /// the caller decides what to count on then.
    pub async fn take(
        &self,
        own: &StoredBucket,
        shared: Option<&StoredBucket>,
    ) -> RedisResult<Taken> {
        let link = self.link();
        let mut invocation = TAKE.prepare_invoke();
        for bucket in std::iter::once(own).chain(shared) {
            invocation
                .key(link.names.key(&bucket.name))
                .arg(bucket.burst)
                .arg(bucket.seconds_per_attempt);
        }
        let mut writer = link.connection()?.writer.clone();
        let answer: String = within(invocation.invoke_async(&mut writer)).await?;
        let seconds: f64 = answer.parse().unwrap_or(f64::INFINITY);
        Ok(if seconds <= 0.0 {
            Taken::Allowed
        } else {
            Taken::Wait(Duration::from_secs_f64(seconds.min(3600.0).ceil().max(1.0)))
        })
    }

    /// Marks `name` as used for a year (an enrolment code is replaced long
    /// before): true the first time across every replica (an enrolment
    /// code enrols one browser only).
    pub async fn first_use(&self, name: &str) -> RedisResult<bool> {
        self.first_use_for(name, USED_FOR_SECONDS).await
    }

    /// Marks `name` as used for `seconds`: true the first time across every
    /// replica within them.
    pub async fn first_use_for(&self, name: &str, seconds: u64) -> RedisResult<bool> {
        self.try_lock(name, seconds.saturating_mul(1000)).await
    }
}

/// How long a use is remembered: a year.
const USED_FOR_SECONDS: u64 = 365 * 24 * 3600;
