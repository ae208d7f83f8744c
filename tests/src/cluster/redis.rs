//! A Redis pod for the session store in the test cluster: the image holds
//! the machine's own `redis-server` and the libraries it links
//! (`tests/tools/cluster/images/redis/Dockerfile`), so nothing is pulled.

use super::Cluster;
use crate::image::archive::{self, FileData};
use crate::image::dockerfile;
use crate::process::repo_root;
use anyhow::{Context, Result, ensure};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

/// The Redis image's name in the node's containerd.
pub const REDIS_IMAGE: &str = "localhost/portcullis-test/redis:7";

/// The libraries `ldd` says `binary` needs, with the dynamic loader.
fn linked_libraries(binary: &str) -> Result<Vec<String>> {
    let output = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .context("cannot run ldd")?;
    ensure!(output.status.success(), "ldd {binary}: {}", output.status);
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            match line.split_once("=>") {
                Some((_, path)) => path.split_whitespace().next().map(str::to_owned),
                None => line
                    .split_whitespace()
                    .next()
                    .filter(|path| path.starts_with('/'))
                    .map(str::to_owned),
            }
        })
        .collect())
}

impl Cluster {
    /// Builds the Redis image from this machine's files and imports it.
    pub async fn import_redis_image(&self) -> Result<()> {
        let folder = repo_root().join("tests/tools/cluster/images/redis");
        let stage = dockerfile::parse(&std::fs::read_to_string(folder.join("Dockerfile"))?)?;
        let destinations: Vec<&str> = stage.copies.iter().map(|copy| copy.dest.as_str()).collect();
        for library in linked_libraries("/usr/bin/redis-server")? {
            ensure!(
                destinations.contains(&library.as_str()),
                "redis-server links {library}, which the Dockerfile does not copy: add it to {}",
                folder.join("Dockerfile").display()
            );
        }
        let mut sources = BTreeMap::new();
        for copy in &stage.copies {
            // Each file is copied from where it lives on this machine.
            let host = copy.dest.as_str();
            let bytes = std::fs::read(host).with_context(|| format!("cannot read {host}"))?;
            let mode = std::fs::metadata(host)?.permissions().mode() & 0o777;
            sources.insert(copy.source.clone(), FileData { bytes, mode });
        }
        let bytes = archive::build(&stage, REDIS_IMAGE, &sources)?;
        let path = self.state.join("images/redis.tar");
        std::fs::create_dir_all(self.state.join("images"))?;
        std::fs::write(&path, bytes)?;
        self.import_archive(&path).await
    }
}

/// A Deployment and Service of one Redis in `namespace`, as the
/// `restricted` Pod Security level allows, keeping nothing on disk.
pub fn redis_manifest(namespace: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: redis, namespace: {namespace}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: redis}}}}
  template:
    metadata: {{labels: {{app: redis}}}}
    spec:
      automountServiceAccountToken: false
      securityContext: {{runAsNonRoot: true, seccompProfile: {{type: RuntimeDefault}}}}
      containers:
        - name: redis
          image: {REDIS_IMAGE}
          imagePullPolicy: Never
          args: ["--port", "6379", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", "/data"]
          ports: [{{name: redis, containerPort: 6379}}]
          readinessProbe: {{tcpSocket: {{port: 6379}}, periodSeconds: 2}}
          resources: {{requests: {{cpu: 5m, memory: 16Mi}}, limits: {{memory: 128Mi}}}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
          volumeMounts: [{{name: data, mountPath: /data}}]
      volumes: [{{name: data, emptyDir: {{}}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: redis, namespace: {namespace}}}
spec:
  selector: {{app: redis}}
  ports: [{{name: redis, port: 6379, targetPort: redis}}]
"#
    )
}
