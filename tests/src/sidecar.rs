//! The `portcullis-sidecar` binary, configured through the contract's config types.

use crate::idp::{CLIENT_ID, CLIENT_SECRET};
use crate::process::{free_port, target_bin, wait_for_http_ok_from};
use anyhow::{Context, Result};
use portcullis_contract::config::{RootAdminConfig, SidecarConfig};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::{Child, Command};

/// The root admin's username in tests (the IdP also has a user `root`).
pub const ROOT_USERNAME: &str = "root";
/// The root admin's backup password in tests.
pub const ROOT_PASSWORD: &str = "correct horse battery staple";
/// The backup login's one-time enrolment code in every test sidecar.
pub const ENROLMENT_CODE: &str = "7K3M-0Q1Z-ABCD-EFGH-JKMN";

/// A sidecar's ports and files, before it starts.
pub struct SidecarSetup {
    /// The config that will be written; tests may change it first.
    pub config: SidecarConfig,
    /// Temporary folder holding the config and secret files.
    pub dir: tempfile::TempDir,
    /// Public URL, `http://127.0.0.1:<port>`.
    pub url: String,
    /// Admin URL, `http://127.0.0.1:<port>`.
    pub admin_url: String,
    /// More command-line flags for the sidecar.
    pub args: Vec<String>,
}

/// The public URL a sidecar will have, chosen before the IdP registers it.
pub fn reserve_public_url() -> (u16, String) {
    let port = free_port();
    (port, format!("http://127.0.0.1:{port}"))
}

impl SidecarSetup {
    /// Config for a sidecar on `port` in front of `upstream`, logging in at `well_known_url`.
    pub fn new(port: u16, well_known_url: &str, upstream: &str) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let admin_port = free_port();
        let write = |name: &str, text: &str| -> Result<PathBuf> {
            let path = dir.path().join(name);
            std::fs::write(&path, text)?;
            Ok(path)
        };
        let mut config = SidecarConfig::from_yaml("{}")?;
        config.listen = format!("127.0.0.1:{port}");
        config.admin_listen = format!("127.0.0.1:{admin_port}");
        config.upstream = upstream.to_owned();
        config.public_url = format!("http://127.0.0.1:{port}");
        config.oidc.well_known_url = well_known_url.to_owned();
        config.oidc.client_id = CLIENT_ID.to_owned();
        config.oidc.client_secret_file = write("client-secret", CLIENT_SECRET)?;
        config.oidc.scopes = ["openid", "profile", "email", "groups"]
            .map(String::from)
            .to_vec();
        config.session.key_file = write("session-keys", &format!("{}\n", generate_key()?))?;
        config.root_admin = Some(RootAdminConfig {
            username: ROOT_USERNAME.to_owned(),
            password_hash_file: Some(write("root-password-hash", &hash_password(ROOT_PASSWORD)?)?),
            session_lifetime_seconds: 3600,
            enrolment_code_hash_file: Some(write(
                "enrolment-code-hash",
                &portcullis_contract::enrolment::hash_enrolment_code(ENROLMENT_CODE)?,
            )?),
        });
        Ok(Self {
            url: config.public_url.clone(),
            admin_url: format!("http://127.0.0.1:{admin_port}"),
            args: Vec::new(),
            config,
            dir,
        })
    }

    /// Where the config file is written.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("sidecar.yaml")
    }

    /// Writes the config file as it stands now.
    pub fn write_config(&self) -> Result<()> {
        std::fs::write(self.config_path(), self.config.to_yaml()?)?;
        Ok(())
    }

    /// Writes the config and starts the sidecar; returns once `/healthz` answers.
    pub async fn start(self) -> Result<Sidecar> {
        self.write_config()?;
        let path = self.config_path();
        self.start_with_config_at(&path).await
    }

    /// Starts the sidecar with a config file the test wrote itself at `path`.
    pub async fn start_with_config_at(self, path: &Path) -> Result<Sidecar> {
        let mut child = Command::new(target_bin("portcullis-sidecar"))
            .arg("--config")
            .arg(path)
            .args(&self.args)
            .env("RUST_LOG", "info")
            .kill_on_drop(true)
            .spawn()
            .context("start portcullis-sidecar (is it built? `cargo build --workspace`)")?;
        wait_for_http_ok_from(&format!("{}/healthz", self.admin_url), Some(&mut child)).await?;
        Ok(Sidecar { child, setup: self })
    }
}

/// A running sidecar; stopped on drop.
pub struct Sidecar {
    /// The process.
    pub child: Child,
    /// How it was set up (URLs, files, config).
    pub setup: SidecarSetup,
}

impl Sidecar {
    /// The public URL.
    pub fn url(&self) -> &str {
        &self.setup.url
    }

    /// The admin URL.
    pub fn admin_url(&self) -> &str {
        &self.setup.admin_url
    }

    /// The folder with the config and secret files.
    pub fn dir(&self) -> &Path {
        self.setup.dir.path()
    }

    /// The admin port's `/readyz`: its status code and JSON body.
    pub async fn readyz(&self) -> Result<(u16, serde_json::Value)> {
        let response = reqwest::get(format!("{}/readyz", self.admin_url())).await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await?))
    }

    /// `GET <path>` on the public port with the `Cookie` header `cookie`.
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> Result<reqwest::Response> {
        Ok(reqwest::Client::new()
            .get(format!("{}{path}", self.url()))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await?)
    }

    /// Waits (at most `limit`) until `/readyz` answers 200 with a body
    /// `accept` takes; returns that body.
    pub async fn until_ready_with(
        &self,
        limit: std::time::Duration,
        accept: impl Fn(&serde_json::Value) -> bool,
    ) -> Result<serde_json::Value> {
        let started = std::time::Instant::now();
        loop {
            let (status, body) = self.readyz().await?;
            if status == 200 && accept(&body) {
                return Ok(body);
            }
            anyhow::ensure!(
                started.elapsed() < limit,
                "/readyz still says {status} {body} after {limit:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The admin port's metrics in Prometheus text format.
    pub async fn metrics(&self) -> Result<String> {
        Ok(reqwest::get(format!("{}/metrics", self.admin_url()))
            .await?
            .text()
            .await?)
    }

    /// Waits (at most 15 s) until the metrics contain `line`.
    pub async fn wait_for_metric(&self, line: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let metrics = self.metrics().await?;
            if metrics.lines().any(|found| found == line) {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "no `{line}` in metrics:\n{metrics}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// `portcullis-sidecar generate-key`.
pub fn generate_key() -> Result<String> {
    let output = std::process::Command::new(target_bin("portcullis-sidecar"))
        .arg("generate-key")
        .output()?;
    anyhow::ensure!(output.status.success(), "generate-key failed: {output:?}");
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

/// `portcullis-sidecar enrol-code`: a code and its hash.
pub fn enrol_code() -> Result<(String, String)> {
    let output = std::process::Command::new(target_bin("portcullis-sidecar"))
        .arg("enrol-code")
        .output()?;
    anyhow::ensure!(output.status.success(), "enrol-code failed: {output:?}");
    let text = String::from_utf8(output.stdout)?;
    let mut lines = text.lines();
    let (Some(code), Some(hash), None) = (lines.next(), lines.next(), lines.next()) else {
        anyhow::bail!("enrol-code printed other than two lines: {text:?}");
    };
    Ok((code.to_owned(), hash.to_owned()))
}

/// `portcullis-sidecar generate-identity-key`.
pub fn generate_identity_key() -> Result<String> {
    let output = std::process::Command::new(target_bin("portcullis-sidecar"))
        .arg("generate-identity-key")
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "generate-identity-key failed: {output:?}"
    );
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

/// `portcullis-sidecar hash-password` with `password` on stdin.
pub fn hash_password(password: &str) -> Result<String> {
    let mut child = std::process::Command::new(target_bin("portcullis-sidecar"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(format!("{password}\n").as_bytes())?;
    let output = child.wait_with_output()?;
    anyhow::ensure!(output.status.success(), "hash-password failed: {output:?}");
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}
