//! Where the cluster's binaries are: the node tools built by
//! `tests/tools/install-kube-tools.sh --node`, cached by version. Helm is
//! [`crate::helm::Helm`]'s.

use crate::kube::tools_dir;
use anyhow::{Result, bail};
use std::path::PathBuf;

/// Binaries a node needs besides kube-apiserver and etcd.
pub const NODE_TOOLS: [&str; 8] = [
    "kubelet",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
    "kubectl",
    "coredns",
    "crictl",
    "kube-router",
];

/// The tools directory, checked to hold every node binary.
pub fn node_tools_dir() -> Result<PathBuf> {
    let dir = tools_dir()?;
    for tool in NODE_TOOLS {
        if !dir.join(tool).is_file() {
            bail!(
                "{} is missing: run `make test` (or `tests/tools/install-kube-tools.sh --node`)",
                dir.join(tool).display()
            );
        }
    }
    Ok(dir)
}
