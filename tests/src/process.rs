//! Starting helper processes and waiting, within a bound, for their ready line.
//!
//! A test binary runs its tests in parallel, and many of them start a
//! provider, a sidecar and an app at once. On a busy 2-core machine that
//! stampede once took a provider past a 30 s start-up bound. So at most
//! [`STARTING_AT_ONCE`] helpers start at a time per test process, and the
//! bound on each start-up counts only from when its turn comes.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;

/// How long a helper may take to print its ready line once it was started.
pub const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How many helpers of one test process may be starting at the same time.
pub const STARTING_AT_ONCE: usize = 2;
/// How long a start-up may wait for its turn.
pub const TURN_TIMEOUT: Duration = Duration::from_secs(300);

/// Turns to start a helper, shared by every test (and runtime) of the process.
static STARTING: Semaphore = Semaphore::const_new(STARTING_AT_ONCE);

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
    let _turn = tokio::time::timeout(TURN_TIMEOUT, STARTING.acquire())
        .await
        .with_context(|| format!("no turn to start {command:?} within {TURN_TIMEOUT:?}"))?
        .context("the start-up semaphore is never closed")?;
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
