//! The Redis clients of the session store, built from the config file's
//! `session.store.redis` section and the secrets it names.
//!
//! The sidecar connects through these clients and the operator probes
//! through them, so what the operator's status says about a store is what
//! every sidecar will meet: the same address, credentials, TLS and CA. How
//! long to wait and what to do with a connection stays with each caller.

use portcullis_contract::secret::Secret;
use portcullis_contract::session_store::{RedisStoreConfig, SentinelConfig, StoreServers};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo, RedisResult,
    TlsCertificates, TlsMode,
};
use std::time::Duration;

/// The store's section with the secrets its files hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreAccess {
    /// The section as written: the servers, TLS and the key prefix.
    pub redis: RedisStoreConfig,
    /// The ACL username, if any.
    pub username: Option<Secret>,
    /// The servers' password, if any.
    pub password: Option<Secret>,
    /// The Sentinels' own password, if they ask for one.
    pub sentinel_password: Option<Secret>,
    /// The CA's PEM, when not the system's roots.
    pub ca_pem: Option<String>,
}

/// A client of the store, not yet connected.
pub enum StoreClient {
    /// The one server the URL names.
    Server(Client),
    /// The Sentinels, which name the primary when asked.
    Sentinel(SentinelClient),
    /// A Redis Cluster.
    Cluster(ClusterClient),
}

impl StoreAccess {
    /// The client of the servers, each call waiting at most `timeout` for
    /// a cluster node; nothing is connected here.
    pub fn client(&self, timeout: Duration) -> RedisResult<StoreClient> {
        Ok(match self.redis.servers() {
            StoreServers::Url(url) => {
                StoreClient::Server(self.server_client(url.into_connection_info()?)?)
            }
            StoreServers::Sentinel(sentinel) => {
                StoreClient::Sentinel(self.sentinel_client(sentinel)?)
            }
            StoreServers::Cluster(cluster) => {
                StoreClient::Cluster(self.cluster_client(&cluster.addresses, timeout)?)
            }
        })
    }

    /// The client of the one node at `address` (`host:port`) of a cluster.
    pub fn node_client(&self, address: &str) -> RedisResult<Client> {
        self.server_client(self.node_info(address)?)
    }

    /// The servers in words, for status and logs (no secret in it).
    pub fn describe(&self) -> String {
        match self.redis.servers() {
            StoreServers::Url(url) => url.to_owned(),
            StoreServers::Sentinel(sentinel) => format!(
                "the primary `{}` of the Sentinels {}",
                sentinel.master_name,
                sentinel.addresses.join(", ")
            ),
            StoreServers::Cluster(cluster) => {
                format!("the Redis Cluster of {}", cluster.addresses.join(", "))
            }
        }
    }

    /// A client of the one server `info` names, with the credentials and CA.
    fn server_client(&self, info: ConnectionInfo) -> RedisResult<Client> {
        let redis = self.credentials(info.redis_settings().clone());
        let info = info.set_redis_settings(redis);
        match self.certificates() {
            Some(certificates) => Client::build_with_tls(info, certificates),
            None => Client::open(info),
        }
    }

    /// The client of the Sentinels, which names the primary and logs in to it.
    fn sentinel_client(&self, sentinel: &SentinelConfig) -> RedisResult<SentinelClient> {
        let addresses = sentinel
            .addresses
            .iter()
            .map(|address| Ok(self.node_info(address)?.addr().clone()))
            .collect::<RedisResult<Vec<ConnectionAddr>>>()?;
        let mut builder = SentinelClientBuilder::new(
            addresses,
            &sentinel.master_name,
            SentinelServerType::Master,
        )?;
        if let Some(username) = &self.username {
            builder = builder.set_client_to_redis_username(username.expose());
        }
        if let Some(password) = &self.password {
            builder = builder.set_client_to_redis_password(password.expose());
        }
        if let Some(password) = &self.sentinel_password {
            builder = builder.set_client_to_sentinel_password(password.expose());
        }
        if self.redis.uses_tls() {
            builder = builder
                .set_client_to_redis_tls_mode(TlsMode::Secure)
                .set_client_to_sentinel_tls_mode(TlsMode::Secure);
        }
        if let Some(certificates) = self.certificates() {
            builder = builder
                .set_client_to_redis_certificates(certificates.clone())
                .set_client_to_sentinel_certificates(certificates);
        }
        builder.build()
    }

    /// The client of the cluster the `nodes` belong to.
    fn cluster_client(&self, nodes: &[String], timeout: Duration) -> RedisResult<ClusterClient> {
        let nodes = nodes
            .iter()
            .map(|address| self.node_info(address))
            .collect::<RedisResult<Vec<_>>>()?;
        let mut builder = ClusterClientBuilder::new(nodes)
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .retries(1);
        if let Some(username) = &self.username {
            builder = builder.username(username.expose());
        }
        if let Some(password) = &self.password {
            builder = builder.password(password.expose());
        }
        if let Some(certificates) = self.certificates() {
            builder = builder.certs(certificates);
        }
        builder.build()
    }

    /// The address `host:port` as a connection, over TLS when the section
    /// asks for it.
    fn node_info(&self, address: &str) -> RedisResult<ConnectionInfo> {
        let scheme = if self.redis.uses_tls() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://{address}").into_connection_info()
    }

    /// The CA, when one is named.
    fn certificates(&self) -> Option<TlsCertificates> {
        self.ca_pem.as_ref().map(|pem| TlsCertificates {
            client_tls: None,
            root_cert: Some(pem.as_bytes().to_vec()),
        })
    }

    /// `redis` with the username and password.
    fn credentials(&self, mut redis: RedisConnectionInfo) -> RedisConnectionInfo {
        if let Some(username) = &self.username {
            redis = redis.set_username(username.expose());
        }
        if let Some(password) = &self.password {
            redis = redis.set_password(password.expose());
        }
        redis
    }
}
