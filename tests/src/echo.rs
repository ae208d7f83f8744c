//! The echo app, the upstream behind the proxies.

use crate::process::{spawn_until_ready_or_again, target_bin};
use anyhow::Result;
use tokio::process::{Child, Command};

/// A running echo app; stopped on drop.
pub struct Echo {
    _child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Echo {
    /// Starts the echo app on a free loopback port.
    pub async fn start() -> Result<Self> {
        let (child, addr) = spawn_until_ready_or_again(
            Command::new(target_bin("echo-upstream")),
            "ECHO_READY",
            std::time::Duration::from_secs(30),
        )
        .await?;
        Ok(Self {
            _child: child,
            url: format!("http://{addr}"),
        })
    }
}
