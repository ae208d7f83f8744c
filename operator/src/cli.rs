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
    #[arg(long, env = "PORTCULLIS_DISCOVERY_CACHE_SECONDS", default_value_t = 30)]
    pub discovery_cache_seconds: u64,
    /// Seconds between re-checks of a ready OidcSettings: with the
    /// discovery cache, how late a provider outage shows in the status.
    #[arg(long, env = "PORTCULLIS_RECHECK_SECONDS", default_value_t = 45)]
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
    /// Address of the HTTPS admission webhook (every replica serves it).
    #[arg(
        long,
        env = "PORTCULLIS_WEBHOOK_LISTEN",
        default_value = "0.0.0.0:8443"
    )]
    pub webhook_listen: SocketAddr,
    /// Name of the MutatingWebhookConfiguration whose caBundle the operator keeps.
    #[arg(long, env = "PORTCULLIS_WEBHOOK_CONFIG", default_value = "portcullis")]
    pub webhook_config: String,
    /// Service in front of the webhook; the certificate is made for `<service>.<namespace>.svc`.
    #[arg(
        long,
        env = "PORTCULLIS_WEBHOOK_SERVICE",
        default_value = "portcullis-webhook"
    )]
    pub webhook_service: String,
    /// More DNS names or IP addresses for the webhook certificate, comma-separated.
    #[arg(long, env = "PORTCULLIS_WEBHOOK_EXTRA_HOSTS", value_delimiter = ',')]
    pub webhook_extra_hosts: Vec<String>,
    /// Secret (in the Lease's namespace) holding the webhook certificate.
    #[arg(
        long,
        env = "PORTCULLIS_WEBHOOK_CERT_SECRET",
        default_value = "portcullis-webhook-tls"
    )]
    pub webhook_cert_secret: String,
    /// Who makes the webhook certificate: the operator itself, or someone
    /// else (cert-manager) who writes the Secret and the caBundle.
    #[arg(long, env = "PORTCULLIS_WEBHOOK_CERT_MODE", value_enum, default_value_t = CertSource::SelfSigned)]
    pub webhook_cert_mode: CertSource,
    /// Validity of a self-made webhook certificate; renewed after two thirds.
    #[arg(
        long,
        env = "PORTCULLIS_WEBHOOK_CERT_VALIDITY_SECONDS",
        default_value_t = 365 * 86_400
    )]
    pub webhook_cert_validity_seconds: u64,
    /// Longest time between two looks at the certificate Secret and the caBundle.
    #[arg(
        long,
        env = "PORTCULLIS_WEBHOOK_CERT_CHECK_SECONDS",
        default_value_t = 60
    )]
    pub webhook_cert_check_seconds: u64,
    /// Image of the injected sidecar.
    #[arg(long, env = "PORTCULLIS_SIDECAR_IMAGE", default_value = concat!("portcullis-sidecar:", env!("CARGO_PKG_VERSION")))]
    pub sidecar_image: String,
    /// Pull policy of the injected sidecar's image.
    #[arg(long, env = "PORTCULLIS_SIDECAR_PULL_POLICY", default_value = "IfNotPresent",
          value_parser = ["Always", "IfNotPresent", "Never"])]
    pub sidecar_pull_policy: String,
    /// CPU request of the injected sidecar.
    #[arg(long, env = "PORTCULLIS_SIDECAR_CPU_REQUEST", default_value = "10m")]
    pub sidecar_cpu_request: String,
    /// Memory request of the injected sidecar.
    #[arg(
        long,
        env = "PORTCULLIS_SIDECAR_MEMORY_REQUEST",
        default_value = "32Mi"
    )]
    pub sidecar_memory_request: String,
    /// CPU limit of the injected sidecar (default: none).
    #[arg(long, env = "PORTCULLIS_SIDECAR_CPU_LIMIT")]
    pub sidecar_cpu_limit: Option<String>,
    /// Memory limit of the injected sidecar.
    #[arg(long, env = "PORTCULLIS_SIDECAR_MEMORY_LIMIT", default_value = "128Mi")]
    pub sidecar_memory_limit: String,
    /// Secrets (names, comma-separated) the injected pods pull the
    /// sidecar's image with; they must exist in each app's namespace.
    #[arg(
        long,
        env = "PORTCULLIS_SIDECAR_IMAGE_PULL_SECRETS",
        value_delimiter = ','
    )]
    pub sidecar_image_pull_secrets: Vec<String>,
    /// An environment variable for the injected sidecar, `NAME=VALUE`;
    /// repeat the flag for more.
    #[arg(long = "sidecar-env", value_parser = env_var)]
    pub sidecar_env: Vec<(String, String)>,
    /// The `preStop` sleep the webhook gives the app's containers that have
    /// none, so a rollout drops no request (0: none; the pod annotation
    /// `portcullis.dev/app-pre-stop-sleep-seconds` overrides it).
    #[arg(
        long,
        env = "PORTCULLIS_APP_PRE_STOP_SLEEP_SECONDS",
        default_value_t = 5,
        value_parser = clap::value_parser!(u8).range(0..=120)
    )]
    pub app_pre_stop_sleep_seconds: u8,
    /// The operator's own pod labels, `KEY=VALUE` comma-separated: each
    /// generated NetworkPolicy admits pods with these labels in the
    /// operator's namespace to the sidecar's admin port, where the
    /// operator asks which settings a pod serves (none: not admitted).
    #[arg(
        long,
        env = "PORTCULLIS_OWN_POD_LABELS",
        value_delimiter = ',',
        value_parser = label
    )]
    pub own_pod_labels: Vec<(String, String)>,
    /// Log format.
    #[arg(long, env = "PORTCULLIS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
}

/// `KEY=VALUE`, a label as a selector names it.
fn label(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))?;
    if key.is_empty() || key.contains(char::is_whitespace) || value.contains(char::is_whitespace) {
        return Err(format!("{text:?} is not a label KEY=VALUE"));
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// `NAME=VALUE`, with a name a shell would take.
fn env_var(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=VALUE"))?;
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "{name:?} is not a variable name (letters, digits, _)"
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// Who makes the webhook certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CertSource {
    /// The operator makes a CA and a serving certificate and keeps them renewed.
    SelfSigned,
    /// cert-manager (or anyone) writes the Secret and injects the caBundle.
    External,
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
    fn sidecar_env_is_name_equals_value_and_repeats() {
        let args = Args::try_parse_from([
            "portcullis-operator",
            "--sidecar-env=RUST_LOG=debug,hyper=info",
            "--sidecar-env",
            "HTTPS_PROXY=http://proxy:3128",
            "--sidecar-image-pull-secrets=mirror,team",
        ])
        .expect("parses");
        assert_eq!(
            args.sidecar_env,
            [
                ("RUST_LOG".to_owned(), "debug,hyper=info".to_owned()),
                ("HTTPS_PROXY".to_owned(), "http://proxy:3128".to_owned()),
            ]
        );
        assert_eq!(args.sidecar_image_pull_secrets, ["mirror", "team"]);
        for bad in [
            "--sidecar-env=NOVALUE",
            "--sidecar-env=1X=y",
            "--sidecar-env=A-B=c",
        ] {
            assert!(
                Args::try_parse_from(["portcullis-operator", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn defaults_are_documented_values() {
        let args = Args::try_parse_from(["portcullis-operator"]).expect("parses");
        assert_eq!(args.admin_listen.port(), 8080);
        assert_eq!(args.lease_name, "portcullis-operator");
        assert_eq!(args.log_format, LogFormat::Json);
        assert_eq!(args.webhook_listen.port(), 8443);
        assert_eq!(args.webhook_cert_mode, CertSource::SelfSigned);
        assert!(args.sidecar_image.starts_with("portcullis-sidecar:"));
        assert_eq!(args.sidecar_cpu_limit, None);
    }

    #[test]
    fn webhook_hosts_are_a_comma_list_and_pull_policy_is_checked() {
        let args = Args::try_parse_from([
            "portcullis-operator",
            "--webhook-extra-hosts",
            "127.0.0.1,webhook.example",
        ])
        .expect("parses");
        assert_eq!(args.webhook_extra_hosts, ["127.0.0.1", "webhook.example"]);
        assert!(
            Args::try_parse_from(["portcullis-operator", "--sidecar-pull-policy", "Sometimes"])
                .is_err()
        );
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

    #[test]
    fn own_pod_labels_are_key_value_pairs() {
        let args = Args::try_parse_from([
            "portcullis-operator",
            "--own-pod-labels",
            "app.kubernetes.io/name=portcullis,app.kubernetes.io/component=operator",
        ])
        .expect("parses");
        assert_eq!(
            args.own_pod_labels,
            [
                ("app.kubernetes.io/name".to_owned(), "portcullis".to_owned()),
                (
                    "app.kubernetes.io/component".to_owned(),
                    "operator".to_owned()
                )
            ]
        );
        let refused =
            Args::try_parse_from(["portcullis-operator", "--own-pod-labels", "portcullis"])
                .expect_err("not KEY=VALUE");
        assert!(refused.to_string().contains("KEY=VALUE"), "{refused}");
    }
}
