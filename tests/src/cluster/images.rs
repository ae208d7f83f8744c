//! The project's images as `make images` writes them, and their import
//! into the cluster's containerd (no registry: `ctr images import`).

use super::Cluster;
use crate::process::repo_root;
use anyhow::{Context, Result, ensure};
use std::path::PathBuf;

/// The images `make images` builds: (Dockerfile folder under `images/`,
/// tag). The tags are the chart's default repositories with the crates'
/// version.
pub const IMAGES: [(&str, &str); 3] = [
    ("operator", "localhost/portcullis-operator:0.1.0"),
    ("sidecar", "localhost/portcullis-sidecar:0.1.0"),
    ("demo-app", "localhost/portcullis-demo-app:0.1.0"),
];

/// Where `make images` writes the archives: `$CARGO_TARGET_DIR/images`.
pub fn archive_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo_root().join("target"), PathBuf::from)
        .join("images")
}

/// The archive of image `name` (`operator`, `sidecar`, `demo-app`).
pub fn archive(name: &str) -> Result<PathBuf> {
    let path = archive_dir().join(format!("{name}.tar"));
    ensure!(
        path.is_file(),
        "{} is missing: run `make images`",
        path.display()
    );
    Ok(path)
}

impl Cluster {
    /// Imports every image of [`IMAGES`] into the node's containerd.
    pub async fn import_project_images(&self) -> Result<()> {
        for (name, _) in IMAGES {
            self.import_archive(&archive(name)?).await?;
        }
        Ok(())
    }

    /// Imports the image archive at `archive` into the node's containerd.
    pub async fn import_archive(&self, archive: &std::path::Path) -> Result<()> {
        let socket = self.state.join("run/containerd/containerd.sock");
        let output = tokio::process::Command::new("ctr")
            .arg("--address")
            .arg(&socket)
            .args(["-n", "k8s.io", "images", "import"])
            .arg(archive)
            .output()
            .await
            .context("cannot run ctr")?;
        ensure!(
            output.status.success(),
            "ctr images import {} failed: {}",
            archive.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }
}
