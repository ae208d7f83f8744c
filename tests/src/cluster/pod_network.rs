//! TCP connections from inside a pod's network namespace, to test what a
//! NetworkPolicy lets through: the packets leave from the pod's own
//! address over the CNI bridge, as another pod's would, without an image
//! that carries a client (the node's `bash` opens the connection, entered
//! into the namespace with `nsenter`).

use super::Cluster;
use anyhow::{Context, Result, ensure};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// Where a connection is opened from.
#[derive(Clone, Copy, Debug)]
pub enum Origin<'a> {
    /// The node itself (the host's network namespace).
    Node,
    /// The pod `name` in `namespace`.
    Pod {
        /// Its namespace.
        namespace: &'a str,
        /// Its name.
        name: &'a str,
    },
}

impl Cluster {
    /// Whether a TCP connection from `from` to `address`:`port` is accepted
    /// within `patience` (a dropped SYN and a refusal are both `false`).
    pub async fn connects(
        &self,
        from: Origin<'_>,
        address: &str,
        port: u16,
        patience: Duration,
    ) -> Result<bool> {
        let script = format!("exec 3<>/dev/tcp/{address}/{port}");
        let seconds = patience.as_secs().max(1).to_string();
        let mut command = match from {
            Origin::Node => Command::new("timeout"),
            Origin::Pod { namespace, name } => {
                let netns = self.pod_netns(namespace, name).await?;
                let mut command = Command::new("nsenter");
                command
                    .arg(format!("--net={}", netns.display()))
                    .arg("--")
                    .arg("timeout");
                command
            }
        };
        let status = command
            .args([seconds.as_str(), "bash", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .context("cannot run nsenter, timeout or bash")?;
        Ok(status.success())
    }

    /// The network namespace of pod `name` in `namespace`, from its sandbox
    /// as the runtime reports it.
    pub async fn pod_netns(&self, namespace: &str, name: &str) -> Result<PathBuf> {
        let ids = self
            .crictl(&[
                "pods",
                "--namespace",
                namespace,
                "--name",
                &format!("^{name}$"),
                "--state",
                "ready",
                "-q",
            ])
            .await?;
        let id = ids
            .lines()
            .next()
            .with_context(|| format!("no ready sandbox for pod {namespace}/{name}"))?;
        let sandbox: Value = serde_json::from_str(&self.crictl(&["inspectp", id]).await?)
            .context("crictl inspectp printed no JSON")?;
        let path = sandbox["info"]["runtimeSpec"]["linux"]["namespaces"]
            .as_array()
            .and_then(|namespaces| {
                namespaces
                    .iter()
                    .find(|namespace| namespace["type"] == "network")
            })
            .and_then(|network| network["path"].as_str())
            .with_context(|| {
                format!("the sandbox of {namespace}/{name} names no network namespace")
            })?;
        Ok(PathBuf::from(path))
    }

    /// Runs `crictl` against the node's containerd; its stdout.
    async fn crictl(&self, args: &[&str]) -> Result<String> {
        let endpoint = format!(
            "unix://{}",
            self.state.join("run/containerd/containerd.sock").display()
        );
        let output = Command::new(self.tools.join("crictl"))
            .args(["--runtime-endpoint", &endpoint, "--timeout", "30s"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .context("cannot run crictl")?;
        ensure!(
            output.status.success(),
            "crictl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}
