//! `spec.sessionStore` of `OidcSettings`: the Redis server the sidecars of
//! one app share their log-out list and backup-login budgets through, for
//! apps that run more than one replica.
//!
//! The password, username and CA are referenced from Secrets; the operator
//! copies them into the generated Secret the sidecar mounts, so the config
//! file holds only paths. The schema repeats the contract's bounds
//! (`portcullis_contract::session_store`) for early `kubectl apply` errors;
//! the contract's check is the one that decides.

use crate::crd_refs::SecretKeyRef;
use crate::names::{
    STORE_CA_KEY, STORE_PASSWORD_KEY, STORE_SENTINEL_PASSWORD_KEY, STORE_USERNAME_KEY, secret_path,
};
use kube::KubeSchema;
use portcullis_contract::session_store::{
    ClusterConfig, DEFAULT_MAX_STALENESS_SECONDS, RedisStoreConfig, SentinelConfig,
    SessionStoreConfig, StoreTlsConfig,
};
use serde::{Deserialize, Serialize};

/// Share session state between replicas through Redis.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SessionStoreSpec {
    /// The Redis server.
    pub redis: RedisStoreSpec,
    /// Seconds sessions are still served from each replica's copy of the
    /// log-out list while Redis cannot be reached (default 60); after that
    /// they are answered with 503 until it is back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub max_staleness_seconds: Option<i64>,
}

/// A Redis server (one address, the primary Sentinels name, or a Redis
/// Cluster) and the Secrets that log in to it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.url), has(self.sentinel), has(self.cluster)].filter(given, given).size() == 1")
    .message("name the servers by url, by sentinel or by cluster, one of the three"))]
#[x_kube(validation = Rule::new("!has(self.tls) || !has(self.url) || self.url.startsWith('rediss://')")
    .message("tls needs a rediss:// url"))]
pub struct RedisStoreSpec {
    /// `redis://host:port/db`, or `rediss://` for TLS; no password in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^rediss?://[^@/?#]+(/[0-9]*)?$')")
        .message("must be redis://host:port/db or rediss://host:port/db, without a password"))]
    #[schemars(length(min = 1, max = 2048))]
    pub url: Option<String>,
    /// Sentinels that name the current primary (the sidecars follow a failover).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel: Option<SentinelSpec>,
    /// Nodes of a Redis Cluster (the sidecars learn the others from them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterSpec>,
    /// The ACL username, if the server has users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_secret_ref: Option<SecretKeyRef>,
    /// The password (`requirepass`, or the ACL user's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,
    /// TLS to every server and Sentinel (with `url`, `rediss://` says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<StoreTlsSpec>,
    /// Prefix of every key and channel (default
    /// `portcullis:<namespace>/<name>:`), so apps can share one server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[!-~]+$"))]
    pub key_prefix: Option<String>,
}

/// Sentinels, and the name they know the primary by.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SentinelSpec {
    /// The name the Sentinels monitor the primary under.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9._-]+$"))]
    pub master_name: String,
    /// `host:port` of each Sentinel, e.g. `redis-sentinel.cache.svc:26379`.
    #[schemars(length(min = 1, max = 16), inner(length(min = 3, max = 512)))]
    pub addresses: Vec<String>,
    /// The Sentinels' own password, if they ask for one (the servers' is
    /// `passwordSecretRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,
}

/// Some nodes of a Redis Cluster.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// `host:port` of nodes to start from, e.g. `redis-cluster.cache.svc:6379`.
    #[schemars(length(min = 1, max = 16), inner(length(min = 3, max = 512)))]
    pub addresses: Vec<String>,
}

/// How the servers' certificates are checked.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StoreTlsSpec {
    /// The PEM of the CA that signed the servers' certificates; absent:
    /// the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<SecretKeyRef>,
}

impl SessionStoreSpec {
    /// The config file's section for the `OidcSettings` `namespace/name`.
    pub fn to_config(&self, namespace: &str, name: &str) -> SessionStoreConfig {
        let redis = &self.redis;
        let file = |reference: &Option<SecretKeyRef>, key: &str| {
            reference.as_ref().map(|_| secret_path(key).into())
        };
        SessionStoreConfig {
            redis: RedisStoreConfig {
                url: redis.url.clone().unwrap_or_default(),
                sentinel: redis.sentinel.as_ref().map(|sentinel| SentinelConfig {
                    master_name: sentinel.master_name.clone(),
                    addresses: sentinel.addresses.clone(),
                    password_file: file(&sentinel.password_secret_ref, STORE_SENTINEL_PASSWORD_KEY),
                }),
                cluster: redis.cluster.as_ref().map(|cluster| ClusterConfig {
                    addresses: cluster.addresses.clone(),
                }),
                username_file: file(&redis.username_secret_ref, STORE_USERNAME_KEY),
                password_file: file(&redis.password_secret_ref, STORE_PASSWORD_KEY),
                tls: redis.tls.as_ref().map(|tls| StoreTlsConfig {
                    ca_file: file(&tls.ca_secret_ref, STORE_CA_KEY),
                }),
                key_prefix: redis
                    .key_prefix
                    .clone()
                    .unwrap_or_else(|| format!("portcullis:{namespace}/{name}:")),
            },
            // A value outside the schema's range becomes 0, which the
            // contract's check names.
            max_staleness_seconds: self
                .max_staleness_seconds
                .map_or(DEFAULT_MAX_STALENESS_SECONDS, |seconds| {
                    u64::try_from(seconds).unwrap_or(0)
                }),
        }
    }

    /// The references to read, each with the spec field that names it.
    pub fn references(&self) -> Vec<(&'static str, &SecretKeyRef, &'static str)> {
        let redis = &self.redis;
        [
            (
                "sessionStore.redis.usernameSecretRef",
                redis.username_secret_ref.as_ref(),
                STORE_USERNAME_KEY,
            ),
            (
                "sessionStore.redis.passwordSecretRef",
                redis.password_secret_ref.as_ref(),
                STORE_PASSWORD_KEY,
            ),
            (
                "sessionStore.redis.sentinel.passwordSecretRef",
                redis
                    .sentinel
                    .as_ref()
                    .and_then(|sentinel| sentinel.password_secret_ref.as_ref()),
                STORE_SENTINEL_PASSWORD_KEY,
            ),
            (
                "sessionStore.redis.tls.caSecretRef",
                redis
                    .tls
                    .as_ref()
                    .and_then(|tls| tls.ca_secret_ref.as_ref()),
                STORE_CA_KEY,
            ),
        ]
        .into_iter()
        .filter_map(|(field, reference, key)| reference.map(|r| (field, r, key)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> SessionStoreSpec {
        serde_yaml::from_str(yaml).expect("parses")
    }

    #[test]
    fn the_section_renders_mounted_files_and_a_prefix_per_resource() {
        let store = spec(
            "redis:\n  url: redis://redis.cache:6379/0\n  passwordSecretRef: {name: redis, key: password}\n",
        );
        let config = store.to_config("media", "books");
        assert_eq!(config.redis.key_prefix, "portcullis:media/books:");
        assert_eq!(config.max_staleness_seconds, DEFAULT_MAX_STALENESS_SECONDS);
        assert_eq!(
            config.redis.password_file.as_deref(),
            Some(std::path::Path::new(&secret_path(STORE_PASSWORD_KEY)))
        );
        assert_eq!(config.redis.username_file, None);
        assert_eq!(config.redis.tls, None);
        let fields: Vec<_> = store
            .references()
            .into_iter()
            .map(|(field, ..)| field)
            .collect();
        assert_eq!(fields, ["sessionStore.redis.passwordSecretRef"]);
    }

    #[test]
    fn sentinels_render_in_place_of_a_url() {
        let store = spec(
            "redis:\n  sentinel: {masterName: mymaster, addresses: ['sentinel.cache:26379']}\n",
        );
        let config = store.to_config("media", "books");
        assert_eq!(config.redis.url, "");
        let sentinel = config.redis.sentinel.as_ref().expect("sentinels");
        assert_eq!(sentinel.master_name, "mymaster");
        let mut problems = portcullis_contract::problems::Problems::default();
        portcullis_contract::session_store::check(&mut problems, &config);
        assert!(problems.is_empty(), "{}", problems.one_line());
    }

    #[test]
    fn a_cluster_with_tls_and_a_sentinel_password_render_their_files() {
        let store = spec(
            "redis:\n  cluster: {addresses: ['redis-cluster.cache:6379']}\n  tls: {caSecretRef: {name: redis-ca, key: ca.crt}}\n",
        );
        let config = store.to_config("media", "books");
        assert_eq!(
            config.redis.ca_file(),
            Some(std::path::Path::new(&secret_path(STORE_CA_KEY)))
        );
        assert!(config.redis.uses_tls());
        let mut problems = portcullis_contract::problems::Problems::default();
        portcullis_contract::session_store::check(&mut problems, &config);
        assert!(problems.is_empty(), "{}", problems.one_line());
        let store = spec(
            "redis:\n  sentinel: {masterName: m, addresses: ['s:26379'], passwordSecretRef: {name: s, key: p}}\n",
        );
        let fields: Vec<_> = store
            .references()
            .into_iter()
            .map(|(field, ..)| field)
            .collect();
        assert_eq!(fields, ["sessionStore.redis.sentinel.passwordSecretRef"]);
        assert_eq!(
            store
                .to_config("media", "books")
                .redis
                .sentinel_password_file(),
            Some(std::path::Path::new(&secret_path(
                STORE_SENTINEL_PASSWORD_KEY
            )))
        );
    }

    #[test]
    fn an_out_of_range_staleness_is_left_for_the_contract_to_name() {
        let store = spec("redis: {url: 'redis://r:6379'}\nmaxStalenessSeconds: -5\n");
        let config = store.to_config("media", "books");
        assert_eq!(config.max_staleness_seconds, 0);
        let mut problems = portcullis_contract::problems::Problems::default();
        portcullis_contract::session_store::check(&mut problems, &config);
        assert!(problems.mentions("session.store.maxStalenessSeconds"));
    }
}
