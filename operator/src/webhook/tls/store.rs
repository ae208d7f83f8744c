//! Keeping the webhook certificate in a Secret, the `caBundle` in the
//! `MutatingWebhookConfiguration`, and the served certificate in step.
//!
//! Every replica runs this loop, so every replica serves the pair the Secret
//! holds. When a new pair is due, whichever replica writes the Secret first
//! wins (the write carries the resourceVersion it read); the others read the
//! winner's pair. The `caBundle` is derived from the Secret alone, so replicas
//! never disagree about it. A replica switches to a new certificate only after
//! the bundle that trusts it is in place, plus a short grace for the API
//! server to notice; the old certificate stays valid for a third of its life.
//!
//! With `external` certificates (cert-manager) the loop only reads the Secret:
//! the issuer renews it and injects the `caBundle`.

use super::certs::{Material, issue, renewal_due};
use super::serve::{CertSlot, TlsError};
use crate::metrics::Metrics;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::{debug, info, warn};

/// Secret key of the CA bundle.
pub const CA_KEY: &str = "ca.crt";
/// Secret key of the serving certificate.
pub const CERT_KEY: &str = "tls.crt";
/// Secret key of the serving certificate's key.
pub const KEY_KEY: &str = "tls.key";
/// Annotation: the host names the certificate is for, comma-separated.
pub const HOSTS_ANNOTATION: &str = "portcullis.dev/webhook-hosts";
/// Annotation: Unix seconds after which a new pair is due.
pub const RENEW_AFTER_ANNOTATION: &str = "portcullis.dev/renew-after";
/// Annotation: Unix seconds after which the certificate expires.
pub const NOT_AFTER_ANNOTATION: &str = "portcullis.dev/not-after";

/// Errors keeping the certificate; each is retried.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The API server refused or could not be reached.
    #[error("webhook certificate Secret: {0}")]
    Kube(#[from] kube::Error),
    /// A new pair could not be made.
    #[error(transparent)]
    Cert(#[from] super::certs::CertError),
    /// The pair could not be served.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// An external Secret is missing or incomplete.
    #[error("Secret {0} has no usable tls.crt and tls.key yet")]
    External(String),
}

/// Who makes the certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertMode {
    /// The operator makes its own CA and serving certificate.
    SelfSigned,
    /// Someone else (cert-manager) writes the Secret and the `caBundle`.
    External,
}

/// What the loop needs.
pub struct CertStore {
    /// Secrets of the operator's namespace.
    pub secrets: Api<Secret>,
    /// The Secret's name.
    pub secret_name: String,
    /// Mutating webhook configurations (cluster-wide).
    pub webhooks: Api<MutatingWebhookConfiguration>,
    /// Name of the configuration whose `caBundle` is patched.
    pub webhook_name: String,
    /// DNS names and IPs the certificate must cover.
    pub hosts: Vec<String>,
    /// Validity of a new pair.
    pub validity: Duration,
    /// Longest time between two looks at the Secret.
    pub check: Duration,
    /// Wait between a `caBundle` change and serving the new certificate.
    pub grace: Duration,
    /// Who makes the certificates.
    pub mode: CertMode,
}

impl CertStore {
    /// Runs forever: keeps `slot` serving the Secret's certificate.
    pub async fn run(self, slot: Arc<CertSlot>, metrics: Arc<Metrics>) {
        loop {
            let next = match self.sync(&slot, &metrics).await {
                Ok(next) => next,
                Err(error) => {
                    warn!(%error, "cannot keep the webhook certificate; retrying");
                    Duration::from_secs(2)
                }
            };
            tokio::time::sleep(next.clamp(Duration::from_millis(200), self.check)).await;
        }
    }

    /// One look: renew if due, publish the bundle, serve; returns when to look again.
    async fn sync(&self, slot: &CertSlot, metrics: &Metrics) -> Result<Duration, StoreError> {
        let now = unix_now();
        let existing = self.secrets.get_opt(&self.secret_name).await?;
        let stored = existing.as_ref().and_then(material);
        let material = match (self.mode, stored) {
            (CertMode::External, Some(stored)) => stored,
            (CertMode::External, None) => {
                return Err(StoreError::External(self.secret_name.clone()));
            }
            (CertMode::SelfSigned, stored) => {
                match renewal_due(stored.as_ref(), &self.hosts, now) {
                    None => stored.ok_or_else(|| StoreError::External(self.secret_name.clone()))?,
                    Some(why) => {
                        let fresh = issue(&self.hosts, self.validity, now, stored.as_ref())?;
                        if !self.write(existing, &fresh).await? {
                            // Another replica wrote first: read its pair at once.
                            return Ok(Duration::ZERO);
                        }
                        info!(
                            why,
                            not_after = fresh.not_after,
                            "made a new webhook certificate"
                        );
                        metrics.webhook_cert_renewals.inc();
                        fresh
                    }
                }
            }
        };
        if self.mode == CertMode::SelfSigned {
            self.publish_bundle(&material.ca_bundle).await;
        }
        let served = slot.served();
        if served.as_deref() != Some(&material.cert_pem) {
            if served.is_some() {
                tokio::time::sleep(self.grace).await;
            }
            slot.set(&material)?;
            metrics.webhook_cert_expiry.set(material.not_after);
            info!(
                not_after = material.not_after,
                "serving the webhook certificate"
            );
        }
        let due_in = u64::try_from(material.renew_after.saturating_sub(unix_now())).unwrap_or(0);
        Ok(Duration::from_secs(due_in))
    }

    /// Creates or replaces the Secret; `false` when another replica wrote first.
    async fn write(
        &self,
        existing: Option<Secret>,
        material: &Material,
    ) -> Result<bool, StoreError> {
        let mut secret = existing.unwrap_or_else(|| Secret {
            metadata: ObjectMeta {
                name: Some(self.secret_name.clone()),
                ..ObjectMeta::default()
            },
            type_: Some("kubernetes.io/tls".into()),
            ..Secret::default()
        });
        let annotations = secret
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new);
        annotations.insert(HOSTS_ANNOTATION.into(), material.hosts.join(","));
        annotations.insert(
            RENEW_AFTER_ANNOTATION.into(),
            material.renew_after.to_string(),
        );
        annotations.insert(NOT_AFTER_ANNOTATION.into(), material.not_after.to_string());
        secret.data = Some(BTreeMap::from([
            (CA_KEY.to_owned(), bytes(&material.ca_bundle)),
            (CERT_KEY.to_owned(), bytes(&material.cert_pem)),
            (KEY_KEY.to_owned(), bytes(&material.key_pem)),
        ]));
        let params = PostParams::default();
        let result = if secret.metadata.resource_version.is_some() {
            self.secrets
                .replace(&self.secret_name, &params, &secret)
                .await
        } else {
            self.secrets.create(&params, &secret).await
        };
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Puts `bundle` into every webhook of the configuration, if it exists and differs.
    async fn publish_bundle(&self, bundle: &str) {
        let result = async {
            let Some(mut config) = self.webhooks.get_opt(&self.webhook_name).await? else {
                debug!(
                    name = self.webhook_name,
                    "no MutatingWebhookConfiguration yet"
                );
                return Ok::<_, kube::Error>(false);
            };
            let wanted = Some(bytes(bundle));
            let webhooks = config.webhooks.iter_mut().flatten();
            let mut changed = false;
            for webhook in webhooks {
                if webhook.client_config.ca_bundle != wanted {
                    webhook.client_config.ca_bundle = wanted.clone();
                    changed = true;
                }
            }
            if changed {
                self.webhooks
                    .replace(&self.webhook_name, &PostParams::default(), &config)
                    .await?;
                info!(name = self.webhook_name, "updated the webhook caBundle");
            }
            Ok(changed)
        }
        .await;
        if let Err(error) = result {
            warn!(%error, name = self.webhook_name, "cannot update the webhook caBundle");
        }
    }
}

/// The pair stored in `secret`, if complete.
fn material(secret: &Secret) -> Option<Material> {
    let data = secret.data.as_ref()?;
    let text = |key: &str| {
        data.get(key)
            .and_then(|value| String::from_utf8(value.0.clone()).ok())
    };
    let annotations = secret.metadata.annotations.clone().unwrap_or_default();
    let number = |key: &str| annotations.get(key).and_then(|v| v.parse::<i64>().ok());
    let hosts = annotations
        .get(HOSTS_ANNOTATION)
        .map(|hosts| hosts.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    Some(Material {
        ca_bundle: text(CA_KEY).unwrap_or_default(),
        cert_pem: text(CERT_KEY)?,
        key_pem: text(KEY_KEY)?,
        hosts,
        not_after: number(NOT_AFTER_ANNOTATION).unwrap_or(i64::MAX),
        renew_after: number(RENEW_AFTER_ANNOTATION).unwrap_or(i64::MAX),
    })
}

fn bytes(text: &str) -> ByteString {
    ByteString(text.as_bytes().to_vec())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
