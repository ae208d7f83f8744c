//! The connection to the store for one set of settings: a reload with a new
//! password, address or prefix makes a new one.
//!
//! A store named by `url` is one server. A store named by `sentinel` is
//! whichever server the Sentinels call the primary now: it is asked for
//! when the sync loop connects, and forgotten when the loop finds the
//! server stepped down (a failover), so the next connect asks again. A
//! store named by `cluster` is a Redis Cluster: the cluster client routes
//! each key to its node and follows the cluster's own failovers, and the
//! subscription is held on one node (a cluster delivers every message to
//! every node), the next one in the list after a failure.
//! Request paths never wait for any of this: they use the connection
//! found, or count the store as away.

use super::StoreSetupError;
use super::settings::StoreSettings;
use super::wire::StoreNames;
use arc_swap::ArcSwapOption;
use portcullis_contract::session_store::StoreServers;
use portcullis_store_client::StoreClient;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::SentinelClient;
use redis::{Client, RedisFuture, RedisResult};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long one write or read may take before the store counts as away.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(1);

/// `call`, or a timeout error after [`STORE_TIMEOUT`]: every call to the
/// store is bounded by this one helper.
pub async fn within<T>(call: impl Future<Output = RedisResult<T>>) -> RedisResult<T> {
    tokio::time::timeout(STORE_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the session store did not answer in time",
            )))
        })
}

/// The store of one set of settings.
pub(crate) struct Link {
    pub(super) settings: StoreSettings,
    pub(super) names: StoreNames,
    target: Target,
    current: ArcSwapOption<Connection>,
}

/// How the servers are found.
enum Target {
    /// One address.
    Direct,
    /// The primary the Sentinels name.
    Sentinel(Box<tokio::sync::Mutex<SentinelClient>>),
    /// A Redis Cluster, and the node the next subscription is tried on.
    Cluster(Box<ClusterClient>, AtomicUsize),
}

/// A client of one server for the subscription, and the shared connection
/// that writes and reads.
pub(super) struct Connection {
    pub(super) subscriber: Client,
    pub(super) writer: Writer,
}

/// The shared connection: to one server, or to a whole cluster.
#[derive(Clone)]
pub(super) enum Writer {
    Server(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Writer {
    fn req_packed_command<'a>(
        &'a mut self,
        command: &'a redis::Cmd,
    ) -> RedisFuture<'a, redis::Value> {
        match self {
            Self::Server(server) => server.req_packed_command(command),
            Self::Cluster(cluster) => cluster.req_packed_command(command),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Self::Server(server) => server.req_packed_commands(pipeline, offset, count),
            Self::Cluster(cluster) => cluster.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(server) => server.get_db(),
            Self::Cluster(cluster) => cluster.get_db(),
        }
    }
}

impl Connection {
    /// Writes and subscribes through `client`, one server.
    fn of(client: Client) -> RedisResult<Self> {
        let writer = Writer::Server(client.get_connection_manager_lazy(manager_config())?);
        Ok(Self {
            subscriber: client,
            writer,
        })
    }
}

impl Link {
    pub(super) fn new(settings: &StoreSettings) -> Result<Self, StoreSetupError> {
        let (target, current) = match settings.access.client(STORE_TIMEOUT)? {
            StoreClient::Server(client) => {
                (Target::Direct, Some(Arc::new(Connection::of(client)?)))
            }
            StoreClient::Sentinel(client) => (
                Target::Sentinel(Box::new(tokio::sync::Mutex::new(client))),
                None,
            ),
            StoreClient::Cluster(client) => {
                (Target::Cluster(Box::new(client), AtomicUsize::new(0)), None)
            }
        };
        let redis = &settings.access.redis;
        let clustered = matches!(redis.servers(), StoreServers::Cluster(_));
        Ok(Self {
            settings: settings.clone(),
            names: StoreNames::under(&redis.key_prefix, clustered),
            target,
            current: ArcSwapOption::new(current),
        })
    }

    /// The connection to the store, asking the Sentinels for the primary,
    /// or the cluster for its nodes, when none is known.
    pub(super) async fn connect(&self) -> RedisResult<Arc<Connection>> {
        if let Some(current) = self.current.load_full() {
            return Ok(current);
        }
        let connection = match &self.target {
            Target::Direct => return Err(not_known()),
            Target::Sentinel(sentinel) => {
                Connection::of(sentinel.lock().await.async_get_client().await?)?
            }
            Target::Cluster(cluster, next_node) => {
                let writer = Writer::Cluster(cluster.get_async_connection().await?);
                let StoreServers::Cluster(nodes) = self.settings.access.redis.servers() else {
                    return Err(not_known());
                };
                let node = next_node.fetch_add(1, Ordering::Relaxed) % nodes.addresses.len().max(1);
                let address = nodes.addresses.get(node).ok_or_else(not_known)?;
                let subscriber = self.settings.access.node_client(address)?;
                Connection { subscriber, writer }
            }
        };
        let connection = Arc::new(connection);
        self.current.store(Some(Arc::clone(&connection)));
        Ok(connection)
    }

    /// The connection known now, without asking anyone.
    pub(super) fn connection(&self) -> RedisResult<Arc<Connection>> {
        self.current.load_full().ok_or_else(not_known)
    }

    /// Whether the server is found through Sentinels.
    pub(super) fn follows_sentinels(&self) -> bool {
        matches!(self.target, Target::Sentinel(_))
    }

    /// Forgets the connection found through Sentinels or a cluster, so the
    /// next connect asks again (and a cluster subscribes on the next node).
    pub(super) fn forget_found(&self) {
        if !matches!(self.target, Target::Direct) {
            self.current.store(None);
        }
    }
}

fn not_known() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "no server of the session store is known yet",
    ))
}

/// Connections to the store answer within [`STORE_TIMEOUT`] and reconnect
/// by themselves, a few quick tries at a time.
fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(STORE_TIMEOUT))
        .set_response_timeout(Some(STORE_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500))
}
