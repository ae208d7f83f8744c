//! Starting helper processes and waiting, within a bound, for their ready
//! line, and reapers that stop what outlives a test process.
//!
//! A test binary runs its tests in parallel, and many of them start a
//! provider, a sidecar and an app at once. On a busy 2-core machine that
//! stampede once took a provider past a 30 s start-up bound. So at most
//! [`STARTING_AT_ONCE`] helpers start at a time per test process, and the
//! bound on each start-up counts only from when its turn comes.
//!
//! A helper that starts in about a second (the test provider, the echo app)
//! once sat silent at start for the whole bound while the machine was idle.
//! Such a helper is started with [`spawn_until_ready_or_again`]: a stall past
//! a short bound is reported and the helper started once more.

use anyhow::{Context, Result, bail};
use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;

/// How long a helper may take to print its ready line once it was started.
pub const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How many helpers of one test process may be starting at the same time.
pub const STARTING_AT_ONCE: usize = 2;
/// How long a start-up may wait for its turn.
pub const TURN_TIMEOUT: Duration = Duration::from_secs(300);
/// How many of a helper's last stderr lines a failed start-up reports.
const STDERR_TAIL_LINES: usize = 30;

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

/// Ports [`free_port`] handed out in this process: the kernel may offer a
/// released port again at once, and a sidecar once got the same port for
/// `listen` and `adminListen`.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// Where [`free_port`] looks: below the kernel's ephemeral range (32768 and
/// up here), so that no outgoing connection can take a port between its
/// release and its server's bind, and below Kubernetes' NodePorts
/// (30000-32767), which the test cluster serves on 127.0.0.1.
const FREE_PORTS: std::ops::Range<u16> = 20_000..30_000;

/// A free TCP port on 127.0.0.1 (bound, then released), never one this
/// process was given before. Ports the kernel hands to `bind(0)` are the
/// ones it also hands to outgoing connections: a sidecar once failed to
/// start because a client's connection took its port first.
pub fn free_port() -> u16 {
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let span = FREE_PORTS.end - FREE_PORTS.start;
    // Test processes started at the same time look in different places.
    let start = u16::try_from(std::process::id() % u32::from(span)).unwrap_or(0);
    for step in 0..span {
        let port = FREE_PORTS.start + (start + step) % span;
        if handed_out.contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.insert(port);
            return port;
        }
    }
    panic!("no free loopback port in {FREE_PORTS:?} that was not handed out before");
}

/// Spawns `command` (killed on drop) and returns it with the rest of the
/// first stdout line that starts with `marker`. The helper's stderr is passed
/// on to the test's, and a start-up that fails says what the helper printed
/// last.
pub async fn spawn_until_ready(command: Command, marker: &str) -> Result<(Child, String)> {
    spawn_within(command, marker, READY_TIMEOUT).await
}

/// [`spawn_until_ready`] for a helper that is ready within `stall` when it
/// is well: past it, the stall is reported and a copy of `command` is
/// started once more, with the whole [`READY_TIMEOUT`].
pub async fn spawn_until_ready_or_again(
    command: Command,
    marker: &str,
    stall: Duration,
) -> Result<(Child, String)> {
    let again = copy_of(&command);
    match spawn_within(command, marker, stall).await {
        Err(error) if error.is::<Stalled>() => {
            eprintln!("{error:#}; starting it once more");
            spawn_within(again, marker, READY_TIMEOUT).await
        }
        other => other,
    }
}

/// A helper that printed no ready line within its bound.
#[derive(Debug, thiserror::Error)]
#[error("{command} printed no `{marker}` within {within:?}; its last stderr lines:\n{tail}")]
struct Stalled {
    command: String,
    marker: String,
    within: Duration,
    tail: String,
}

/// The program, arguments, environment changes and folder of `command`.
fn copy_of(command: &Command) -> Command {
    let original = command.as_std();
    let mut copy = Command::new(original.get_program());
    copy.args(original.get_args());
    for (name, value) in original.get_envs() {
        match value {
            Some(value) => copy.env(name, value),
            None => copy.env_remove(name),
        };
    }
    if let Some(dir) = original.get_current_dir() {
        copy.current_dir(dir);
    }
    copy
}

async fn spawn_within(
    mut command: Command,
    marker: &str,
    within: Duration,
) -> Result<(Child, String)> {
    let _turn = tokio::time::timeout(TURN_TIMEOUT, STARTING.acquire())
        .await
        .with_context(|| format!("no turn to start {command:?} within {TURN_TIMEOUT:?}"))?
        .context("the start-up semaphore is never closed")?;
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {command:?}"))?;
    let stderr_tail = pass_on_stderr(child.stderr.take().context("no stderr")?);
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(within, async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.strip_prefix(marker) {
                return Ok::<_, anyhow::Error>(Some(rest.trim().to_owned()));
            }
        }
        Ok(None)
    })
    .await;
    let Ok(found) = found else {
        let _ = child.kill().await;
        return Err(Stalled {
            command: format!("{command:?}"),
            marker: marker.to_owned(),
            within,
            tail: tail_text(&stderr_tail),
        }
        .into());
    };
    let Some(rest) = found? else {
        let status = child.wait().await;
        bail!(
            "{command:?} exited before printing `{marker}` ({status:?}); its last stderr lines:\n{}",
            tail_text(&stderr_tail)
        );
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, rest))
}

/// The last lines a helper printed on stderr.
type StderrTail = Arc<Mutex<VecDeque<String>>>;

/// Copies `stderr` to the test's stderr line by line, keeping the last
/// [`STDERR_TAIL_LINES`] for a start-up error.
fn pass_on_stderr(stderr: impl AsyncRead + Unpin + Send + 'static) -> StderrTail {
    let tail = StderrTail::default();
    let kept = tail.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("{line}");
            let mut kept = kept
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if kept.len() == STDERR_TAIL_LINES {
                kept.pop_front();
            }
            kept.push_back(line);
        }
    });
    tail
}

fn tail_text(tail: &StderrTail) -> String {
    let lines = tail
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if lines.is_empty() {
        "(nothing)".to_owned()
    } else {
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// What a reaper does with the state directory once its stop script ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterStop {
    /// Removes the directory; the script's output is dropped.
    Remove,
    /// Keeps the directory, with the script's output in `stop.log` in it.
    KeepWithLog,
}

/// Starts a detached reaper: once this test process has exited, however it
/// exits, it runs `stop <dir>`, then does with `dir` what `after` says.
///
/// For helpers shared by a test binary's tests (a cluster, a provider) that
/// nothing drops: start the reaper first, so whatever happens next they go
/// with the test process. `what` names the helper in an error.
pub fn reap_on_exit(what: &str, stop: &Path, dir: &Path, after: AfterStop) -> Result<()> {
    reap_after(std::process::id(), what, stop, dir, after)
}

/// [`reap_on_exit`] for the process `watched`.
fn reap_after(watched: u32, what: &str, stop: &Path, dir: &Path, after: AfterStop) -> Result<()> {
    let script = match after {
        AfterStop::Remove => {
            r#"while kill -0 "$0" 2>/dev/null; do sleep 0.5; done; "$1" "$2"; rm -rf "$2""#
        }
        AfterStop::KeepWithLog => {
            r#"while kill -0 "$0" 2>/dev/null; do sleep 0.5; done; "$1" "$2" >"$2/stop.log" 2>&1"#
        }
    };
    std::process::Command::new("setsid")
        .arg("sh")
        .arg("-c")
        .arg(script)
        .arg(watched.to_string())
        .arg(stop)
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start the {what} reaper (setsid, sh)"))?;
    Ok(())
}

/// Waits, within [`READY_TIMEOUT`], until `url` answers 200.
pub async fn wait_for_http_ok(url: &str) -> Result<()> {
    wait_for_http_ok_from(url, None).await
}

/// Waits, within [`READY_TIMEOUT`], until `url` answers 200, and fails at
/// once when `child`, the process that should answer, has exited.
pub async fn wait_for_http_ok_from(url: &str, mut child: Option<&mut Child>) -> Result<()> {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if let Some(child) = child.as_deref_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!("the process that should answer {url} exited ({status}); its stderr is above");
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{url} did not answer 200 within {READY_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Sends `signal` (`STOP`, `CONT`, ...) to the running `child`.
pub fn signal(child: &Child, signal: &str) -> Result<()> {
    let pid = child
        .id()
        .ok_or_else(|| anyhow::anyhow!("the process is not running"))?;
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()?;
    anyhow::ensure!(status.success(), "kill -{signal} {pid}: {status}");
    Ok(())
}

#[cfg(test)]
mod tests {

    #[tokio::test]
    async fn a_helper_that_stalls_once_is_started_again_as_it_was() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(r#"if [ -e "$MARK" ]; then echo "READY $GREETING"; else : > "$MARK"; fi; exec sleep 60"#)
            .env("GREETING", "again")
            .env("MARK", "started-once")
            .current_dir(dir.path());
        let (mut child, rest) =
            spawn_until_ready_or_again(command, "READY", Duration::from_millis(500)).await?;
        assert_eq!(rest, "again", "the second start had the same environment");
        assert!(dir.path().join("started-once").exists(), "and folder");
        child.kill().await?;
        Ok(())
    }

    use super::*;
    use std::time::Instant;

    #[test]
    fn free_ports_are_outside_the_range_of_outgoing_connections() {
        let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .expect("the kernel's ephemeral range");
        let low: u16 = ephemeral
            .split_whitespace()
            .next()
            .and_then(|low| low.parse().ok())
            .expect("a number");
        for _ in 0..20 {
            let port = free_port();
            assert!(port < low && FREE_PORTS.contains(&port), "{port}");
        }
    }

    #[test]
    fn free_ports_are_never_handed_out_twice() {
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            assert!(seen.insert(free_port()));
        }
    }

    /// Starts a reaper for a short-lived process and waits until it has
    /// run the stop script and dealt with the directory.
    fn reap(after: AfterStop) -> tempfile::TempDir {
        let scratch = tempfile::tempdir().expect("temp dir");
        let dir = scratch.path().join("state");
        std::fs::create_dir(&dir).expect("state dir");
        let stop = scratch.path().join("stop.sh");
        std::fs::write(&stop, "#!/bin/sh\necho stopping \"$1\"\n").expect("stop script");
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(&stop)
            .status()
            .expect("chmod");
        let mut watched = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .expect("sleep starts");
        reap_after(watched.id(), "test", &stop, &dir, after).expect("reaper starts");
        // Reaped here, so the reaper sees it gone rather than a zombie.
        watched.wait().expect("sleep ends");
        let done = |dir: &Path| match after {
            AfterStop::Remove => !dir.exists(),
            AfterStop::KeepWithLog => std::fs::read_to_string(dir.join("stop.log"))
                .is_ok_and(|log| log.contains("stopping")),
        };
        let started = Instant::now();
        while !done(&dir) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the reaper did not finish"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        scratch
    }

    #[test]
    fn a_reaper_stops_and_removes_once_the_process_is_gone() {
        reap(AfterStop::Remove);
    }

    #[test]
    fn a_reaper_can_keep_the_directory_with_the_stop_log() {
        let scratch = reap(AfterStop::KeepWithLog);
        assert!(scratch.path().join("state").is_dir());
    }

    #[tokio::test]
    async fn waiting_for_a_process_that_exited_fails_at_once_and_says_so() {
        let mut child = Command::new("sh")
            .args(["-c", "exit 3"])
            .kill_on_drop(true)
            .spawn()
            .expect("sh starts");
        let url = format!("http://127.0.0.1:{}/healthz", free_port());
        let started = Instant::now();
        let error = wait_for_http_ok_from(&url, Some(&mut child))
            .await
            .expect_err("nothing answers");
        assert!(error.to_string().contains("exited"), "{error}");
        assert!(
            started.elapsed() < READY_TIMEOUT / 2,
            "{:?}",
            started.elapsed()
        );
    }
}
