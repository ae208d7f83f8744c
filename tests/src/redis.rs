//! A real `redis-server` (Debian's) on 127.0.0.1, one per test, with the
//! faults the session store must survive: paused (SIGSTOP), killed and
//! started again on the same port, and a password.

use crate::certificate::TestCertificate;
use crate::process::free_port;
use anyhow::{Context, Result, bail};
use portcullis_contract::session_store::{RedisStoreConfig, SessionStoreConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// How long a server may take to answer its first `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `redis-server`; killed on drop.
pub struct Redis {
    child: Child,
    port: u16,
    options: RedisOptions,
    dir: tempfile::TempDir,
}

/// How a server is started.
#[derive(Clone, Default)]
pub struct RedisOptions {
    /// The password it wants (`requirepass`, and `masterauth` for a replica).
    pub password: Option<String>,
    /// The certificate it speaks TLS with, TLS only.
    pub tls: Option<Arc<TestCertificate>>,
    /// More arguments (`--replicaof`, `--cluster-enabled`).
    pub extra: Vec<String>,
}

impl Redis {
    /// A server without a password, keeping nothing on disk.
    pub async fn start() -> Result<Self> {
        Self::launch(RedisOptions::default()).await
    }

    /// A server that wants `password` (`requirepass`).
    pub async fn start_with_password(password: &str) -> Result<Self> {
        Self::launch(RedisOptions {
            password: Some(password.to_owned()),
            ..RedisOptions::default()
        })
        .await
    }

    /// A server that speaks TLS only, with a certificate for 127.0.0.1
    /// from a CA made for it ([`Self::tls_ca`]).
    pub async fn start_tls() -> Result<Self> {
        Self::launch(RedisOptions {
            tls: Some(TestCertificate::issue()?),
            ..RedisOptions::default()
        })
        .await
    }

    /// A replica of the server on `primary_port`, for a Sentinel to
    /// promote, started like it with `options`.
    pub async fn start_replica_of(primary_port: u16, mut options: RedisOptions) -> Result<Self> {
        options.extra.extend([
            "--replicaof".to_owned(),
            "127.0.0.1".to_owned(),
            primary_port.to_string(),
        ]);
        if let Some(password) = &options.password {
            options
                .extra
                .extend(["--masterauth".to_owned(), password.clone()]);
        }
        Self::launch(options).await
    }

    /// A server started with `options` on a free port.
    pub async fn launch(options: RedisOptions) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_port();
        let child = spawn(port, &options, dir.path()).await?;
        Ok(Self {
            child,
            port,
            options,
            dir,
        })
    }

    /// The port it listens on at 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`, or `rediss://` for a TLS server.
    pub fn url(&self) -> String {
        let scheme = if self.options.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The PEM of the CA that signed a TLS server's certificate.
    pub fn tls_ca(&self) -> Option<&str> {
        self.options.tls.as_deref().map(TestCertificate::ca_pem)
    }

    /// A `session.store` section for this server under `prefix`.
    pub fn store_config(&self, prefix: &str, max_staleness_seconds: u64) -> SessionStoreConfig {
        Self::config_for(&self.url(), prefix, max_staleness_seconds)
    }

    /// A `session.store` section for the server at `url` under `prefix`.
    pub fn config_for(url: &str, prefix: &str, max_staleness_seconds: u64) -> SessionStoreConfig {
        SessionStoreConfig {
            redis: RedisStoreConfig {
                url: url.to_owned(),
                sentinel: None,
                cluster: None,
                username_file: None,
                password_file: None,
                tls: None,
                key_prefix: prefix.to_owned(),
            },
            max_staleness_seconds,
        }
    }

    /// Stops the server without closing its connections (SIGSTOP): clients
    /// see a server that accepts nothing and answers nothing.
    pub fn pause(&self) -> Result<()> {
        self.signal("STOP")
    }

    /// Pauses every client's commands for `millis` (`CLIENT PAUSE ... ALL`),
    /// the server itself running on. Sent with `redis-cli`: a raw
    /// connection's `QUIT` would wait out the pause too.
    pub async fn pause_clients(&self, millis: u64) -> Result<()> {
        let reply = cli(
            self.port,
            self.options.tls.as_deref(),
            self.options.password.as_deref(),
            &["CLIENT", "PAUSE", &millis.to_string(), "ALL"],
        )
        .await?;
        anyhow::ensure!(reply.trim() == "OK", "CLIENT PAUSE: {reply}");
        Ok(())
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) -> Result<()> {
        self.signal("CONT")
    }

    /// Kills the server (SIGKILL) and starts a new, empty one on the same port.
    pub async fn restart_empty(&mut self) -> Result<()> {
        self.child.kill().await?;
        self.child = spawn(self.port, &self.options, self.dir.path()).await?;
        Ok(())
    }

    /// Runs one command and returns the raw reply (RESP), for checks of what
    /// the server holds; through `redis-cli` (its text, not RESP) for a TLS
    /// server.
    pub async fn command(&self, args: &[&str]) -> Result<String> {
        match &self.options.tls {
            None => command_at(self.port, self.options.password.as_deref(), args).await,
            Some(tls) => cli(self.port, Some(tls), self.options.password.as_deref(), args).await,
        }
    }

    fn signal(&self, signal: &str) -> Result<()> {
        crate::process::signal(&self.child, signal)
    }
}

/// Runs one command at the server on `port` (logging in with `password`
/// first) and returns the raw reply (RESP).
pub async fn command_at(port: u16, password: Option<&str>, args: &[&str]) -> Result<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let mut request = String::new();
    if let Some(password) = password {
        request.push_str(&resp(&["AUTH", password]));
    }
    request.push_str(&resp(args));
    request.push_str(&resp(&["QUIT"]));
    stream.write_all(request.as_bytes()).await?;
    let mut reply = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut reply))
        .await
        .context("the server answered within 5 s")??;
    Ok(reply)
}

/// `args` as one RESP array of bulk strings.
fn resp(args: &[&str]) -> String {
    let mut text = format!("*{}\r\n", args.len());
    for arg in args {
        text.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    text
}

/// Runs `redis-cli` against 127.0.0.1:`port` (over TLS with `tls`'s CA,
/// logging in with `password`) and returns its text answer.
pub async fn cli(
    port: u16,
    tls: Option<&TestCertificate>,
    password: Option<&str>,
    args: &[&str],
) -> Result<String> {
    let mut command = Command::new("redis-cli");
    command.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    if let Some(tls) = tls {
        command.arg("--tls").arg("--cacert").arg(tls.file("ca.pem"));
    }
    if let Some(password) = password {
        command.args(["--no-auth-warning", "-a", password]);
    }
    let output = tokio::time::timeout(Duration::from_secs(5), command.args(args).output())
        .await
        .context("redis-cli answered within 5 s")?
        .context("run redis-cli (`make store-deps` installs it)")?;
    anyhow::ensure!(
        output.status.success(),
        "redis-cli {args:?}: {}",
        output.status
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

async fn spawn(port: u16, options: &RedisOptions, dir: &std::path::Path) -> Result<Child> {
    let mut command = Command::new("redis-server");
    command.args(&options.extra);
    match &options.tls {
        Some(tls) => {
            command
                .args(["--port", "0", "--tls-port", &port.to_string()])
                .arg("--tls-cert-file")
                .arg(tls.file("server.pem"))
                .arg("--tls-key-file")
                .arg(tls.file("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(tls.file("ca.pem"))
                .args(["--tls-auth-clients", "no", "--tls-replication", "yes"]);
        }
        None => {
            command.args(["--port", &port.to_string()]);
        }
    }
    command
        .args(["--bind", "127.0.0.1"])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(std::fs::File::create(dir.join("server.log"))?)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(password) = &options.password {
        command.args(["--requirepass", password]);
    }
    let mut child = command
        .spawn()
        .context("start redis-server (`make store-deps` installs it)")?;
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        let up = if options.tls.is_some() {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        } else {
            answers_ping(port).await
        };
        if up {
            return Ok(child);
        }
        if let Some(status) = child.try_wait()? {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            bail!(
                "redis-server on port {port} exited at start: {status}; its log ends: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            );
        }
        if tokio::time::Instant::now() > deadline {
            bail!("redis-server on port {port} did not answer within {START_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a server on `port` answers `PING` (with `PONG`, or by asking for
/// a password).
async fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut reply = [0u8; 64];
    match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut reply)).await {
        Ok(Ok(read)) if read > 0 => reply.starts_with(b"+PONG") || reply.starts_with(b"-NOAUTH"),
        _ => false,
    }
}
