//! The connection bounds as the listener uses them (the contract crate
//! validates the numbers; the same checks run in the operator).

use portcullis_contract::config::ConnectionsConfig;
use portcullis_contract::validate::{MAX_HEAD_BYTES, MIN_HEAD_BYTES};
use std::time::Duration;

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

impl From<&ConnectionsConfig> for ConnectionLimits {
    /// The bounds of a config that passed validation (which names a bad bound);
    /// the head limit is clamped to what the HTTP server supports.
    fn from(config: &ConnectionsConfig) -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_seconds),
            max_connections: config.max_connections,
            max_request_head_bytes: config
                .max_request_head_bytes
                .clamp(MIN_HEAD_BYTES, MAX_HEAD_BYTES),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_become_the_documented_limits() {
        let limits = ConnectionLimits::from(&ConnectionsConfig::default());
        assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
        assert_eq!(limits.max_connections, 4096);
        assert_eq!(limits.max_request_head_bytes, 64 * 1024);
    }
}
