//! The connection to the store for one set of settings: a reload with a new
//! password, address or prefix makes a new one.
//!
//! A store named by `url` is one server. A store named by `sentinel` is
//! whichever server the Sentinels call the primary now: it is asked for
//! when the sync loop connects, and forgotten when the loop finds the
//! server stepped down (a failover), so the next connect asks again.
//! Request paths never wait for that question: they use the connection
//! found, or count the store as away.

use super::StoreSetupError;
use super::settings::StoreSettings;
use super::wire::StoreNames;
use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Client, IntoConnectionInfo, RedisConnectionInfo, RedisResult, TlsCertificates};
use std::sync::Arc;
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

/// How the server is found.
enum Target {
    /// One address.
    Direct,
    /// The primary the Sentinels name.
    Sentinel(Box<tokio::sync::Mutex<SentinelClient>>),
}

/// A client of the server, and the shared connection that writes to it.
pub(super) struct Connection {
    pub(super) client: Client,
    pub(super) writer: ConnectionManager,
}

impl Connection {
    fn of(client: Client) -> RedisResult<Self> {
        let writer = client.get_connection_manager_lazy(manager_config())?;
        Ok(Self { client, writer })
    }
}

impl Link {
    pub(super) fn new(settings: &StoreSettings) -> Result<Self, StoreSetupError> {
        let (target, current) = match &settings.sentinel {
            None => (
                Target::Direct,
                Some(Arc::new(Connection::of(direct_client(settings)?)?)),
            ),
            Some(sentinel) => {
                let addresses: Vec<String> = sentinel
                    .addresses
                    .iter()
                    .map(|address| format!("redis://{address}"))
                    .collect();
                let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(
                    credentials(settings, RedisConnectionInfo::default()),
                );
                let client = SentinelClient::build(
                    addresses,
                    sentinel.master_name.as_str(),
                    Some(node),
                    SentinelServerType::Master,
                )?;
                (
                    Target::Sentinel(Box::new(tokio::sync::Mutex::new(client))),
                    None,
                )
            }
        };
        Ok(Self {
            settings: settings.clone(),
            names: StoreNames::under(&settings.key_prefix),
            target,
            current: ArcSwapOption::new(current),
        })
    }

    /// The connection to the server, asking the Sentinels for the primary
    /// when none is known.
    pub(super) async fn connect(&self) -> RedisResult<Arc<Connection>> {
        if let Some(current) = self.current.load_full() {
            return Ok(current);
        }
        let Target::Sentinel(sentinel) = &self.target else {
            return Err(no_primary());
        };
        let client = sentinel.lock().await.async_get_client().await?;
        let connection = Arc::new(Connection::of(client)?);
        self.current.store(Some(Arc::clone(&connection)));
        Ok(connection)
    }

    /// The connection known now, without asking anyone.
    pub(super) fn connection(&self) -> RedisResult<Arc<Connection>> {
        self.current.load_full().ok_or_else(no_primary)
    }

    /// Whether the server is found through Sentinels.
    pub(super) fn follows_sentinels(&self) -> bool {
        matches!(self.target, Target::Sentinel(_))
    }

    /// Forgets the primary found, so the next connect asks the Sentinels.
    pub(super) fn forget_primary(&self) {
        if self.follows_sentinels() {
            self.current.store(None);
        }
    }
}

/// The client of the one server `settings.url` names.
fn direct_client(settings: &StoreSettings) -> RedisResult<Client> {
    let info = settings.url.as_str().into_connection_info()?;
    let redis = credentials(settings, info.redis_settings().clone());
    let info = info.set_redis_settings(redis);
    match &settings.ca_pem {
        Some(pem) => Client::build_with_tls(
            info,
            TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.as_bytes().to_vec()),
            },
        ),
        None => Client::open(info),
    }
}

/// `redis` with the username and password of `settings`.
fn credentials(settings: &StoreSettings, mut redis: RedisConnectionInfo) -> RedisConnectionInfo {
    if let Some(username) = &settings.username {
        redis = redis.set_username(username.expose());
    }
    if let Some(password) = &settings.password {
        redis = redis.set_password(password.expose());
    }
    redis
}

fn no_primary() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "no primary of the session store is known yet",
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
