//! A stable hash of what the sidecar reads, for rollouts and change detection.
//!
//! The operator puts it on the generated ConfigMap and Secret; the sidecar
//! computes it over the config file it loaded and the secret files it names
//! (keyed by file name, which is the Secret's key where the Secret is
//! mounted) and reports it on `/readyz`, so anyone can see whether a running
//! sidecar has picked up the newest settings.
//!
//! Sorted keys and length prefixes make the hash independent of map order and
//! unambiguous; only the hash leaves this module, never a secret value.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// SHA-256 (hex) over the config text and every secret key and value.
pub fn content_hash(config_yaml: &str, secret_data: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    let mut feed = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    feed(config_yaml.as_bytes());
    for (key, value) in secret_data {
        feed(key.as_bytes());
        feed(value.as_bytes());
    }
    format!("{:x}", hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn same_content_gives_the_same_hash() {
        let a = content_hash("x: 1", &data(&[("a", "1"), ("b", "2")]));
        let b = content_hash("x: 1", &data(&[("b", "2"), ("a", "1")]));
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn any_change_changes_the_hash() {
        let base = content_hash("x: 1", &data(&[("a", "1")]));
        assert_ne!(base, content_hash("x: 2", &data(&[("a", "1")])));
        assert_ne!(base, content_hash("x: 1", &data(&[("a", "2")])));
        assert_ne!(base, content_hash("x: 1", &data(&[("a1", "")])));
    }
}
