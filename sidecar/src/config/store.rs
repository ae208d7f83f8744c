//! The session store's settings: the contract's section with its secret
//! files read. The password and username are secrets; the CA is not, but
//! is read here too so a missing file is reported with the rest.

use super::problems::Problems;
use super::secret::Secret;
use super::secret_files::secret_file;
use portcullis_contract::session_store::{SentinelConfig, SessionStoreConfig};
use std::io;
use std::path::Path;
use std::time::Duration;

/// Where the replicas share their state, ready to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreSettings {
    /// The server's URL, without credentials (empty with `sentinel`).
    pub url: String,
    /// The Sentinels that name the primary, instead of `url`.
    pub sentinel: Option<SentinelConfig>,
    /// The ACL username, if any.
    pub username: Option<Secret>,
    /// The password, if any.
    pub password: Option<Secret>,
    /// The CA's PEM, for `rediss://`.
    pub ca_pem: Option<String>,
    /// The prefix of every key and channel.
    pub key_prefix: String,
    /// How long the local copy serves sessions while the store is away.
    pub max_staleness: Duration,
}

/// The settings of `config`, its files read with `read_file`; problems
/// name the field.
pub(super) fn store_settings(
    problems: &mut Problems,
    config: &SessionStoreConfig,
    read_file: &impl Fn(&Path) -> io::Result<String>,
) -> StoreSettings {
    let redis = &config.redis;
    let mut secret = |field: &str, path: Option<&Path>| {
        path.and_then(|path| secret_file(problems, field, path, read_file))
            .map(|secret| Secret::new(secret.expose().trim()))
    };
    let username = secret(
        "session.store.redis.usernameFile",
        redis.username_file.as_deref(),
    );
    let password = secret(
        "session.store.redis.passwordFile",
        redis.password_file.as_deref(),
    );
    let ca_pem = secret("session.store.redis.caFile", redis.ca_file.as_deref())
        .map(|pem| pem.expose().to_owned());
    StoreSettings {
        url: redis.url.clone(),
        sentinel: redis.sentinel.clone(),
        username,
        password,
        ca_pem,
        key_prefix: redis.key_prefix.clone(),
        max_staleness: Duration::from_secs(config.max_staleness_seconds),
    }
}
