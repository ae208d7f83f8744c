//! A real Dex, built from its Go module by `tests/tools/install-dex.sh`.
//!
//! Dex differs from the other test provider where sign-ins break: it has no
//! `end_session_endpoint`, sends no `iss` on the callback, puts the groups
//! into the ID token, and logs in by email. It starts in well under a second,
//! so each test gets its own, configured from `tests/dex/config.yaml` (memory
//! storage, a static client for the sidecar, static users with groups).

use crate::process::{free_port, repo_root, wait_for_http_ok};
use crate::tools::{go_mod_version, require, tool_dir};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::Stdio;
use tokio::process::{Child, Command};

/// The client id in `tests/dex/config.yaml`.
pub const DEX_CLIENT_ID: &str = "portcullis";
/// Its secret.
pub const DEX_CLIENT_SECRET: &str = "portcullis-secret";

/// A running Dex; killed on drop.
pub struct Dex {
    _child: Child,
    _dir: tempfile::TempDir,
    /// The issuer, `http://127.0.0.1:<port>/dex`.
    pub issuer: String,
}

impl Dex {
    /// Starts Dex on a free loopback port with its client for `public_url`.
    pub async fn start(public_url: &str) -> Result<Self> {
        let binary = binary()?;
        let port = free_port();
        let template = std::fs::read_to_string(repo_root().join("tests/dex/config.yaml"))?;
        let config = template
            .replace("@PORT@", &port.to_string())
            .replace("@PUBLIC_URL@", public_url);
        let dir = tempfile::tempdir()?;
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(dir.path().join("dex.log"))?;
        let child = Command::new(&binary)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let issuer = format!("http://127.0.0.1:{port}/dex");
        let dex = Self {
            _child: child,
            _dir: dir,
            issuer,
        };
        wait_for_http_ok(&dex.well_known_url()).await?;
        Ok(dex)
    }

    /// The discovery URL.
    pub fn well_known_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }
}

/// The cached binary, named by the Dex version pinned in `tests/tools/dex/go.mod`.
fn binary() -> Result<PathBuf> {
    let version = go_mod_version("tests/tools/dex/go.mod", "github.com/dexidp/dex")?;
    let dir = require(
        tool_dir(&format!("dex-{version}")),
        &["dex"],
        "run `make test` (or `tests/tools/install-dex.sh`)",
    )?;
    Ok(dir.join("dex"))
}
