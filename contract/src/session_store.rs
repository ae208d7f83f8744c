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

/// A Redis server (one address, or a primary found through Sentinel) and
/// how to log in to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedisStoreConfig {
    /// `redis://host:port/db`, or `rediss://` for TLS; no password in it.
    /// Either this or `sentinel`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// Sentinels that name the current primary; the sidecar follows a
    /// failover. Either this or `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel: Option<SentinelConfig>,
    /// File holding the ACL username, if the server has users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_file: Option<PathBuf>,
    /// File holding the password (`requirepass` or the ACL user's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA that signed the server's certificate (`rediss://`
    /// only); absent, the system's roots are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
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
}

/// Sentinels listed at most.
pub const MAX_SENTINELS: usize = 16;

fn default_max_staleness() -> u64 {
    DEFAULT_MAX_STALENESS_SECONDS
}

/// Checks the section; problems name the field as written in the file.
pub fn check(problems: &mut Problems, config: &SessionStoreConfig) {
    let redis = &config.redis;
    let tls = match (redis.url.is_empty(), &redis.sentinel) {
        (true, None) => {
            problems.push("session.store.redis.url", "is required (or `sentinel`)");
            None
        }
        (false, Some(_)) => {
            problems.push(
                "session.store.redis.sentinel",
                "cannot go with `url`: name the server one way",
            );
            None
        }
        (true, Some(sentinel)) => {
            check_sentinel(problems, sentinel);
            Some(false)
        }
        (false, None) => match Url::parse(&redis.url) {
            Err(error) => {
                problems.push("session.store.redis.url", format!("is not a URL: {error}"));
                None
            }
            Ok(url) => check_url(problems, &url),
        },
    };
    if redis.ca_file.is_some() && tls == Some(false) {
        problems.push(
            "session.store.redis.caFile",
            "needs a `rediss://` URL: a CA is only used with TLS (not yet through Sentinel)",
        );
    }
    for (field, file) in [
        ("session.store.redis.usernameFile", &redis.username_file),
        ("session.store.redis.passwordFile", &redis.password_file),
        ("session.store.redis.caFile", &redis.ca_file),
    ] {
        if file
            .as_ref()
            .is_some_and(|file| file.as_os_str().is_empty())
        {
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

/// Checks the URL's scheme, host and credentials; says whether it asks for TLS.
fn check_url(problems: &mut Problems, url: &Url) -> Option<bool> {
    const FIELD: &str = "session.store.redis.url";
    let tls = match url.scheme() {
        "redis" => false,
        "rediss" => true,
        other => {
            problems.push(
                FIELD,
                format!("has the scheme `{other}`: use `redis://` or `rediss://`"),
            );
            return None;
        }
    };
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
    Some(tls)
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
    if sentinel.addresses.is_empty() || sentinel.addresses.len() > MAX_SENTINELS {
        problems.push(
            "session.store.redis.sentinel.addresses",
            format!("must list 1 to {MAX_SENTINELS} Sentinels"),
        );
    }
    for (index, address) in sentinel.addresses.iter().enumerate() {
        if !is_host_and_port(address) {
            problems.push(
                &format!("session.store.redis.sentinel.addresses[{index}]"),
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
                username_file: None,
                password_file: None,
                ca_file: None,
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
    fn a_ca_needs_tls_and_staleness_is_bounded() {
        let mut config = store("redis://redis:6379", "p:");
        config.redis.ca_file = Some("/ca.pem".into());
        assert!(problems_of(&config).mentions("session.store.redis.caFile"));
        config.redis.url = "rediss://redis:6379".into();
        assert!(problems_of(&config).is_empty());
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
