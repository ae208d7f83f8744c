//! The webhook's own CA and serving certificate: when to make new ones, and
//! making them. No IO.
//!
//! Each renewal makes a fresh CA and a serving certificate signed by it; the
//! CA key is thrown away at once (nothing else is ever signed with it), so the
//! stored Secret holds no key that could mint other certificates. The CA
//! bundle handed to the API server is the new CA followed by the one it
//! replaces: while replicas switch from the old serving certificate to the new
//! one, the API server trusts both. Renewal is due after two thirds of the
//! validity, so the old pair still has a third of its life during the switch.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use std::time::Duration;
use time::OffsetDateTime;

/// Certificates could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// Key generation or signing failed.
    #[error("cannot make the webhook certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A validity bound is not a representable time.
    #[error("webhook certificate validity ends at an impossible time ({0})")]
    Time(i64),
}

/// A serving certificate with its key and the CA bundle that trusts it.
#[derive(Clone, PartialEq, Eq)]
pub struct Material {
    /// PEM: the CA that signed `cert_pem`, then the previous CA if any.
    pub ca_bundle: String,
    /// PEM of the serving certificate.
    pub cert_pem: String,
    /// PEM (PKCS#8) of the serving certificate's key.
    pub key_pem: String,
    /// The DNS names and IPs the certificate is valid for, sorted.
    pub hosts: Vec<String>,
    /// Unix seconds after which it expires.
    pub not_after: i64,
    /// Unix seconds after which a replacement is due.
    pub renew_after: i64,
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("hosts", &self.hosts)
            .field("not_after", &self.not_after)
            .field("renew_after", &self.renew_after)
            .finish_non_exhaustive()
    }
}

/// Why new certificates are needed, or `None` when `stored` still serves.
pub fn renewal_due(stored: Option<&Material>, hosts: &[String], now: i64) -> Option<&'static str> {
    let Some(stored) = stored else {
        return Some("no certificate stored yet");
    };
    if stored.hosts != sorted(hosts) {
        return Some("the webhook's host names changed");
    }
    if now >= stored.renew_after {
        return Some("two thirds of the validity have passed");
    }
    None
}

/// A new CA and serving certificate for `hosts`, valid `validity` from `now`
/// (Unix seconds); `previous` is the material being replaced.
pub fn issue(
    hosts: &[String],
    validity: Duration,
    now: i64,
    previous: Option<&Material>,
) -> Result<Material, CertError> {
    // Ten years at most: beyond that, times stop being representable.
    let seconds = i64::try_from(validity.as_secs())
        .unwrap_or(i64::MAX)
        .clamp(3, 10 * 366 * 86_400);
    // A little slack for clocks behind ours, never more than a tenth of the validity.
    let start = now - (seconds / 10).min(60);
    let not_after = now + seconds;
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name = name(&format!("portcullis webhook CA {now}"));
    ca.not_before = time(start)?;
    ca.not_after = time(not_after)?;
    let ca_cert = ca.self_signed(&ca_key)?;

    let key = KeyPair::generate()?;
    let hosts = sorted(hosts);
    let mut leaf = CertificateParams::new(hosts.clone())?;
    leaf.distinguished_name = name("portcullis webhook");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = time(start)?;
    leaf.not_after = time(not_after)?;
    let cert = leaf.signed_by(&key, &Issuer::new(ca, ca_key))?;

    let mut ca_bundle = ca_cert.pem();
    if let Some(current) = previous.and_then(|p| first_certificate(&p.ca_bundle)) {
        ca_bundle.push_str(&current);
    }
    Ok(Material {
        ca_bundle,
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        hosts,
        not_after,
        renew_after: now + seconds * 2 / 3,
    })
}

/// The first PEM certificate of a bundle, with its end line.
fn first_certificate(bundle: &str) -> Option<String> {
    const END: &str = "-----END CERTIFICATE-----";
    let end = bundle.find(END)? + END.len();
    Some(format!("{}\n", bundle[..end].trim_start()))
}

fn sorted(hosts: &[String]) -> Vec<String> {
    let mut hosts = hosts.to_vec();
    hosts.sort();
    hosts.dedup();
    hosts
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

fn time(unix: i64) -> Result<OffsetDateTime, CertError> {
    OffsetDateTime::from_unix_timestamp(unix).map_err(|_| CertError::Time(unix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<String> {
        vec![
            "portcullis-webhook.portcullis.svc".into(),
            "127.0.0.1".into(),
        ]
    }

    fn count(bundle: &str) -> usize {
        bundle.matches("BEGIN CERTIFICATE").count()
    }

    #[test]
    fn nothing_stored_means_issue() {
        assert!(renewal_due(None, &hosts(), 0).is_some());
    }

    #[test]
    fn renewal_is_due_after_two_thirds_of_the_validity() {
        let material = issue(&hosts(), Duration::from_secs(300), 1_000, None).expect("issued");
        assert_eq!(material.renew_after, 1_200);
        assert_eq!(material.not_after, 1_300);
        assert_eq!(renewal_due(Some(&material), &hosts(), 1_199), None);
        assert!(renewal_due(Some(&material), &hosts(), 1_200).is_some());
    }

    #[test]
    fn changed_hosts_mean_a_new_certificate() {
        let material = issue(&hosts(), Duration::from_secs(300), 1_000, None).expect("issued");
        let mut reversed = hosts();
        reversed.reverse();
        assert_eq!(renewal_due(Some(&material), &reversed, 1_000), None);
        assert!(renewal_due(Some(&material), &["other.svc".to_owned()], 1_000).is_some());
    }

    #[test]
    fn a_renewal_bundles_the_new_ca_and_the_one_it_replaces() {
        let first = issue(&hosts(), Duration::from_secs(300), 1_000, None).expect("issued");
        assert_eq!(count(&first.ca_bundle), 1);
        let second =
            issue(&hosts(), Duration::from_secs(300), 1_200, Some(&first)).expect("renewed");
        assert_eq!(count(&second.ca_bundle), 2);
        assert!(second.ca_bundle.ends_with(&first.ca_bundle));
        assert_ne!(second.cert_pem, first.cert_pem);
        let third =
            issue(&hosts(), Duration::from_secs(300), 1_400, Some(&second)).expect("renewed");
        assert_eq!(count(&third.ca_bundle), 2, "the oldest CA is dropped");
        assert!(!third.ca_bundle.contains(first.ca_bundle.trim()));
    }

    #[test]
    fn debug_output_has_no_key() {
        let material = issue(&hosts(), Duration::from_secs(300), 1_000, None).expect("issued");
        assert!(!format!("{material:?}").contains("PRIVATE KEY"));
    }
}
