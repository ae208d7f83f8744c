//! Whether the session store an `OidcSettings` names answers, with the
//! credentials it references: the operator tries what each sidecar will,
//! so a wrong password or an address nobody can reach is named in the
//! status before every replica reports it in its own logs.

use crate::names::{STORE_CA_KEY, STORE_PASSWORD_KEY, STORE_USERNAME_KEY};
use portcullis_contract::session_store::SessionStoreConfig;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Client, ErrorKind, IntoConnectionInfo, RedisConnectionInfo, TlsCertificates};
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
    #[error("the session store at {url} cannot be reached: {reason}")]
    Unreachable {
        /// The URL tried (it holds no password).
        url: String,
        /// What failed.
        reason: String,
    },
}

/// Connects to the store of `config` with the referenced `files` (by
/// generated Secret key) and sends `PING`.
pub async fn probe(
    config: &SessionStoreConfig,
    files: &[(&str, String)],
) -> Result<(), StoreProblem> {
    let url = match &config.redis.sentinel {
        Some(sentinel) => format!(
            "the primary `{}` of Sentinels {}",
            sentinel.master_name,
            sentinel.addresses.join(", ")
        ),
        None => config.redis.url.clone(),
    };
    let unreachable = |reason: String| StoreProblem::Unreachable {
        url: url.clone(),
        reason,
    };
    let client = client(config, files).await.map_err(unreachable)?;
    let ping = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
    };
    match tokio::time::timeout(PROBE_TIMEOUT, ping).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) if is_refusal(&error) => Err(StoreProblem::Refused(error.to_string())),
        Ok(Err(error)) => Err(unreachable(error.to_string())),
        Err(_) => Err(unreachable(format!("no answer within {PROBE_TIMEOUT:?}"))),
    }
}

/// The client of the server the sidecars would use: the one `url` names,
/// or the primary the Sentinels name now; or why there is none.
async fn client(config: &SessionStoreConfig, files: &[(&str, String)]) -> Result<Client, String> {
    let file = |key: &str| {
        files
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value.trim().to_owned())
    };
    let (username, password) = (file(STORE_USERNAME_KEY), file(STORE_PASSWORD_KEY));
    let credentials = |mut redis: RedisConnectionInfo| {
        if let Some(username) = &username {
            redis = redis.set_username(username);
        }
        if let Some(password) = &password {
            redis = redis.set_password(password);
        }
        redis
    };
    let Some(sentinel) = &config.redis.sentinel else {
        let info = config
            .redis
            .url
            .as_str()
            .into_connection_info()
            .map_err(|error| error.to_string())?;
        let info = info
            .clone()
            .set_redis_settings(credentials(info.redis_settings().clone()));
        let certificates = file(STORE_CA_KEY).map(|pem| TlsCertificates {
            client_tls: None,
            root_cert: Some(pem.into_bytes()),
        });
        return match certificates {
            Some(certificates) => Client::build_with_tls(info, certificates),
            None => Client::open(info),
        }
        .map_err(|error| error.to_string());
    };
    let node = SentinelNodeConnectionInfo::default()
        .set_redis_connection_info(credentials(RedisConnectionInfo::default()));
    let addresses: Vec<String> = sentinel
        .addresses
        .iter()
        .map(|address| format!("redis://{address}"))
        .collect();
    let asked = async {
        SentinelClient::build(
            addresses,
            sentinel.master_name.as_str(),
            Some(node),
            SentinelServerType::Master,
        )?
        .async_get_client()
        .await
    };
    match tokio::time::timeout(PROBE_TIMEOUT, asked).await {
        Ok(answer) => answer.map_err(|error| error.to_string()),
        Err(_) => Err(format!("no Sentinel answered within {PROBE_TIMEOUT:?}")),
    }
}

/// Whether `error` is the server refusing who we are.
fn is_refusal(error: &redis::RedisError) -> bool {
    matches!(error.kind(), ErrorKind::AuthenticationFailed)
        || error
            .code()
            .is_some_and(|code| code == "NOAUTH" || code == "WRONGPASS" || code == "NOPERM")
}
