//! Whether the session store an `OidcSettings` names answers, with the
//! credentials it references: the operator tries what each sidecar will,
//! so a wrong password or an address nobody can reach is named in the
//! status before every replica reports it in its own logs.

use crate::names::{
    STORE_CA_KEY, STORE_PASSWORD_KEY, STORE_SENTINEL_PASSWORD_KEY, STORE_USERNAME_KEY,
};
use portcullis_contract::secret::Secret;
use portcullis_contract::session_store::{SessionStoreConfig, StoreServers};
use portcullis_store_client::{StoreAccess, StoreClient};
use redis::ErrorKind;
use std::time::Duration;

/// How long the probe waits for the store.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Why the store did not answer as the sidecars need.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreProblem {
    /// The server refused the username or password.
    #[error("the session store refused the credentials: {0}")]
    Refused(String),
    /// Nothing answered in time, or the connection failed.
    #[error("the session store at {servers} cannot be reached: {reason}")]
    Unreachable {
        /// The servers tried, in words (no password in them).
        servers: String,
        /// The spec field that names them.
        field: &'static str,
        /// What failed.
        reason: String,
    },
}

/// Connects to the store of `config` with the referenced `files` (by
/// generated Secret key) and sends `PING`, as a sidecar would: to the one
/// server, to the primary the Sentinels name, or to a node of the cluster.
pub async fn probe(
    config: &SessionStoreConfig,
    files: &[(&str, String)],
) -> Result<(), StoreProblem> {
    let access = access(config, files);
    let unreachable = |reason: String| StoreProblem::Unreachable {
        servers: access.describe(),
        field: match config.redis.servers() {
            StoreServers::Url(_) => "spec.sessionStore.redis.url",
            StoreServers::Sentinel(_) => "spec.sessionStore.redis.sentinel",
            StoreServers::Cluster(_) => "spec.sessionStore.redis.cluster",
        },
        reason,
    };
    let ping = async {
        match access.client(PROBE_TIMEOUT)? {
            StoreClient::Server(client) => {
                ping(&mut client.get_multiplexed_async_connection().await?).await
            }
            StoreClient::Sentinel(mut sentinels) => {
                let primary = sentinels.async_get_client().await?;
                ping(&mut primary.get_multiplexed_async_connection().await?).await
            }
            StoreClient::Cluster(cluster) => ping(&mut cluster.get_async_connection().await?).await,
        }
    };
    match tokio::time::timeout(PROBE_TIMEOUT, ping).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) if is_refusal(&error) => Err(StoreProblem::Refused(error.to_string())),
        Ok(Err(error)) => Err(unreachable(error.to_string())),
        Err(_) => Err(unreachable(format!("no answer within {PROBE_TIMEOUT:?}"))),
    }
}

async fn ping(connection: &mut impl redis::aio::ConnectionLike) -> redis::RedisResult<()> {
    redis::cmd("PING")
        .query_async::<String>(connection)
        .await
        .map(drop)
}

/// The section with the secrets the sidecars will read from their files.
fn access(config: &SessionStoreConfig, files: &[(&str, String)]) -> StoreAccess {
    let file = |key: &str| {
        files
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value.trim().to_owned())
    };
    StoreAccess {
        redis: config.redis.clone(),
        username: file(STORE_USERNAME_KEY).map(Secret::new),
        password: file(STORE_PASSWORD_KEY).map(Secret::new),
        sentinel_password: file(STORE_SENTINEL_PASSWORD_KEY).map(Secret::new),
        ca_pem: file(STORE_CA_KEY),
    }
}

/// Whether `error` is the server refusing who we are.
fn is_refusal(error: &redis::RedisError) -> bool {
    matches!(error.kind(), ErrorKind::AuthenticationFailed)
        || error
            .code()
            .is_some_and(|code| code == "NOAUTH" || code == "WRONGPASS" || code == "NOPERM")
}
