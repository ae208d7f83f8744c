//! A bundle of CA certificates in PEM: the private CA a provider's
//! certificate chains to (a company Keycloak, ADFS, a lab Dex). Read the
//! same way by the operator, before it writes a config, and by the
//! sidecar, when it loads one, so both trust the same roots and refuse the
//! same broken bundle with the same words.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Why a bundle cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CaBundleError {
    /// No `CERTIFICATE` block at all (an empty key, a key or a CSR pasted
    /// by mistake).
    #[error("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    /// A `CERTIFICATE` block whose contents are not base64.
    #[error("holds a PEM certificate that cannot be read: {0}")]
    Unreadable(String),
}

/// The certificates in `pem`, in order (DER); other PEM blocks are skipped.
pub fn certificates(pem: &str) -> Result<Vec<Vec<u8>>, CaBundleError> {
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|certificate| {
            certificate
                .map(|der| der.as_ref().to_vec())
                .map_err(|error| CaBundleError::Unreadable(in_words(&error)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if certificates.is_empty() {
        return Err(CaBundleError::NoCertificate);
    }
    Ok(certificates)
}

/// A PEM error in words (the library prints markers as byte arrays).
fn in_words(error: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match error {
        Error::MissingSectionEnd { end_marker } => format!(
            "a block has no -----END {}----- line",
            String::from_utf8_lossy(end_marker)
        ),
        Error::IllegalSectionStart { line } => format!(
            "a block starts with a malformed line ({})",
            String::from_utf8_lossy(line)
        ),
        Error::Base64Decode(_) => "a certificate block is not base64".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";

    #[test]
    fn every_certificate_of_a_bundle_is_read_and_other_blocks_skipped() {
        let key = "-----BEGIN PRIVATE KEY-----\nMAMCAQE=\n-----END PRIVATE KEY-----\n";
        let bundle = format!("# the company's roots\n{ONE}{key}{ONE}");
        assert_eq!(certificates(&bundle).map(|found| found.len()), Ok(2));
        assert_eq!(
            certificates(ONE),
            Ok(vec![vec![0x30, 0x03, 0x02, 0x01, 0x01]])
        );
    }

    #[test]
    fn a_bundle_without_a_certificate_or_with_a_broken_one_is_refused() {
        assert_eq!(certificates(""), Err(CaBundleError::NoCertificate));
        let key = "-----BEGIN PRIVATE KEY-----\nMAMCAQE=\n-----END PRIVATE KEY-----\n";
        assert_eq!(certificates(key), Err(CaBundleError::NoCertificate));
        let broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            certificates(broken),
            Err(CaBundleError::Unreadable(_))
        ));
        let unended = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n";
        assert_eq!(
            certificates(unended),
            Err(CaBundleError::Unreadable(
                "a block has no -----END CERTIFICATE----- line".into()
            ))
        );
    }
}
