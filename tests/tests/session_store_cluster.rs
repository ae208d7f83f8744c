//! The session store on a Redis Cluster of three primaries: the sidecars
//! are given one node, not the one that holds the app's slot, and learn
//! the others; they share log outs and backup-login
//! budgets through the node that holds the app's slot, and ride out that
//! node stopping as they ride out a single server's outage.

use anyhow::Result;
use portcullis_e2e::redis_cluster::RedisCluster;
use portcullis_e2e::store_replicas::{
    log_out_reaches_all, me, replicas_over, until_status, wrong_backup_logins,
};
use portcullis_sidecar::access::roles::Role;
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use std::time::{Duration, Instant};

#[tokio::test]
async fn three_replicas_share_log_outs_and_budgets_through_a_cluster() -> Result<()> {
    let cluster = RedisCluster::start().await?;
    let (holder, other_node) = cluster.node_holding("{media/books:}revoked").await?;
    let store = RedisCluster::store_config(other_node, "media/books:", 60);
    let (first, others) = replicas_over(3, &store).await?;
    let replicas = [&first.sidecar, &others[0], &others[1]];
    let cookie = first.session_cookie("alice", Role::Trusted, 3600)?;
    for replica in replicas {
        assert_eq!(me(replica, &cookie).await?.status(), StatusCode::OK);
    }
    let slowest = log_out_reaches_all(&others[1], &cookie, &replicas).await?;
    eprintln!("a log out reached all three replicas through the cluster in {slowest:?}");
    assert!(slowest < Duration::from_secs(1), "took {slowest:?}");

    let answers = wrong_backup_logins(&replicas, 7).await?;
    assert_eq!(
        answers,
        [401, 401, 401, 401, 401, 429, 429],
        "one budget across the replicas: both buckets of the script share a slot"
    );

    let held = holder.command(&["ZCARD", "{media/books:}revoked"]).await?;
    assert!(held.starts_with(":1\r\n"), "{held}");
    let budgets = holder.command(&["KEYS", "{media/books:}backup:*"]).await?;
    assert!(
        budgets.contains("{media/books:}backup:overall"),
        "{budgets}"
    );
    Ok(())
}

#[tokio::test]
async fn the_node_holding_the_slot_stopped_serves_within_the_bound_then_503_and_recovers()
-> Result<()> {
    let cluster = RedisCluster::start().await?;
    let (holder, other_node) = cluster.node_holding("{outage:}revoked").await?;
    let store = RedisCluster::store_config(other_node, "outage:", 3);
    let (first, others) = replicas_over(2, &store).await?;
    let cookie = first.session_cookie("alice", Role::Trusted, 3600)?;
    let leaving = first.session_cookie("carol", Role::Trusted, 3600)?;

    holder.pause()?;
    let paused = Instant::now();
    assert_eq!(
        me(&first.sidecar, &cookie).await?.status(),
        StatusCode::OK,
        "within the bound the local copy serves"
    );
    until_status(
        &first.sidecar,
        &cookie,
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(30),
    )
    .await?;
    eprintln!(
        "sessions were served for {:?} after the node stopped (bound 3 s)",
        paused.elapsed()
    );
    let refused = me(&first.sidecar, &cookie).await?;
    assert!(
        refused.headers().get(SET_COOKIE).is_none(),
        "no cookie is cleared because the store failed"
    );
    assert_eq!(
        portcullis_e2e::guarded::Guarded::log_out_at(&first.sidecar, &leaving).await?,
        StatusCode::SEE_OTHER,
        "a log out during the outage is kept for later"
    );

    holder.resume()?;
    until_status(
        &first.sidecar,
        &cookie,
        StatusCode::OK,
        Duration::from_secs(30),
    )
    .await?;
    until_status(
        &others[0],
        &leaving,
        StatusCode::UNAUTHORIZED,
        Duration::from_secs(30),
    )
    .await?;
    eprintln!(
        "recovered, and the log out kept during the outage reached the other replica, {:?} after the stop",
        paused.elapsed()
    );
    Ok(())
}
