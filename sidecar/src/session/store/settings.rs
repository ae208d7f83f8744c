//! What the session store needs to connect: the contract's section with
//! its secret files read (by `crate::config`, which builds it).

use portcullis_store_client::StoreAccess;
use std::time::Duration;

/// Where the replicas share their state, ready to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreSettings {
    /// The servers and the secrets that log in to them.
    pub access: StoreAccess,
    /// How long the local copy serves sessions while the store is away.
    pub max_staleness: Duration,
}
