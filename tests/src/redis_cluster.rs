//! A Redis Cluster of three primaries on 127.0.0.1 (Debian's
//! `redis-server` with `--cluster-enabled`, joined by `redis-cli --cluster
//! create`), for the session store on a cluster.

use crate::process::free_port;
use crate::redis::{Redis, RedisOptions};
use anyhow::{Context, Result, bail};
use portcullis_contract::session_store::{ClusterConfig, RedisStoreConfig, SessionStoreConfig};
use std::time::Duration;

/// Three primaries that share the 16384 slots; stopped on drop.
pub struct RedisCluster {
    /// The nodes, in the order they were started.
    pub nodes: Vec<Redis>,
}

impl RedisCluster {
    /// Starts three nodes, joins them, and waits until every node says the
    /// cluster is `ok`.
    pub async fn start() -> Result<Self> {
        let mut nodes = Vec::new();
        for _ in 0..3 {
            nodes.push(
                Redis::launch(RedisOptions {
                    extra: vec![
                        "--cluster-enabled".to_owned(),
                        "yes".to_owned(),
                        "--cluster-node-timeout".to_owned(),
                        "2000".to_owned(),
                        // The bus port defaults to the port + 10000, which
                        // lands in the kernel's range for outgoing
                        // connections: one took it once, and the node
                        // exited at start.
                        "--cluster-port".to_owned(),
                        free_port().to_string(),
                    ],
                    ..RedisOptions::default()
                })
                .await?,
            );
        }
        let mut create = vec!["--cluster".to_owned(), "create".to_owned()];
        create.extend(
            nodes
                .iter()
                .map(|node| format!("127.0.0.1:{}", node.port())),
        );
        create.extend(["--cluster-replicas", "0", "--cluster-yes"].map(String::from));
        let create: Vec<&str> = create.iter().map(String::as_str).collect();
        let created = tokio::process::Command::new("redis-cli")
            .args(&create)
            .output()
            .await
            .context("run redis-cli (`make store-deps` installs it)")?;
        anyhow::ensure!(
            created.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        let cluster = Self { nodes };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        for node in &cluster.nodes {
            while !node
                .command(&["CLUSTER", "INFO"])
                .await?
                .contains("cluster_state:ok")
            {
                if tokio::time::Instant::now() > deadline {
                    bail!("the cluster did not come up within 30 s");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(cluster)
    }

    /// A `session.store` section naming one node, `through`, only: the
    /// others are learned from it.
    pub fn store_config(
        through: &Redis,
        prefix: &str,
        max_staleness_seconds: u64,
    ) -> SessionStoreConfig {
        SessionStoreConfig {
            redis: RedisStoreConfig {
                url: String::new(),
                sentinel: None,
                cluster: Some(ClusterConfig {
                    addresses: vec![format!("127.0.0.1:{}", through.port())],
                }),
                username_file: None,
                password_file: None,
                tls: None,
                key_prefix: prefix.to_owned(),
            },
            max_staleness_seconds,
        }
    }

    /// The node that holds `key`'s slot (the one that answers for it
    /// rather than pointing elsewhere with `MOVED`), and another node.
    pub async fn node_holding(&self, key: &str) -> Result<(&Redis, &Redis)> {
        for (index, node) in self.nodes.iter().enumerate() {
            if node.command(&["EXISTS", key]).await?.starts_with(':') {
                return Ok((node, &self.nodes[(index + 1) % self.nodes.len()]));
            }
        }
        bail!("no node answers for {key}")
    }
}
