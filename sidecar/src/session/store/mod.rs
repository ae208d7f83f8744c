//! The session store: the log-out list shared by the replicas of one app,
//! on Redis.
//!
//! No request waits on the store. Each replica keeps its list in memory
//! ([`RevokedSessions`]) and [`link::keep_in_sync`] feeds it: it subscribes
//! to the app's channel, loads the whole list, and loads it again every few
//! seconds, so a log out on one replica reaches the others as fast as the
//! channel carries it, and a missed message within the next reload. A log
//! out is written to the store and announced on the channel; a write the
//! store refuses is kept and written once the store is back.
//!
//! An outage opens no door and logs nobody out: while the store is away,
//! sessions are served from the local copy for `maxStalenessSeconds` after
//! it was last known complete; after that a request that needs the list
//! gets 503 with `Retry-After` ([`SessionStore::is_fresh`]), and no cookie
//! is cleared. A replica that never loaded the list treats it as stale.

pub mod buckets;
mod connection;
pub mod link;
pub mod settings;
mod shared;
pub mod wire;

use crate::session::revoked::MAX_REVOKED;
use arc_swap::ArcSwap;
use connection::{Link, within};
use redis::RedisResult;
use settings::StoreSettings;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use wire::Revocation;

pub use connection::STORE_TIMEOUT;

pub use crate::session::revoked::RevokedSessions;

/// Log outs kept for writing while the store is away, at most.
const MAX_PENDING: usize = 10_000;

/// Why the store could not be set up from its settings.
#[derive(Debug, thiserror::Error)]
#[error("the session store's settings are not usable: {0}")]
pub struct StoreSetupError(#[from] redis::RedisError);

/// One app's shared log-out list, and how fresh this replica's copy is.
pub struct SessionStore {
    link: ArcSwap<Link>,
    /// Wakes the sync loop to start over on new settings.
    relinked: Notify,
    started: Instant,
    /// Milliseconds after `started` the copy was last known complete, plus
    /// one; 0 while it never was.
    confirmed: AtomicU64,
    /// The settings' staleness bound in milliseconds, read on every
    /// request that carries a session (an atomic, not the settings).
    max_staleness_ms: AtomicU64,
    /// Whether the first load was tried, for readiness.
    first_load_tried: AtomicBool,
    /// Whether the store answered last time: a change is logged once.
    reachable: AtomicBool,
    pending: Mutex<Vec<Revocation>>,
}

impl SessionStore {
    /// A store for `settings`; connects on first use, never here.
    pub fn new(settings: &StoreSettings) -> Result<Self, StoreSetupError> {
        Ok(Self {
            link: ArcSwap::from_pointee(Link::new(settings)?),
            relinked: Notify::new(),
            started: Instant::now(),
            confirmed: AtomicU64::new(0),
            max_staleness_ms: AtomicU64::new(millis(settings.max_staleness)),
            first_load_tried: AtomicBool::new(false),
            reachable: AtomicBool::new(true),
            pending: Mutex::new(Vec::new()),
        })
    }

    /// Uses `settings` from now on, when they differ from the current ones
    /// (a rotated password, a new address): the sync loop starts over on
    /// them. The local copy and its freshness are kept.
    pub fn reconfigure(&self, settings: &StoreSettings) -> Result<(), StoreSetupError> {
        if self.link.load().settings == *settings {
            return Ok(());
        }
        self.link.store(Arc::new(Link::new(settings)?));
        self.max_staleness_ms
            .store(millis(settings.max_staleness), Ordering::Release);
        self.relinked.notify_waiters();
        tracing::info!("session store settings changed; reconnecting");
        Ok(())
    }

    fn link(&self) -> Arc<Link> {
        self.link.load_full()
    }

    /// Whether the local copy may still be trusted: it was complete no
    /// longer than `maxStalenessSeconds` ago.
    pub fn is_fresh(&self) -> bool {
        match self.confirmed.load(Ordering::Acquire) {
            0 => false,
            confirmed => {
                let age = self.elapsed_ms().saturating_sub(confirmed - 1);
                age <= self.max_staleness_ms.load(Ordering::Acquire)
            }
        }
    }

    /// When the copy was last confirmed complete (a number that only grows).
    fn last_confirmed(&self) -> u64 {
        self.confirmed.load(Ordering::Acquire)
    }

    /// Whether the first load was tried (done or failed): a replica is
    /// ready after that, so a store outage does not keep it out of the
    /// Service.
    pub fn first_load_tried(&self) -> bool {
        self.first_load_tried.load(Ordering::Acquire)
    }

    /// Seconds a client should wait before trying again while the copy is stale.
    pub fn retry_after(&self) -> Duration {
        Duration::from_secs(5)
    }

    /// Writes a log out to the store and announces it to the other
    /// replicas, within [`STORE_TIMEOUT`]; kept for later when the store is
    /// away.
    pub async fn announce(&self, revocation: Revocation, now: u64) {
        match within(self.write(&revocation, now)).await {
            Ok(()) => self.mark_reachable(),
            Err(error) => {
                self.mark_unreachable(&error.to_string());
                self.keep_for_later(revocation);
            }
        }
    }

    async fn write(&self, revocation: &Revocation, now: u64) -> RedisResult<()> {
        let link = self.link();
        let mut writer = link.connection()?.writer.clone();
        let key = &link.names.revoked;
        redis::pipe()
            .atomic()
            .cmd("ZADD")
            .arg(key)
            .arg(revocation.expires_at)
            .arg(revocation.member())
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(key)
            .arg("-inf")
            .arg(now)
            .ignore()
            .cmd("EXPIREAT")
            .arg(key)
            .arg(revocation.expires_at)
            .arg("NX")
            .ignore()
            .cmd("EXPIREAT")
            .arg(key)
            .arg(revocation.expires_at)
            .arg("GT")
            .ignore()
            .cmd("PUBLISH")
            .arg(&link.names.channel)
            .arg(revocation.message())
            .ignore()
            .exec_async(&mut writer)
            .await
    }

    /// Adds `local` (this replica's copy) to the store's list, so a store
    /// that lost its data (restarted without persistence, failed over to
    /// an empty replica) learns again what the replicas remember.
    async fn write_back(&self, local: &[Revocation]) -> RedisResult<()> {
        if local.is_empty() {
            return Ok(());
        }
        let link = self.link();
        let mut writer = link.connection()?.writer.clone();
        let mut add = redis::cmd("ZADD");
        add.arg(&link.names.revoked);
        for revocation in local {
            add.arg(revocation.expires_at).arg(revocation.member());
        }
        let latest = local
            .iter()
            .map(|revocation| revocation.expires_at)
            .max()
            .unwrap_or(0);
        redis::pipe()
            .atomic()
            .add_command(add)
            .ignore()
            .cmd("EXPIREAT")
            .arg(&link.names.revoked)
            .arg(latest)
            .arg("NX")
            .ignore()
            .cmd("EXPIREAT")
            .arg(&link.names.revoked)
            .arg(latest)
            .arg("GT")
            .ignore()
            .exec_async(&mut writer)
            .await
    }

    /// The log outs the store holds that have not expired at `now`, at most
    /// [`MAX_REVOKED`] (the latest-expiring: a replica keeps no more).
    async fn load(&self, now: u64) -> RedisResult<Vec<Revocation>> {
        let link = self.link();
        let mut writer = link.connection()?.writer.clone();
        // The latest-expiring first, as many as a replica keeps.
        let members: Vec<(String, f64)> = redis::cmd("ZREVRANGEBYSCORE")
            .arg(&link.names.revoked)
            .arg("+inf")
            .arg(now)
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(MAX_REVOKED)
            .query_async(&mut writer)
            .await?;
        Ok(members
            .into_iter()
            .filter_map(|(member, score)| Revocation::from_member(&member, score))
            .collect())
    }

    /// Writes the log outs kept while the store was away.
    async fn write_pending(&self, now: u64) -> RedisResult<()> {
        let pending = self
            .pending
            .lock()
            .map(|mut pending| std::mem::take(&mut *pending))
            .unwrap_or_default();
        for (index, revocation) in pending.iter().enumerate() {
            if let Err(error) = self.write(revocation, now).await {
                for unwritten in &pending[index..] {
                    self.keep_for_later(unwritten.clone());
                }
                return Err(error);
            }
        }
        Ok(())
    }

    fn keep_for_later(&self, revocation: Revocation) {
        if let Ok(mut pending) = self.pending.lock()
            && pending.len() < MAX_PENDING
        {
            pending.push(revocation);
        }
    }

    /// Records that the copy is complete as of now.
    fn confirm(&self) {
        self.confirmed
            .store(self.elapsed_ms() + 1, Ordering::Release);
        self.first_load_tried.store(true, Ordering::Release);
        self.mark_reachable();
    }

    fn mark_reachable(&self) {
        if !self.reachable.swap(true, Ordering::AcqRel) {
            tracing::warn!("session store reachable again");
        }
    }

    fn mark_unreachable(&self, reason: &str) {
        self.first_load_tried.store(true, Ordering::Release);
        if self.reachable.swap(false, Ordering::AcqRel) {
            tracing::warn!(
                %reason,
                max_staleness_seconds = self.link.load().settings.max_staleness.as_secs(),
                "session store unreachable: sessions are served from the local copy until it is too old, then answered with 503"
            );
        }
    }

    /// Whether the store answered last time.
    pub fn is_reachable(&self) -> bool {
        self.reachable.load(Ordering::Acquire)
    }

    fn elapsed_ms(&self) -> u64 {
        millis(self.started.elapsed())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
