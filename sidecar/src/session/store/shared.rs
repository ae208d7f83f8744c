//! Short-lived values the replicas share: a lock one replica holds while
//! it renews a session, and the renewed session it leaves for the others.
//! Names go under the app's prefix (in one cluster slot with the rest);
//! what is stored is sealed by the caller, so a dump opens nothing.

use super::SessionStore;
use super::connection::within;
use redis::RedisResult;

impl SessionStore {
    /// Takes the lock `name` for `millis` ms: true when this replica holds
    /// it now, false when another does.
    pub async fn try_lock(&self, name: &str, millis: u64) -> RedisResult<bool> {
        let link = self.link();
        let mut writer = link.connection()?.writer.clone();
        let mut command = redis::cmd("SET");
        command
            .arg(link.names.key(name))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis.max(1));
        let set = command.query_async::<Option<String>>(&mut writer);
        Ok(within(set).await?.is_some())
    }

    /// Keeps `value` under `name` for `seconds`.
    pub async fn put(&self, name: &str, value: &str, seconds: u64) -> RedisResult<()> {
        let link = self.link();
        let mut writer = link.connection()?.writer.clone();
        let mut command = redis::cmd("SET");
        command
            .arg(link.names.key(name))
            .arg(value)
            .arg("EX")
            .arg(seconds.max(1));
        within(command.exec_async(&mut writer)).await
    }

    /// Drops the value under `name`, if one is kept.
    pub async fn forget(&self, name: &str) -> RedisResult<()> {
        let link = self.link();
        let mut writer = link.connection()?.writer.clone();
        let mut command = redis::cmd("DEL");
        command.arg(link.names.key(name));
        within(command.exec_async(&mut writer)).await
    }

    /// The value under `name`, if one is kept.
    pub async fn get(&self, name: &str) -> RedisResult<Option<String>> {
        let link = self.link();
        let mut writer = link.connection()?.writer.clone();
        let mut command = redis::cmd("GET");
        command.arg(link.names.key(name));
        within(command.query_async::<Option<String>>(&mut writer)).await
    }
}
