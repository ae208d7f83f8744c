//! A primary, a replica and a Sentinel (Debian's `redis-sentinel`) on
//! 127.0.0.1, for the session store's failover: the Sentinel is told to
//! fail over, and the replica becomes the primary. All three may speak TLS
//! only and want passwords (the servers one, the Sentinel its own).

use crate::certificate::TestCertificate;
use crate::process::free_port;
use crate::redis::{Redis, RedisOptions, cli};
use anyhow::{Context, Result, bail};
use portcullis_contract::session_store::{
    RedisStoreConfig, SentinelConfig, SessionStoreConfig, StoreTlsConfig,
};
use std::fmt::Write as _;
use std::sync::Arc;
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
    secured: Secured,
    _dir: tempfile::TempDir,
}

/// What the servers and the Sentinel of a set ask of their clients.
#[derive(Clone, Default)]
pub struct Secured {
    /// The servers' password.
    pub password: Option<String>,
    /// The Sentinel's own password.
    pub sentinel_password: Option<String>,
    /// The certificate all three speak TLS with, TLS only.
    pub tls: Option<Arc<TestCertificate>>,
}

impl SentinelSet {
    /// Starts the three, open, and waits until the Sentinel knows the replica.
    pub async fn start() -> Result<Self> {
        Self::start_secured(Secured::default()).await
    }

    /// Starts the three as `secured` says, and waits until the Sentinel
    /// knows the replica.
    pub async fn start_secured(secured: Secured) -> Result<Self> {
        let options = RedisOptions {
            password: secured.password.clone(),
            tls: secured.tls.clone(),
            extra: Vec::new(),
        };
        let first = Redis::launch(options.clone()).await?;
        let second = Redis::start_replica_of(first.port(), options).await?;
        let dir = tempfile::tempdir()?;
        let sentinel_port = free_port();
        let config = dir.path().join("sentinel.conf");
        let mut text = format!(
            "bind 127.0.0.1\ndir {}\n\
             sentinel monitor {MASTER_NAME} 127.0.0.1 {} 1\n\
             sentinel down-after-milliseconds {MASTER_NAME} 2000\n\
             sentinel failover-timeout {MASTER_NAME} 10000\n",
            dir.path().display(),
            first.port()
        );
        match &secured.tls {
            None => writeln!(text, "port {sentinel_port}")?,
            Some(tls) => writeln!(
                text,
                "port 0\ntls-port {sentinel_port}\ntls-cert-file {}\ntls-key-file {}\n\
                 tls-ca-cert-file {}\ntls-replication yes\ntls-auth-clients no",
                tls.file("server.pem").display(),
                tls.file("server.key").display(),
                tls.file("ca.pem").display()
            )?,
        }
        if let Some(password) = &secured.password {
            writeln!(text, "sentinel auth-pass {MASTER_NAME} {password}")?;
        }
        if let Some(password) = &secured.sentinel_password {
            writeln!(text, "requirepass {password}")?;
        }
        std::fs::write(&config, text)?;
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
            secured,
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

    /// A `session.store` section that finds the primary through the
    /// Sentinel, with TLS when the set speaks it; the files of passwords
    /// and CA are the caller's to write and name.
    pub fn store_config(&self, prefix: &str, max_staleness_seconds: u64) -> SessionStoreConfig {
        SessionStoreConfig {
            redis: RedisStoreConfig {
                url: String::new(),
                sentinel: Some(SentinelConfig {
                    master_name: MASTER_NAME.to_owned(),
                    addresses: vec![format!("127.0.0.1:{}", self.sentinel_port)],
                    password_file: None,
                }),
                cluster: None,
                username_file: None,
                password_file: None,
                tls: self.secured.tls.as_ref().map(|_| StoreTlsConfig::default()),
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
        cli(
            self.sentinel_port,
            self.secured.tls.as_deref(),
            self.secured.sentinel_password.as_deref(),
            args,
        )
        .await
    }
}

impl Drop for SentinelSet {
    fn drop(&mut self) {
        let _ = self.sentinel.start_kill();
    }
}
