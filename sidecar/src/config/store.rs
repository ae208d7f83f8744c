//! The session store's settings: the contract's section with its secret
//! files read. The password and username are secrets; the CA is not, but
//! is read here too so a missing file is reported with the rest.

use super::problems::Problems;
use super::secret_files::secret_file;
use crate::session::store::settings::StoreSettings;
use portcullis_contract::secret::Secret;
use portcullis_contract::session_store::SessionStoreConfig;
use portcullis_store_client::StoreAccess;
use std::io;
use std::path::Path;
use std::time::Duration;

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
    let sentinel_password = secret(
        "session.store.redis.sentinel.passwordFile",
        redis.sentinel_password_file(),
    );
    let ca_pem = secret("session.store.redis.tls.caFile", redis.ca_file())
        .map(|pem| pem.expose().to_owned());
    StoreSettings {
        access: StoreAccess {
            redis: redis.clone(),
            username,
            password,
            sentinel_password,
            ca_pem,
        },
        max_staleness: Duration::from_secs(config.max_staleness_seconds),
    }
}
