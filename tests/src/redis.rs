//! A real `redis-server` (Debian's) on 127.0.0.1, one per test, with the
//! faults the session store must survive: paused (SIGSTOP), killed and
//! started again on the same port, and a password.

use crate::process::free_port;
use anyhow::{Context, Result, bail};
use portcullis_contract::session_store::{RedisStoreConfig, SessionStoreConfig};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// How long a server may take to answer its first `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `redis-server`; killed on drop.
pub struct Redis {
    child: Child,
    port: u16,
    password: Option<String>,
    /// The CA's PEM when the server speaks TLS only.
    tls_ca: Option<String>,
    dir: tempfile::TempDir,
}

impl Redis {
    /// A server without a password, keeping nothing on disk.
    pub async fn start() -> Result<Self> {
        Self::start_on(free_port(), None).await
    }

    /// A server that wants `password` (`requirepass`).
    pub async fn start_with_password(password: &str) -> Result<Self> {
        Self::start_on(free_port(), Some(password.to_owned())).await
    }

    /// A server that speaks TLS only, with a certificate for 127.0.0.1
    /// from a CA made for it ([`Self::tls_ca`]).
    pub async fn start_tls() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let material = portcullis_operator::webhook::tls::certs::issue(
            &["127.0.0.1".to_owned()],
            Duration::from_secs(3600),
            i64::try_from(now)?,
            None,
        )?;
        std::fs::write(dir.path().join("server.pem"), &material.cert_pem)?;
        std::fs::write(dir.path().join("server.key"), &material.key_pem)?;
        let port = free_port();
        let child = spawn(port, None, dir.path(), true, &[]).await?;
        Ok(Self {
            child,
            port,
            password: None,
            tls_ca: Some(material.ca_bundle),
            dir,
        })
    }

    /// A replica of the server on `primary_port`, for a Sentinel to promote.
    pub async fn start_replica_of(primary_port: u16) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_port();
        let replica_of = [
            "--replicaof".to_owned(),
            "127.0.0.1".to_owned(),
            primary_port.to_string(),
        ];
        let child = spawn(port, None, dir.path(), false, &replica_of).await?;
        Ok(Self {
            child,
            port,
            password: None,
            tls_ca: None,
            dir,
        })
    }

    /// The port it listens on at 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    async fn start_on(port: u16, password: Option<String>) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let child = spawn(port, password.as_deref(), dir.path(), false, &[]).await?;
        Ok(Self {
            child,
            port,
            password,
            tls_ca: None,
            dir,
        })
    }

    /// `redis://127.0.0.1:<port>`, or `rediss://` for a TLS server.
    pub fn url(&self) -> String {
        let scheme = if self.tls_ca.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The PEM of the CA that signed a TLS server's certificate.
    pub fn tls_ca(&self) -> Option<&str> {
        self.tls_ca.as_deref()
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
                username_file: None,
                password_file: None,
                ca_file: None,
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
        let output = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["CLIENT", "PAUSE", &millis.to_string(), "ALL"])
            .output()
            .await
            .context("run redis-cli (`make store-deps` installs it)")?;
        let reply = String::from_utf8_lossy(&output.stdout);
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
        let tls = self.tls_ca.is_some();
        self.child = spawn(
            self.port,
            self.password.as_deref(),
            self.dir.path(),
            tls,
            &[],
        )
        .await?;
        Ok(())
    }

    /// Runs one command and returns the raw reply (RESP), for checks of what
    /// the server holds.
    pub async fn command(&self, args: &[&str]) -> Result<String> {
        command_at(self.port, self.password.as_deref(), args).await
    }

    fn signal(&self, signal: &str) -> Result<()> {
        let pid = self.child.id().context("the server is running")?;
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()?;
        anyhow::ensure!(status.success(), "kill -{signal} {pid}: {status}");
        Ok(())
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

async fn spawn(
    port: u16,
    password: Option<&str>,
    dir: &std::path::Path,
    tls: bool,
    extra: &[String],
) -> Result<Child> {
    let mut command = Command::new("redis-server");
    command.args(extra);
    if tls {
        command
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(dir.join("server.pem"))
            .arg("--tls-key-file")
            .arg(dir.join("server.key"))
            .args(["--tls-auth-clients", "no"]);
    } else {
        command.args(["--port", &port.to_string()]);
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
        .stdout(std::process::Stdio::null())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(password) = password {
        command.args(["--requirepass", password]);
    }
    let mut child = command
        .spawn()
        .context("start redis-server (`make store-deps` installs it)")?;
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        let up = if tls {
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
            bail!("redis-server on port {port} exited at start: {status}");
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
