//! A real single-node Kubernetes cluster (kubelet, containerd, runc,
//! bridge CNI, kube-proxy, CoreDNS) for the tests that need pods to run.
//!
//! Its addresses and ports are fixed (the node is [`NODE_IP`]), so one
//! machine runs one cluster at a time: the tests of one test binary share
//! it, each in its own namespace. It starts on first use
//! (`tests/tools/cluster/start-cluster.sh`) and a detached reaper stops it
//! (`stop-cluster.sh`: processes by pid, pod sandboxes, mounts, iptables
//! chains, bridges, sysctls) when the test process exits, however it exits.
//! A machine that cannot run it makes [`Cluster::shared`] panic with the
//! reason, so a test fails instead of skipping.

pub mod images;
pub mod pod_network;
pub mod redis;
pub mod tools;

use crate::process::{AfterStop, reap_on_exit, repo_root, target_bin};
use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// The node's address: on an empty bridge inside this machine; the API
/// server, the kubelet and NodePorts answer there, and pods reach it.
pub const NODE_IP: &str = "10.250.0.1";

/// Overrides where the cluster keeps its state (default
/// `/var/lib/portcullis-cluster`).
pub const STATE_ENV: &str = "PORTCULLIS_CLUSTER_DIR";

/// A running cluster.
#[derive(Debug)]
pub struct Cluster {
    /// The state directory (logs in `logs/`, pids, configs in `run/`).
    pub state: PathBuf,
    /// Admin kubeconfig (bearer token, `system:masters`).
    pub kubeconfig: PathBuf,
    /// Where kubectl, crictl and the node binaries are.
    pub tools: PathBuf,
    /// How long the start took.
    pub start_seconds: f64,
}

static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NAMESPACES: AtomicU32 = AtomicU32::new(0);

impl Cluster {
    /// The cluster of this test process, started on first use.
    ///
    /// Panics with the reason when it cannot start (missing tools, not
    /// root, no bridges, ...), so a test fails instead of skipping.
    pub fn shared() -> &'static Cluster {
        match SHARED.get_or_init(|| Cluster::start().map_err(|error| format!("{error:#}"))) {
            Ok(cluster) => cluster,
            Err(error) => panic!("cannot start the test cluster: {error}"),
        }
    }

    fn start() -> Result<Cluster> {
        let tools = tools::node_tools_dir()?;
        let state = state_dir();
        let scripts = repo_root().join("tests/tools/cluster");
        let mkimage = target_bin("mkimage");
        ensure!(
            mkimage.is_file(),
            "{} is missing: run `cargo build -p portcullis-e2e --bin mkimage`",
            mkimage.display()
        );
        // The reaper first: whatever happens next, the cluster goes with us.
        reap_on_exit(
            "cluster",
            &scripts.join("stop-cluster.sh"),
            &state,
            AfterStop::KeepWithLog,
        )?;
        let started = Instant::now();
        let output = std::process::Command::new(scripts.join("start-cluster.sh"))
            .arg(&tools)
            .arg(&mkimage)
            .arg(&state)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .context("cannot run tests/tools/cluster/start-cluster.sh")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "start-cluster.sh failed ({}); see its messages above",
                output.status
            );
        }
        let kubeconfig = stdout
            .lines()
            .find_map(|line| line.strip_prefix("CLUSTER_READY "))
            .context("start-cluster.sh printed no CLUSTER_READY line")?;
        Ok(Cluster {
            state,
            kubeconfig: PathBuf::from(kubeconfig.trim()),
            tools,
            start_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// A client with the admin's rights.
    pub async fn client(&self) -> Result<Client> {
        client_for(&self.kubeconfig).await
    }

    /// Runs the cluster's `kubectl` with the admin kubeconfig; its stdout.
    pub async fn kubectl(&self, args: &[&str]) -> Result<String> {
        let output = tokio::process::Command::new(self.tools.join("kubectl"))
            .env("KUBECONFIG", &self.kubeconfig)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .context("cannot run kubectl")?;
        ensure!(
            output.status.success(),
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Creates a fresh namespace `<prefix>-<n>-<pid>` with `labels` and
    /// returns its name.
    pub async fn namespace(&self, prefix: &str, labels: &[(&str, &str)]) -> Result<String> {
        let name = format!(
            "{prefix}-{}-{}",
            NAMESPACES.fetch_add(1, Ordering::Relaxed),
            std::process::id()
        );
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(self.client().await?)
            .create(&PostParams::default(), &namespace)
            .await
            .with_context(|| format!("cannot create namespace {name}"))?;
        Ok(name)
    }

    /// The last lines of one component's log (`kubelet`, `containerd`, ...).
    pub fn log_tail(&self, component: &str) -> String {
        let text =
            std::fs::read_to_string(self.state.join("logs").join(format!("{component}.log")))
                .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// A client for `kubeconfig`.
pub async fn client_for(kubeconfig: &Path) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(kubeconfig)?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

/// The state directory: `$PORTCULLIS_CLUSTER_DIR` or `/var/lib/portcullis-cluster`.
pub fn state_dir() -> PathBuf {
    std::env::var_os(STATE_ENV).map_or_else(
        || PathBuf::from("/var/lib/portcullis-cluster"),
        PathBuf::from,
    )
}
