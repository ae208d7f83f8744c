//! The `session.store` section: state shared by the replicas of one app.
//!
//! Absent means the cookie-only default: each replica keeps its own log-out
//! list and budgets, with nothing to run. Present, the replicas share the
//! log-out list through Redis, each reading a local copy so no request
//! waits on the store. Only hashes of session ids are written there, under
//! `keyPrefix`; a dump of the store opens nothing. The password (and a
//! username) come from files, never from the URL, so the config file holds
//! no secret.

use crate::problems::Problems;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use url::Url;

/// The default bound on how old the local copy may be while the store is
/// unreachable before sessions are answered with 503.
pub const DEFAULT_MAX_STALENESS_SECONDS: u64 = 60;
/// The longest bound accepted: beyond it a log out could be ignored too long.
pub const MAX_MAX_STALENESS_SECONDS: u64 = 3600;
/// The longest key prefix accepted.
pub const MAX_KEY_PREFIX_BYTES: usize = 128;
/// Sentinels or cluster nodes listed at most.
pub const MAX_ADDRESSES: usize = 16;

/// Where shared session state lives, and how stale it may be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionStoreConfig {
    /// The Redis server.
    pub redis: RedisStoreConfig,
    /// How long sessions are still served from the local copy while the
    /// store cannot be reached; after that they are answered with 503.
    #[serde(default = "default_max_staleness")]
    pub max_staleness_seconds: u64,
}

/// A Redis server (one address, the primary Sentinels name, or a Redis
/// Cluster) and how to log in to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedisStoreConfig {
    /// `redis://host:port/db`, or `rediss://` for TLS; no password in it.
    /// One of this, `sentinel` or `cluster`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// Sentinels that name the current primary; the sidecar follows a
    /// failover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel: Option<SentinelConfig>,
    /// Nodes of a Redis Cluster; the sidecar learns the others from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterConfig>,
    /// File holding the ACL username, if the server has users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_file: Option<PathBuf>,
    /// File holding the password (`requirepass` or the ACL user's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// TLS to every server (and Sentinel); with `url`, the `rediss://`
    /// scheme says the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<StoreTlsConfig>,
    /// Prefix of every key and channel, so apps can share one server.
    pub key_prefix: String,
}

/// Sentinels, and the name they know the primary by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SentinelConfig {
    /// The name the Sentinels monitor the primary under (`mymaster`).
    pub master_name: String,
    /// `host:port` of each Sentinel (26379 is Sentinel's port).
    pub addresses: Vec<String>,
    /// File holding the Sentinels' own password (`requirepass` in
    /// `sentinel.conf`), if they ask for one; the servers' is `passwordFile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
}

/// Some nodes of a Redis Cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterConfig {
    /// `host:port` of nodes to start from; one that answers is enough.
    pub addresses: Vec<String>,
}

/// How the servers' certificates are checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoreTlsConfig {
    /// PEM file of the CA that signed the servers' certificates; absent,
    /// the system's roots are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// Which servers the store is, once the section passed [`check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreServers<'a> {
    /// The one server at this URL.
    Url(&'a str),
    /// The primary these Sentinels name.
    Sentinel(&'a SentinelConfig),
    /// A Redis Cluster reached through these nodes.
    Cluster(&'a ClusterConfig),
}

impl RedisStoreConfig {
    /// How the servers are named: the first of `url`, `sentinel` and
    /// `cluster` given ([`check`] refuses more than one).
    pub fn servers(&self) -> StoreServers<'_> {
        match (&self.sentinel, &self.cluster) {
            _ if !self.url.is_empty() => StoreServers::Url(&self.url),
            (Some(sentinel), _) => StoreServers::Sentinel(sentinel),
            (None, Some(cluster)) => StoreServers::Cluster(cluster),
            (None, None) => StoreServers::Url(&self.url),
        }
    }

    /// Whether connections use TLS.
    pub fn uses_tls(&self) -> bool {
        self.tls.is_some() || self.url.starts_with("rediss://")
    }

    /// The CA file, if one is named.
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().and_then(|tls| tls.ca_file.as_deref())
    }

    /// The Sentinels' password file, if one is named.
    pub fn sentinel_password_file(&self) -> Option<&std::path::Path> {
        self.sentinel
            .as_ref()
            .and_then(|sentinel| sentinel.password_file.as_deref())
    }
}

fn default_max_staleness() -> u64 {
    DEFAULT_MAX_STALENESS_SECONDS
}

/// Checks the section; problems name the field as written in the file.
pub fn check(problems: &mut Problems, config: &SessionStoreConfig) {
    let redis = &config.redis;
    let named: Vec<&str> = [
        ("url", !redis.url.is_empty()),
        ("sentinel", redis.sentinel.is_some()),
        ("cluster", redis.cluster.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, given)| given.then_some(field))
    .collect();
    match named.as_slice() {
        [] => problems.push(
            "session.store.redis.url",
            "is required (or `sentinel`, or `cluster`)",
        ),
        [first, others @ ..] => {
            for other in others {
                problems.push(
                    &format!("session.store.redis.{other}"),
                    format!("cannot go with `{first}`: name the servers one way"),
                );
            }
        }
    }
    match redis.servers() {
        StoreServers::Url("") => {}
        StoreServers::Url(url) => check_url(problems, redis, url),
        StoreServers::Sentinel(sentinel) => check_sentinel(problems, sentinel),
        StoreServers::Cluster(cluster) => {
            check_addresses(problems, "session.store.redis.cluster", &cluster.addresses);
        }
    }
    for (field, file) in [
        (
            "session.store.redis.usernameFile",
            redis.username_file.as_deref(),
        ),
        (
            "session.store.redis.passwordFile",
            redis.password_file.as_deref(),
        ),
        ("session.store.redis.tls.caFile", redis.ca_file()),
        (
            "session.store.redis.sentinel.passwordFile",
            redis.sentinel_password_file(),
        ),
    ] {
        if file.is_some_and(|file| file.as_os_str().is_empty()) {
            problems.push(field, "must name a file");
        }
    }
    if let Err(why) = check_key_prefix(&redis.key_prefix) {
        problems.push("session.store.redis.keyPrefix", why);
    }
    if !(1..=MAX_MAX_STALENESS_SECONDS).contains(&config.max_staleness_seconds) {
        problems.push(
            "session.store.maxStalenessSeconds",
            format!("must be between 1 and {MAX_MAX_STALENESS_SECONDS}"),
        );
    }
}

/// Checks the URL's scheme, host and credentials, and that `tls` agrees
/// with the scheme.
fn check_url(problems: &mut Problems, redis: &RedisStoreConfig, url: &str) {
    const FIELD: &str = "session.store.redis.url";
    let url = match Url::parse(url) {
        Ok(url) => url,
        Err(error) => {
            problems.push(FIELD, format!("is not a URL: {error}"));
            return;
        }
    };
    match url.scheme() {
        "rediss" => {}
        "redis" if redis.tls.is_some() => problems.push(
            "session.store.redis.tls",
            "needs a `rediss://` URL: the scheme says whether the server speaks TLS",
        ),
        "redis" => {}
        other => problems.push(
            FIELD,
            format!("has the scheme `{other}`: use `redis://` or `rediss://`"),
        ),
    }
    if url.host_str().is_none_or(str::is_empty) {
        problems.push(FIELD, "names no host");
    }
    if url.password().is_some() || !url.username().is_empty() {
        problems.push(
            FIELD,
            "must not hold a username or password: use `usernameFile` and `passwordFile`",
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        problems.push(FIELD, "must not have a query or fragment");
    }
}

/// Checks the Sentinels' master name and addresses.
fn check_sentinel(problems: &mut Problems, sentinel: &SentinelConfig) {
    let name = &sentinel.master_name;
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte))
    {
        problems.push(
            "session.store.redis.sentinel.masterName",
            "must be 1 to 64 letters, digits, `-`, `_` or `.`",
        );
    }
    check_addresses(
        problems,
        "session.store.redis.sentinel",
        &sentinel.addresses,
    );
}

/// Checks the `addresses` list of `section`: 1 to [`MAX_ADDRESSES`], each
/// `host:port`.
fn check_addresses(problems: &mut Problems, section: &str, addresses: &[String]) {
    if addresses.is_empty() || addresses.len() > MAX_ADDRESSES {
        problems.push(
            &format!("{section}.addresses"),
            format!("must list 1 to {MAX_ADDRESSES} addresses"),
        );
    }
    for (index, address) in addresses.iter().enumerate() {
        if !is_host_and_port(address) {
            problems.push(
                &format!("{section}.addresses[{index}]"),
                "must be host:port",
            );
        }
    }
}

/// Whether `address` is exactly a host and a port.
fn is_host_and_port(address: &str) -> bool {
    let Ok(url) = Url::parse(&format!("redis://{address}")) else {
        return false;
    };
    url.host_str().is_some_and(|host| !host.is_empty())
        && url.port().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path().is_empty()
        && url.query().is_none()
        && url.fragment().is_none()
}

/// Why `prefix` cannot start the store's keys, if it cannot.
pub fn check_key_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("is required, so apps sharing a server keep apart".into());
    }
    if prefix.len() > MAX_KEY_PREFIX_BYTES {
        return Err(format!("must be at most {MAX_KEY_PREFIX_BYTES} bytes"));
    }
    if !prefix.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces".into());
    }
    if prefix.contains(['{', '}']) {
        return Err(
            "must not hold `{` or `}`: on a Redis Cluster the store wraps the prefix in braces to keep an app's keys together"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(url: &str, prefix: &str) -> SessionStoreConfig {
        SessionStoreConfig {
            redis: RedisStoreConfig {
                url: url.into(),
                sentinel: None,
                cluster: None,
                username_file: None,
                password_file: None,
                tls: None,
                key_prefix: prefix.into(),
            },
            max_staleness_seconds: DEFAULT_MAX_STALENESS_SECONDS,
        }
    }

    fn problems_of(config: &SessionStoreConfig) -> Problems {
        let mut problems = Problems::default();
        check(&mut problems, config);
        problems
    }

    #[test]
    fn a_plain_and_a_tls_server_pass() {
        for url in ["redis://127.0.0.1:6379/0", "rediss://redis.cache.svc:6380"] {
            assert!(problems_of(&store(url, "books:")).is_empty(), "{url}");
        }
    }

    #[test]
    fn each_bad_value_names_its_field() {
        let cases = [
            (store("http://redis:6379", "p:"), "session.store.redis.url"),
            (
                store("redis://:hunter2@redis:6379", "p:"),
                "session.store.redis.url",
            ),
            (
                store("redis://admin@redis:6379", "p:"),
                "session.store.redis.url",
            ),
            (store("not a url", "p:"), "session.store.redis.url"),
            (
                store("redis://redis:6379", ""),
                "session.store.redis.keyPrefix",
            ),
            (
                store("redis://redis:6379", "a b"),
                "session.store.redis.keyPrefix",
            ),
            (
                store("redis://redis:6379", "a\u{a0}b"),
                "session.store.redis.keyPrefix",
            ),
            (
                store("redis://redis:6379", "p\n"),
                "session.store.redis.keyPrefix",
            ),
            (
                store("redis://redis:6379", &"p".repeat(MAX_KEY_PREFIX_BYTES + 1)),
                "session.store.redis.keyPrefix",
            ),
        ];
        for (config, field) in cases {
            let problems = problems_of(&config);
            assert!(
                problems.mentions(field),
                "{config:?}: {}",
                problems.one_line()
            );
        }
    }

    #[test]
    fn sentinels_or_a_url_and_never_both() {
        let mut config = store("", "p:");
        assert!(problems_of(&config).mentions("session.store.redis.url"));
        config.redis.sentinel = Some(SentinelConfig {
            master_name: "mymaster".into(),
            addresses: vec!["sentinel-0.cache:26379".into(), "10.0.0.7:26379".into()],
            password_file: None,
        });
        assert!(
            problems_of(&config).is_empty(),
            "{}",
            problems_of(&config).one_line()
        );
        config.redis.url = "redis://redis:6379".into();
        assert!(problems_of(&config).mentions("session.store.redis.sentinel"));
        config.redis.url.clear();
        for (bad, field) in [
            (
                vec!["sentinel:26379/0".to_owned()],
                "session.store.redis.sentinel.addresses[0]",
            ),
            (
                vec!["no-port".to_owned()],
                "session.store.redis.sentinel.addresses[0]",
            ),
            (
                vec!["u:p@s:26379".to_owned()],
                "session.store.redis.sentinel.addresses[0]",
            ),
            (Vec::new(), "session.store.redis.sentinel.addresses"),
        ] {
            if let Some(sentinel) = &mut config.redis.sentinel {
                sentinel.addresses = bad;
            }
            assert!(problems_of(&config).mentions(field), "{field}");
        }
        if let Some(sentinel) = &mut config.redis.sentinel {
            sentinel.addresses = vec!["s:26379".into()];
            sentinel.master_name = "my master".into();
        }
        assert!(problems_of(&config).mentions("session.store.redis.sentinel.masterName"));
    }

    #[test]
    fn a_cluster_is_named_by_its_nodes_alone() {
        let mut config = store("", "p:");
        config.redis.cluster = Some(ClusterConfig {
            addresses: vec!["redis-0.cache:6379".into(), "10.0.0.8:6379".into()],
        });
        assert!(
            problems_of(&config).is_empty(),
            "{}",
            problems_of(&config).one_line()
        );
        assert!(matches!(config.redis.servers(), StoreServers::Cluster(_)));
        config.redis.url = "redis://redis:6379".into();
        assert!(problems_of(&config).mentions("session.store.redis.cluster"));
        config.redis.url.clear();
        config.redis.sentinel = Some(SentinelConfig {
            master_name: "mymaster".into(),
            addresses: vec!["s:26379".into()],
            password_file: None,
        });
        assert!(problems_of(&config).mentions("session.store.redis.cluster"));
        config.redis.sentinel = None;
        config.redis.cluster = Some(ClusterConfig {
            addresses: vec!["no-port".into()],
        });
        assert!(problems_of(&config).mentions("session.store.redis.cluster.addresses[0]"));
        config.redis.cluster = Some(ClusterConfig {
            addresses: Vec::new(),
        });
        assert!(problems_of(&config).mentions("session.store.redis.cluster.addresses"));
    }

    #[test]
    fn braces_in_the_prefix_are_refused() {
        for prefix in ["{books}:", "books}:"] {
            let config = store("redis://redis:6379", prefix);
            assert!(problems_of(&config).mentions("session.store.redis.keyPrefix"));
        }
    }

    #[test]
    fn tls_must_agree_with_the_scheme_and_staleness_is_bounded() {
        let mut config = store("redis://redis:6379", "p:");
        assert!(!config.redis.uses_tls());
        config.redis.tls = Some(StoreTlsConfig {
            ca_file: Some("/ca.pem".into()),
        });
        assert!(problems_of(&config).mentions("session.store.redis.tls"));
        config.redis.url = "rediss://redis:6379".into();
        assert!(problems_of(&config).is_empty());
        assert!(config.redis.uses_tls());
        config.redis.tls = Some(StoreTlsConfig {
            ca_file: Some("".into()),
        });
        assert!(problems_of(&config).mentions("session.store.redis.tls.caFile"));
        config.redis.tls = None;
        assert!(config.redis.uses_tls());
        for bad in [0, MAX_MAX_STALENESS_SECONDS + 1] {
            config.max_staleness_seconds = bad;
            assert!(problems_of(&config).mentions("session.store.maxStalenessSeconds"));
        }
    }

    #[test]
    fn the_section_reads_from_yaml_with_defaults() {
        let yaml = "redis:\n  url: redis://127.0.0.1:6379\n  keyPrefix: 'books:'\n  passwordFile: /etc/portcullis/redis-password\n";
        let config: SessionStoreConfig = serde_yaml::from_str(yaml).expect("parses");
        assert_eq!(config.max_staleness_seconds, DEFAULT_MAX_STALENESS_SECONDS);
        assert_eq!(
            config.redis.password_file.as_deref(),
            Some(std::path::Path::new("/etc/portcullis/redis-password"))
        );
    }
}
