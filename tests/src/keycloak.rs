//! A real Keycloak, fetched by `tests/tools/install-keycloak.sh`, shared by
//! the tests of one test binary.
//!
//! Keycloak takes tens of seconds and about 400 MB to start, so it starts
//! once, on first use, with a fresh in-memory database and the realm from
//! `tests/keycloak/portcullis-realm.json`; a detached reaper stops it when the
//! test process exits, however it exits. Tests share its users, so each test
//! signs in with its own cookie jar and never changes the realm.

use crate::process::{AfterStop, reap_on_exit, repo_root};
use crate::tools::{require, tool_dir};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;

/// The Keycloak version `tests/tools/install-keycloak.sh` installs.
pub const KEYCLOAK_VERSION: &str = "26.7.3";
/// The realm in `tests/keycloak/portcullis-realm.json`.
pub const REALM: &str = "portcullis";
/// The client whose access tokens live 300 s (the realm's default).
pub const CLIENT_ID: &str = "portcullis";
/// The client whose access tokens live 4 s.
pub const SHORT_CLIENT_ID: &str = "portcullis-short";
/// Lifetime of the short client's access tokens, in seconds.
pub const SHORT_TOKEN_SECONDS: u64 = 4;

/// The running Keycloak of this test process.
#[derive(Debug)]
pub struct Keycloak {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The realm's issuer.
    pub issuer: String,
}

static SHARED: OnceLock<Result<Keycloak, String>> = OnceLock::new();

impl Keycloak {
    /// The Keycloak of this test process, started on first use.
    ///
    /// Panics with what to run when Keycloak is not installed, so a missing
    /// tool fails the test instead of skipping it.
    pub fn shared() -> &'static Keycloak {
        match SHARED.get_or_init(|| Keycloak::start().map_err(|error| format!("{error:#}"))) {
            Ok(keycloak) => keycloak,
            Err(error) => panic!("cannot start the test Keycloak: {error}"),
        }
    }

    /// The realm's discovery URL.
    pub fn well_known_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    fn start() -> Result<Keycloak> {
        let home = install_dir()?;
        let workdir =
            std::env::temp_dir().join(format!("portcullis-keycloak-{}", std::process::id()));
        std::fs::create_dir_all(&workdir)?;
        let scripts = repo_root().join("tests/tools");
        // The reaper first: whatever happens next, Keycloak dies with us.
        reap_on_exit(
            "Keycloak",
            &scripts.join("stop-keycloak.sh"),
            &workdir,
            AfterStop::Remove,
        )?;
        let output = std::process::Command::new(scripts.join("start-keycloak.sh"))
            .arg(&home)
            .arg(&workdir)
            .stdin(Stdio::null())
            .output()
            .context("cannot run tests/tools/start-keycloak.sh")?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            bail!("start-keycloak.sh failed: {stderr}");
        }
        eprint!("{stderr}");
        let url = String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .context("start-keycloak.sh printed no URL")?
            .to_owned();
        Ok(Keycloak {
            issuer: format!("{url}/realms/{REALM}"),
            url,
        })
    }
}

fn install_dir() -> Result<PathBuf> {
    require(
        tool_dir(&format!("keycloak-{KEYCLOAK_VERSION}")),
        &["bin/kc.sh"],
        "run `make test` (or `tests/tools/install-keycloak.sh`)",
    )
}
