//! Command-line flags; every flag also reads an environment variable.

use clap::{Parser, ValueEnum};
use std::net::SocketAddr;

/// Reconciles OidcSettings into the Portcullis sidecar's Secret and ConfigMap.
///
/// Connects with the in-cluster service account, or `$KUBECONFIG` /
/// `~/.kube/config` outside a cluster.
#[derive(Debug, Parser)]
#[command(version)]
pub struct Args {
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "PORTCULLIS_ADMIN_LISTEN", default_value = "0.0.0.0:8080")]
    pub admin_listen: SocketAddr,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "PORTCULLIS_WATCH_NAMESPACE")]
    pub namespace: Option<String>,
    /// Name of the leader-election Lease.
    #[arg(
        long,
        env = "PORTCULLIS_LEASE_NAME",
        default_value = "portcullis-operator"
    )]
    pub lease_name: String,
    /// Namespace of the leader-election Lease (usually the operator's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// This replica's identity in the Lease (usually the pod name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Seconds a leader's Lease stays valid without renewal.
    #[arg(long, env = "PORTCULLIS_LEASE_SECONDS", default_value_t = 15)]
    pub lease_seconds: u64,
    /// Seconds to wait for a provider's discovery document.
    #[arg(
        long,
        env = "PORTCULLIS_DISCOVERY_TIMEOUT_SECONDS",
        default_value_t = 5
    )]
    pub discovery_timeout_seconds: u64,
    /// Seconds a fetched discovery document is reused.
    #[arg(long, env = "PORTCULLIS_DISCOVERY_CACHE_SECONDS", default_value_t = 60)]
    pub discovery_cache_seconds: u64,
    /// Seconds between re-checks of a ready OidcSettings.
    #[arg(long, env = "PORTCULLIS_RECHECK_SECONDS", default_value_t = 300)]
    pub recheck_seconds: u64,
    /// Seconds between re-checks of an OidcSettings that is not ready.
    #[arg(long, env = "PORTCULLIS_RETRY_SECONDS", default_value_t = 30)]
    pub retry_seconds: u64,
    /// Most OidcSettings reconciled at once (0: no limit).
    #[arg(long, env = "PORTCULLIS_CONCURRENT_RECONCILES", default_value_t = 16)]
    pub concurrent_reconciles: u16,
    /// Most root-admin passwords hashed at once; each argon2id run takes about
    /// 19 MiB and one core for about 25 ms.
    #[arg(long, env = "PORTCULLIS_CONCURRENT_HASHES", default_value_t = 2)]
    pub concurrent_hashes: usize,
    /// Log format.
    #[arg(long, env = "PORTCULLIS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Plain,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values() {
        let args = Args::try_parse_from(["portcullis-operator"]).expect("parses");
        assert_eq!(args.admin_listen.port(), 8080);
        assert_eq!(args.lease_name, "portcullis-operator");
        assert_eq!(args.log_format, LogFormat::Json);
    }

    #[test]
    fn flags_override_defaults() {
        let args = Args::try_parse_from([
            "portcullis-operator",
            "--admin-listen",
            "127.0.0.1:9999",
            "--namespace",
            "media",
            "--lease-seconds",
            "4",
        ])
        .expect("parses");
        assert_eq!(args.namespace.as_deref(), Some("media"));
        assert_eq!(args.lease_seconds, 4);
    }
}
