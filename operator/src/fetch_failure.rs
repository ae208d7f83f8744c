//! Why a request to the provider failed, in words a platform team can act
//! on: an untrusted or mismatched certificate, a name that does not
//! resolve, a refused connection, a timeout. The words are stable (no
//! addresses, ports or OS error numbers), so an unchanged outage yields an
//! unchanged status and nothing is rewritten.

use std::error::Error as _;
use std::time::Duration;

/// The cause of `error`, for a status message.
pub fn failure_cause(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {}s", timeout.as_secs());
    }
    let mut chain = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push(cause.to_string());
        source = cause.source();
    }
    cause_in(&chain, error.is_connect())
}

/// The cause named by the messages of an error's sources.
fn cause_in(chain: &[String], connecting: bool) -> String {
    let said = |words: &str| chain.iter().any(|message| message.contains(words));
    let certificate = if said("UnknownIssuer") {
        Some(
            "its certificate is not signed by a CA trusted here: name the CA that signed it in spec.caBundle",
        )
    } else if said("NotValidForName") || said("not valid for name") {
        Some("its certificate does not name the host in spec.wellKnownUrl")
    } else if said("Expired") || said("certificate expired") {
        Some("its certificate has expired")
    } else if said("NotValidYet") || said("not valid yet") {
        Some("its certificate is not valid yet")
    } else if said("invalid peer certificate") {
        Some("its certificate was refused")
    } else {
        None
    };
    if let Some(certificate) = certificate {
        return format!("TLS failed: {certificate}");
    }
    if said("received fatal alert") || said("peer is incompatible") || said("InvalidContentType") {
        return "TLS failed: the handshake was refused (no TLS version or cipher in common, or not TLS at all)".to_owned();
    }
    if said("dns error") || said("failed to lookup address") {
        return "the host name does not resolve".to_owned();
    }
    if said("Connection refused") {
        return "connection refused".to_owned();
    }
    if said("Connection reset") {
        return "connection reset".to_owned();
    }
    if connecting {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cause(messages: &[&str]) -> String {
        let chain: Vec<String> = messages.iter().map(|m| (*m).to_owned()).collect();
        cause_in(&chain, true)
    }

    #[test]
    fn certificate_problems_are_told_apart() {
        let unknown = cause(&[
            "client error (Connect)",
            "invalid peer certificate: UnknownIssuer",
        ]);
        assert!(unknown.contains("spec.caBundle"), "{unknown}");
        let name = cause(&["invalid peer certificate: NotValidForName"]);
        assert!(name.contains("does not name the host"), "{name}");
        assert!(cause(&["invalid peer certificate: Expired"]).contains("expired"));
        assert!(cause(&["invalid peer certificate: BadSignature"]).contains("refused"));
    }

    #[test]
    fn network_problems_are_told_apart_without_addresses() {
        let dns =
            cause(&["dns error: failed to lookup address information: Name or service not known"]);
        assert_eq!(dns, "the host name does not resolve");
        let refused = cause(&["tcp connect error: Connection refused (os error 111)"]);
        assert_eq!(refused, "connection refused");
        assert!(cause(&["received fatal alert: ProtocolVersion"]).contains("handshake"));
        assert_eq!(cause(&["something else"]), "connection failed");
        assert_eq!(cause_in(&[], false), "request failed");
    }
}
