//! Why the operator's provider check failed, against real servers on
//! loopback: a provider behind a CA made here (untrusted, trusted, the
//! wrong host name, expired), a plain-HTTP server asked for TLS, a closed
//! port, a server that never answers, a missing page and a name that does
//! not resolve. Each failure is told apart in words a platform team can
//! act on, with no address or port in them.

use anyhow::Result;
use portcullis_e2e::certificate::TestCertificate;
use portcullis_e2e::idp::Idp;
use portcullis_e2e::process::free_port;
use portcullis_e2e::sidecar::reserve_public_url;
use portcullis_operator::discovery::DiscoveryCache;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(2);

fn cache() -> DiscoveryCache {
    DiscoveryCache::new(TIMEOUT, Duration::ZERO, Duration::ZERO)
}

/// The failure fetching `url` trusting `roots`.
async fn failure(url: &str, roots: &[Vec<u8>]) -> String {
    match cache().get(url, roots).await {
        Ok(found) => format!("fetched a document for {}", found.issuer),
        Err(error) => error,
    }
}

fn roots_of(certificate: &TestCertificate) -> Result<Vec<Vec<u8>>> {
    Ok(portcullis_contract::ca_bundle::certificates(
        certificate.ca_pem(),
    )?)
}

#[tokio::test]
async fn certificate_failures_name_their_cause_and_the_named_ca_is_trusted() -> Result<()> {
    let certificate = TestCertificate::issue()?;
    let (_, public_url) = reserve_public_url();
    let idp = Idp::start_tls(&public_url, &certificate).await?;
    let url = idp.well_known_url();

    let untrusted = failure(&url, &[]).await;
    assert_eq!(
        untrusted,
        "TLS failed: its certificate is not signed by a CA trusted here: \
         name the CA that signed it in spec.caBundle"
    );
    let roots = roots_of(&certificate)?;
    let trusted = cache()
        .get(&url, &roots)
        .await
        .map_err(anyhow::Error::msg)?;
    assert_eq!(trusted.issuer, idp.issuer);

    // The certificate names 127.0.0.1; `localhost` reaches the same server.
    let other_name = url.replace("127.0.0.1", "localhost");
    assert_eq!(
        failure(&other_name, &roots).await,
        "TLS failed: its certificate does not name the host in spec.wellKnownUrl"
    );

    let stale = TestCertificate::expired()?;
    let expired_idp = Idp::start_tls(&public_url, &stale).await?;
    assert_eq!(
        failure(&expired_idp.well_known_url(), &roots_of(&stale)?).await,
        "TLS failed: its certificate has expired"
    );
    Ok(())
}

#[tokio::test]
async fn network_and_http_failures_name_their_cause() -> Result<()> {
    let (_, public_url) = reserve_public_url();
    let plain = Idp::start(&public_url).await?;
    let tls_to_plain = plain.well_known_url().replace("http://", "https://");
    let handshake = failure(&tls_to_plain, &[]).await;
    assert!(
        handshake.starts_with("TLS failed: the handshake was refused"),
        "{handshake}"
    );

    let missing = plain
        .well_known_url()
        .replace("/.well-known/", "/realms/gone/.well-known/");
    assert_eq!(failure(&missing, &[]).await, "HTTP 404 Not Found");

    let closed = format!(
        "http://127.0.0.1:{}/.well-known/openid-configuration",
        free_port()
    );
    assert_eq!(failure(&closed, &[]).await, "connection refused");

    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let silent_url = format!(
        "http://{}/.well-known/openid-configuration",
        silent.local_addr()?
    );
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    assert_eq!(
        failure(&silent_url, &[]).await,
        format!("no answer within {}s", TIMEOUT.as_secs())
    );
    held.abort();

    let unresolvable = "https://sso.portcullis.invalid/.well-known/openid-configuration";
    assert_eq!(
        failure(unresolvable, &[]).await,
        "the host name does not resolve"
    );
    Ok(())
}

#[tokio::test]
async fn a_page_that_is_not_a_discovery_document_is_named() -> Result<()> {
    let (_, public_url) = reserve_public_url();
    let plain = Idp::start(&public_url).await?;
    let jwks = format!("{}/jwks", plain.issuer);
    let answer = failure(&jwks, &[]).await;
    assert!(
        answer.starts_with("not an OpenID discovery document") && answer.contains("missing field"),
        "{answer}"
    );
    Ok(())
}
