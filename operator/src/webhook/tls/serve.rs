//! The webhook's HTTPS listener, whose certificate can be swapped while it runs.
//!
//! The certificate lives in a [`CertSlot`] that rustls asks on every
//! handshake, so a renewed certificate is served from the next connection on
//! while connections already open finish with the old one: no restart, and no
//! admission request fails during the switch.

use super::certs::Material;
use arc_swap::ArcSwapOption;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls::crypto::ring::{default_provider, sign::any_supported_type};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::debug;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The served certificate could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The PEM text holds no certificate or no usable key.
    #[error("webhook certificate or key unreadable: {0}")]
    Pem(String),
    /// rustls refused the key or the configuration.
    #[error("webhook TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The certificate the listener serves; empty until the first one is loaded.
#[derive(Debug, Default)]
pub struct CertSlot {
    key: ArcSwapOption<CertifiedKey>,
    pem: ArcSwapOption<String>,
}

impl CertSlot {
    /// Serves `material` from the next handshake on.
    pub fn set(&self, material: &Material) -> Result<(), TlsError> {
        let chain = CertificateDer::pem_slice_iter(material.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Pem(e.to_string()))?;
        if chain.is_empty() {
            return Err(TlsError::Pem("no certificate".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(material.key_pem.as_bytes())
            .map_err(|e| TlsError::Pem(e.to_string()))?;
        let key = CertifiedKey::new(chain, any_supported_type(&key)?);
        self.key.store(Some(Arc::new(key)));
        self.pem.store(Some(Arc::new(material.cert_pem.clone())));
        Ok(())
    }

    /// The PEM of the certificate served now, if any.
    pub fn served(&self) -> Option<Arc<String>> {
        self.pem.load_full()
    }
}

impl ResolvesServerCert for CertSlot {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.key.load_full()
    }
}

/// The rustls configuration serving whatever `slot` holds (HTTP/1.1).
pub fn server_config(slot: Arc<CertSlot>) -> Result<ServerConfig, TlsError> {
    Ok(
        ServerConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(slot),
    )
}

/// Accepts TLS connections on `listener` and serves `app` on each, forever.
pub async fn serve(listener: TcpListener, config: ServerConfig, app: axum::Router) {
    let acceptor = TlsAcceptor::from(Arc::new(config));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                debug!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT)
                .serve_connection(TokioIo::new(tls), service);
            if let Err(error) = connection.await {
                debug!(%peer, %error, "webhook connection ended with an error");
            }
        });
    }
}
