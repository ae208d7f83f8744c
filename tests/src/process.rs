//! Starting helper processes and waiting, within a bound, for their ready line.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a helper may take to print its ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The repository root (the workspace).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where cargo puts binaries of this build profile.
pub fn target_bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo_root().join("target"), PathBuf::from);
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    target.join(profile).join(name)
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// Spawns `command` (killed on drop) and returns it with the rest of the
/// first stdout line that starts with `marker`.
pub async fn spawn_until_ready(mut command: Command, marker: &str) -> Result<(Child, String)> {
    command
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {command:?}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(READY_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.strip_prefix(marker) {
                return Ok::<_, anyhow::Error>(Some(rest.trim().to_owned()));
            }
        }
        Ok(None)
    })
    .await
    .with_context(|| format!("{command:?} printed no `{marker}` within {READY_TIMEOUT:?}"))??;
    let Some(rest) = found else {
        bail!(
            "{command:?} exited before printing `{marker}`: {:?}",
            child.wait().await
        );
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, rest))
}

/// Waits, within [`READY_TIMEOUT`], until `url` answers 200.
pub async fn wait_for_http_ok(url: &str) -> Result<()> {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{url} did not answer 200 within {READY_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
