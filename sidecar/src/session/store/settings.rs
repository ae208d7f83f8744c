//! What the session store needs to connect: the contract's section with
//! its secret files read (by `crate::config`, which builds it).

use portcullis_contract::secret::Secret;
use portcullis_contract::session_store::SentinelConfig;
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
