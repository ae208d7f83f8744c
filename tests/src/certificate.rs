//! A throwaway CA and a certificate it signed for 127.0.0.1, on disk, for
//! the servers a test runs over TLS (Redis, Sentinel, the identity provider)
//! and for what trusts them.

use anyhow::Result;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A certificate for 127.0.0.1 and the CA that signed it, on disk, for any
/// number of servers (a primary, its replica and their Sentinel, a provider).
pub struct TestCertificate {
    dir: tempfile::TempDir,
    ca_pem: String,
}

impl TestCertificate {
    /// A new CA and a certificate for 127.0.0.1 valid for an hour.
    pub fn issue() -> Result<Arc<Self>> {
        Self::issued_ago(Duration::ZERO)
    }

    /// A new CA and a certificate for 127.0.0.1 whose hour of validity
    /// ended an hour ago.
    pub fn expired() -> Result<Arc<Self>> {
        Self::issued_ago(Duration::from_secs(2 * 3600))
    }

    /// A CA and certificate issued as if `ago` earlier, valid for an hour.
    fn issued_ago(ago: Duration) -> Result<Arc<Self>> {
        let dir = tempfile::tempdir()?;
        let issued = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .saturating_sub(ago)
            .as_secs();
        let material = portcullis_operator::webhook::tls::certs::issue(
            &["127.0.0.1".to_owned()],
            Duration::from_secs(3600),
            i64::try_from(issued)?,
            None,
        )?;
        std::fs::write(dir.path().join("server.pem"), &material.cert_pem)?;
        std::fs::write(dir.path().join("server.key"), &material.key_pem)?;
        std::fs::write(dir.path().join("ca.pem"), &material.ca_bundle)?;
        Ok(Arc::new(Self {
            dir,
            ca_pem: material.ca_bundle,
        }))
    }

    /// The CA's PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The file `name` (`server.pem`, `server.key`, `ca.pem`).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
