//! Validating the connection bounds and the trusted proxies.

use super::problems::Problems;
use ipnet::IpNet;
use portcullis_contract::config::ConnectionsConfig;
use std::net::IpAddr;
use std::time::Duration;

/// The smallest request-head limit the HTTP server supports.
const MIN_HEAD_BYTES: usize = 8 * 1024;
/// The largest request-head limit accepted: beyond it one slow client costs too much.
const MAX_HEAD_BYTES: usize = 1024 * 1024;

/// Bounds on client connections (see `connections` in the config file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time to send a request head, or to stay idle between requests.
    pub header_read_timeout: Duration,
    /// Client connections open at once.
    pub max_connections: usize,
    /// Largest request head accepted, in bytes.
    pub max_request_head_bytes: usize,
}

/// The connection bounds, each checked and named when wrong.
pub fn connection_limits(problems: &mut Problems, config: &ConnectionsConfig) -> ConnectionLimits {
    if config.header_read_timeout_seconds == 0 {
        problems.push(
            "connections.headerReadTimeoutSeconds",
            "must be more than 0",
        );
    }
    if config.max_connections == 0 {
        problems.push("connections.maxConnections", "must be more than 0");
    }
    if !(MIN_HEAD_BYTES..=MAX_HEAD_BYTES).contains(&config.max_request_head_bytes) {
        problems.push(
            "connections.maxRequestHeadBytes",
            format!("must be between {MIN_HEAD_BYTES} and {MAX_HEAD_BYTES}"),
        );
    }
    ConnectionLimits {
        header_read_timeout: Duration::from_secs(config.header_read_timeout_seconds),
        max_connections: config.max_connections,
        max_request_head_bytes: config
            .max_request_head_bytes
            .clamp(MIN_HEAD_BYTES, MAX_HEAD_BYTES),
    }
}

/// The trusted proxies as networks: a CIDR, or one address.
pub fn trusted_proxies(problems: &mut Problems, entries: &[String]) -> Vec<IpNet> {
    entries
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| {
            let parsed = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from));
            if parsed.is_err() {
                problems.push(
                    &format!("trustedProxies[{index}]"),
                    format!("`{entry}` is not an address or a CIDR such as 10.0.0.0/8"),
                );
            }
            parsed.ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_bounds_are_named() {
        let mut problems = Problems::default();
        let limits = connection_limits(&mut problems, &ConnectionsConfig::default());
        assert!(problems.is_empty());
        assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
        let bad = ConnectionsConfig {
            header_read_timeout_seconds: 0,
            max_connections: 0,
            max_request_head_bytes: 100,
        };
        connection_limits(&mut problems, &bad);
        let text = problems.to_string();
        for field in [
            "connections.headerReadTimeoutSeconds",
            "connections.maxConnections",
            "connections.maxRequestHeadBytes",
        ] {
            assert!(text.contains(field), "{field} in {text}");
        }
    }

    #[test]
    fn trusted_proxies_take_cidrs_and_addresses_and_name_the_bad_one() {
        let mut problems = Problems::default();
        let entries = ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32", "ingress"].map(String::from);
        let nets = trusted_proxies(&mut problems, &entries);
        assert_eq!(nets.len(), 3);
        assert!(
            problems.to_string().contains("trustedProxies[3]"),
            "{problems}"
        );
    }
}
