//! A primary, a replica and a Sentinel (Debian's `redis-sentinel`) on
//! 127.0.0.1, for the session store's failover: the Sentinel is told to
//! fail over, and the replica becomes the primary.

use crate::process::free_port;
use crate::redis::Redis;
use anyhow::{Context, Result, bail};
use portcullis_contract::session_store::{RedisStoreConfig, SentinelConfig, SessionStoreConfig};
use std::time::Duration;
use tokio::process::{Child, Command};

/// The name the Sentinel monitors the primary under.
pub const MASTER_NAME: &str = "portcullis-test";

/// A primary, its replica and one Sentinel watching them; stopped on drop.
pub struct SentinelSet {
    /// The server that starts as the primary.
    pub first: Redis,
    /// The server that starts as its replica.
    pub second: Redis,
    sentinel: Child,
    sentinel_port: u16,
    _dir: tempfile::TempDir,
}

impl SentinelSet {
    /// Starts the three and waits until the Sentinel knows the replica.
    pub async fn start() -> Result<Self> {
        let first = Redis::start().await?;
        let second = Redis::start_replica_of(first.port()).await?;
        let dir = tempfile::tempdir()?;
        let sentinel_port = free_port();
        let config = dir.path().join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {sentinel_port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor {MASTER_NAME} 127.0.0.1 {} 1\n\
                 sentinel down-after-milliseconds {MASTER_NAME} 2000\n\
                 sentinel failover-timeout {MASTER_NAME} 10000\n",
                dir.path().display(),
                first.port()
            ),
        )?;
        let sentinel = Command::new("redis-sentinel")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("start redis-sentinel (`make store-deps` installs it)")?;
        let set = Self {
            first,
            second,
            sentinel,
            sentinel_port,
            _dir: dir,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !set
            .second
            .command(&["INFO", "replication"])
            .await?
            .contains("master_link_status:up")
        {
            if tokio::time::Instant::now() > deadline {
                bail!("the replica did not sync with the primary within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        set.until(
            Duration::from_secs(30),
            "the Sentinel sees the replica",
            |reply| reply.contains(&format!("{}", set.second.port())),
            &["SENTINEL", "REPLICAS", MASTER_NAME],
        )
        .await?;
        Ok(set)
    }

    /// A `session.store` section that finds the primary through the Sentinel.
    pub fn store_config(&self, prefix: &str, max_staleness_seconds: u64) -> SessionStoreConfig {
        SessionStoreConfig {
            redis: RedisStoreConfig {
                url: String::new(),
                sentinel: Some(SentinelConfig {
                    master_name: MASTER_NAME.to_owned(),
                    addresses: vec![format!("127.0.0.1:{}", self.sentinel_port)],
                }),
                username_file: None,
                password_file: None,
                ca_file: None,
                key_prefix: prefix.to_owned(),
            },
            max_staleness_seconds,
        }
    }

    /// The port of the server the Sentinel names the primary now.
    pub async fn primary_port(&self) -> Result<u16> {
        let reply = self
            .ask(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME])
            .await?;
        reply
            .lines()
            .filter_map(|line| line.parse::<u16>().ok())
            .next()
            .with_context(|| format!("no port in {reply:?}"))
    }

    /// Tells the Sentinel to fail over, and waits until it names the
    /// replica as the primary.
    pub async fn fail_over(&self) -> Result<()> {
        let reply = self.ask(&["SENTINEL", "FAILOVER", MASTER_NAME]).await?;
        anyhow::ensure!(reply.trim() == "OK", "SENTINEL FAILOVER: {reply}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if self.primary_port().await? == self.second.port() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("the Sentinel did not promote the replica within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn until(
        &self,
        limit: Duration,
        what: &str,
        accept: impl Fn(&str) -> bool,
        args: &[&str],
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Ok(reply) = self.ask(args).await
                && accept(&reply)
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("timed out after {limit:?} waiting until {what}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl SentinelSet {
    /// Asks the Sentinel with `redis-cli` (the Sentinel knows no `QUIT`, so
    /// a raw connection would not end): its answer as text.
    async fn ask(&self, args: &[&str]) -> Result<String> {
        let output = tokio::time::timeout(
            Duration::from_secs(5),
            Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &self.sentinel_port.to_string()])
                .args(args)
                .output(),
        )
        .await
        .context("redis-cli answered within 5 s")?
        .context("run redis-cli (`make store-deps` installs it)")?;
        anyhow::ensure!(
            output.status.success(),
            "redis-cli {args:?}: {}",
            output.status
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl Drop for SentinelSet {
    fn drop(&mut self) {
        let _ = self.sentinel.start_kill();
    }
}
