//! A real kube-apiserver and etcd (built by `tests/tools/install-kube-tools.sh`)
//! shared by the tests of one test binary, and the `portcullis-operator`
//! binary run against it.
//!
//! The cluster starts on first use and is stopped by a detached reaper when
//! the test process exits (however it exits), so no apiserver outlives the
//! tests. Each test works in its own namespace; cluster-scoped objects (the
//! CRD) are applied idempotently. [`env`] builds one test's world on it;
//! [`rbac`] runs the operator with the permissions of `deploy/portcullis.yaml`.

pub mod dry_run;
pub mod env;
pub mod gateway_api;
pub mod rbac;

use crate::process::{AfterStop, free_port, reap_on_exit, repo_root, target_bin, wait_for_http_ok};
use crate::tools::{go_mod_version, require, tool_dir};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::process::{Child, Command};

/// Overrides the directory holding `kube-apiserver` and `etcd`.
pub const TOOLS_ENV: &str = "PORTCULLIS_KUBE_TOOLS";

/// A running API server with an admin kubeconfig.
#[derive(Debug)]
pub struct Cluster {
    /// The work dir of start-kube.sh (logs, certificates, etcd data).
    pub workdir: PathBuf,
    /// Admin kubeconfig (bearer token, `system:masters`).
    pub kubeconfig: PathBuf,
}

static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();

impl Cluster {
    /// The cluster of this test process, started on first use.
    ///
    /// Panics with what to run when the tools are not built, so a missing
    /// tool fails the test instead of skipping it.
    pub fn shared() -> &'static Cluster {
        match SHARED.get_or_init(|| Cluster::start().map_err(|error| format!("{error:#}"))) {
            Ok(cluster) => cluster,
            Err(error) => panic!("cannot start the test API server: {error}"),
        }
    }

    fn start() -> Result<Cluster> {
        let tools = tools_dir()?;
        let workdir = std::env::temp_dir().join(format!("portcullis-kube-{}", std::process::id()));
        std::fs::create_dir_all(&workdir)?;
        let scripts = repo_root().join("tests/tools");
        // The reaper first: whatever happens next, the cluster dies with us.
        reap_on_exit(
            "cluster",
            &scripts.join("stop-kube.sh"),
            &workdir,
            AfterStop::Remove,
        )?;
        let output = std::process::Command::new(scripts.join("start-kube.sh"))
            .arg(&tools)
            .arg(&workdir)
            .stdin(Stdio::null())
            .output()
            .context("cannot run tests/tools/start-kube.sh")?;
        if !output.status.success() {
            bail!(
                "start-kube.sh failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let kubeconfig = workdir.join("kubeconfig");
        anyhow::ensure!(kubeconfig.is_file(), "start-kube.sh wrote no kubeconfig");
        Ok(Cluster {
            workdir,
            kubeconfig,
        })
    }
}

/// Where the tools are: `$PORTCULLIS_KUBE_TOOLS`, else the install script's cache dir.
pub fn tools_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os(TOOLS_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => tool_dir(&format!(
            "kube-{}",
            go_mod_version("tests/tools/kube/go.mod", "k8s.io/kubernetes")?
        )),
    };
    require(
        dir,
        &["kube-apiserver", "etcd"],
        &format!(
            "run `make test` (or `tests/tools/install-kube-tools.sh`, \
             and point ${TOOLS_ENV} at the directory it prints)"
        ),
    )
}

/// A running `portcullis-operator`; killed on drop.
pub struct Operator {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>` of /healthz, /readyz, /metrics.
    pub admin_url: String,
    /// Its log file.
    pub log: PathBuf,
    /// Port of its HTTPS admission webhook on 127.0.0.1.
    pub webhook_port: u16,
}

impl Operator {
    /// Starts the operator for `namespace` (its Lease lives there too) as `identity`.
    pub async fn start(cluster: &Cluster, namespace: &str, identity: &str) -> Result<Self> {
        Self::start_with(&cluster.kubeconfig, cluster, namespace, identity, &[]).await
    }

    /// Like [`Operator::start`], connecting with `kubeconfig`, with more flags.
    pub async fn start_with(
        kubeconfig: &Path,
        cluster: &Cluster,
        namespace: &str,
        identity: &str,
        extra_args: &[String],
    ) -> Result<Self> {
        let port = free_port();
        let webhook_port = free_port();
        let log = cluster
            .workdir
            .join(format!("operator-{namespace}-{identity}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = Command::new(target_bin("portcullis-operator"))
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info,portcullis_operator=debug")
            .args(["--admin-listen", &format!("127.0.0.1:{port}")])
            .args(["--namespace", namespace, "--lease-namespace", namespace])
            .args(["--identity", identity, "--lease-seconds", "3"])
            .args(["--retry-seconds", "1", "--discovery-cache-seconds", "1"])
            .args(["--log-format", "plain"])
            .args(["--webhook-listen", &format!("127.0.0.1:{webhook_port}")])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .context(
                "start portcullis-operator (is it built? `cargo build -p portcullis-operator`)",
            )?;
        let admin_url = format!("http://127.0.0.1:{port}");
        wait_for_http_ok(&format!("{admin_url}/readyz")).await?;
        Ok(Self {
            child: Some(child),
            admin_url,
            log,
            webhook_port,
        })
    }

    /// The value of an unlabelled metric, e.g. `portcullis_operator_leader`.
    pub async fn metric(&self, name: &str) -> Result<f64> {
        let text = reqwest::get(format!("{}/metrics", self.admin_url))
            .await?
            .text()
            .await?;
        text.lines()
            .find_map(|line| {
                line.strip_prefix(name)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
            .with_context(|| format!("no metric {name}"))
    }

    /// Stops it with SIGTERM (graceful: the Lease is released) and waits.
    pub async fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id() {
            std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()?;
        }
        match tokio::time::timeout(Duration::from_secs(20), child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => {
                child.kill().await?;
                bail!("operator did not stop within 20 s of SIGTERM");
            }
        }
        Ok(())
    }

    /// The log so far (for failure messages).
    pub fn logs(&self) -> String {
        read_tail(&self.log)
    }
}

fn read_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
