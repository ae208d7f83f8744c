//! The hash of the settings a sidecar serves, as the operator computes it.
//!
//! The operator annotates the generated ConfigMap and Secret with
//! [`content_hash`] over the config text and the Secret's keys and values;
//! mounted, each key is a file of that name. Hashing the config file and the
//! secret files it names, keyed by file name, gives the same value, so
//! `/readyz` can say which version of the settings this sidecar has loaded
//! and anyone can compare it with the annotation.

use portcullis_contract::config::SidecarConfig;
use portcullis_contract::hash::content_hash;
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// The hash of `config_text` and the secret files `config` names, read with `read_file`.
pub fn config_hash(
    config_text: &str,
    config: &SidecarConfig,
    read_file: impl Fn(&Path) -> io::Result<Vec<u8>>,
) -> String {
    let files = config.secret_files();
    let data: BTreeMap<String, String> = files
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_string_lossy().into_owned();
            let bytes = read_file(path).ok()?;
            Some((name, String::from_utf8_lossy(&bytes).into_owned()))
        })
        .collect();
    content_hash(config_text, &data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_keyed_by_name_like_the_secret() {
        let text =
            "oidc: {clientSecretFile: /s/client-secret}\nsession: {keyFile: /s/session-keys}\n";
        let config = SidecarConfig::from_yaml(text).expect("yaml");
        let read = |path: &Path| -> io::Result<Vec<u8>> {
            Ok(format!("value of {}", path.display()).into_bytes())
        };
        let expected = content_hash(
            text,
            &BTreeMap::from([
                (
                    "client-secret".to_owned(),
                    "value of /s/client-secret".to_owned(),
                ),
                (
                    "session-keys".to_owned(),
                    "value of /s/session-keys".to_owned(),
                ),
            ]),
        );
        assert_eq!(config_hash(text, &config, read), expected);
    }

    #[test]
    fn the_identity_keys_count_when_the_identity_is_signed() {
        let plain = "session: {keyFile: /s/session-keys}\n";
        let signed = format!("{plain}signedIdentity: {{keyFile: /s/identity-keys}}\n");
        let read = |path: &Path| -> io::Result<Vec<u8>> {
            Ok(format!("value of {}", path.display()).into_bytes())
        };
        let config = SidecarConfig::from_yaml(&signed).expect("yaml");
        let expected = content_hash(
            &signed,
            &BTreeMap::from([
                (
                    "identity-keys".to_owned(),
                    "value of /s/identity-keys".to_owned(),
                ),
                (
                    "session-keys".to_owned(),
                    "value of /s/session-keys".to_owned(),
                ),
            ]),
        );
        assert_eq!(config_hash(&signed, &config, read), expected);
    }
}
