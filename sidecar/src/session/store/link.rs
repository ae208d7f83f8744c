//! Keeping a replica's log-out list in step with the store.
//!
//! Subscribe first, then load: a log out announced in between is caught by
//! the subscription, so nothing falls between the two. Before the load, the
//! replica writes its own copy back, so a store that came back empty
//! learns again what the replicas remember. After that the
//! channel feeds the list as log outs happen, and a full load every few
//! seconds (with a ping of the subscription) confirms the copy complete or
//! finds the connection gone. On any failure the link starts over after a
//! pause that grows to a few seconds, and at once on new settings (a
//! rotated password); no restart is ever needed.

use super::connection::{Connection, Link, within};
use super::wire::Revocation;
use super::{RevokedSessions, SessionStore};
use futures_util::StreamExt;
use redis::RedisResult;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The shortest pause between two full loads.
const MIN_RELOAD_EVERY: Duration = Duration::from_millis(200);
/// The longest pause between two full loads: the copy is confirmed at
/// least this often while the store answers.
const MAX_RELOAD_EVERY: Duration = Duration::from_secs(5);
/// The first pause after a failure, doubled up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(200);
/// The longest pause after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(3);

/// Follows the store for ever, feeding `revoked`.
pub async fn keep_in_sync(store: Arc<SessionStore>, revoked: Arc<RevokedSessions>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let relinked = store.relinked.notified();
        tokio::pin!(relinked);
        relinked.as_mut().enable();
        let link = store.link();
        let confirmed_before = store.last_confirmed();
        tokio::select! {
            error = follow(&store, &link, &revoked) => {
                link.forget_found();
                store.mark_unreachable(&error.to_string());
                if store.last_confirmed() != confirmed_before {
                    backoff = MIN_BACKOFF;
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = relinked => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            () = relinked.as_mut() => backoff = MIN_BACKOFF,
        }
    }
}

/// Subscribes, loads, and applies announcements until the link fails.
async fn follow(store: &SessionStore, link: &Link, revoked: &RevokedSessions) -> redis::RedisError {
    match follow_until_error(store, link, revoked).await {
        Ok(never) => match never {},
        Err(error) => error,
    }
}

async fn follow_until_error(
    store: &SessionStore,
    link: &Link,
    revoked: &RevokedSessions,
) -> RedisResult<std::convert::Infallible> {
    let connection = within(link.connect()).await?;
    let mut subscription = within(connection.subscriber.get_async_pubsub()).await?;
    within(subscription.subscribe(&link.names.channel)).await?;
    let (mut sink, mut messages) = subscription.split();
    within(store.write_pending(unix_now())).await?;
    within(store.write_back(&revoked.unexpired(unix_now()))).await?;
    load_all(store, revoked).await?;
    let every = (link.settings.max_staleness / 3).clamp(MIN_RELOAD_EVERY, MAX_RELOAD_EVERY);
    let mut reload = tokio::time::interval(every);
    reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    reload.tick().await;
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else {
                    return Err(dropped());
                };
                let text: String = message.get_payload().unwrap_or_default();
                if let Some(revocation) = Revocation::parse(&text) {
                    revoked.apply_all([&revocation], unix_now());
                }
            }
            _ = reload.tick() => {
                within(sink.ping::<redis::Value>()).await?;
                if link.follows_sentinels() {
                    within(still_primary(&connection)).await?;
                }
                within(store.write_pending(unix_now())).await?;
                load_all(store, revoked).await?;
            }
        }
    }
}

/// Fails once the server is no longer the primary (a failover made it a
/// replica): writes would be refused there.
async fn still_primary(connection: &Connection) -> RedisResult<()> {
    let mut writer = connection.writer.clone();
    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut writer).await?;
    match role.first() {
        Some(redis::Value::BulkString(name)) if name.as_slice() == b"master" => Ok(()),
        _ => Err(redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "the session store's server is no longer the primary",
        ))),
    }
}

/// Loads every log out the store holds into `revoked` and confirms the copy.
async fn load_all(store: &SessionStore, revoked: &RevokedSessions) -> RedisResult<()> {
    let now = unix_now();
    let loaded = within(store.load(now)).await?;
    revoked.apply_all(&loaded, now);
    store.confirm();
    Ok(())
}

fn dropped() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "the session store closed the subscription",
    ))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
