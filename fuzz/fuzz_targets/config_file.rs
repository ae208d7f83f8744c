//! A config file, however malformed, is either refused with named problems
//! or becomes settings that hold what validation promises; never a panic.
//!
//! The input is the YAML text, optionally followed by NUL-separated contents
//! of the client secret, the session key file and the root admin's password
//! hash file, in that order (fixed good contents stand in for missing
//! parts). Files are read from memory at the paths of the README's example
//! and of the unit tests (`/s/...`); any other path is not found. Whatever
//! parses renders back to YAML that parses to the same config (the operator
//! writes the file through the same types). Settings that validate have an
//! `http` upstream with a host, a public origin, a callback under it, the
//! `openid` scope and a cookie name that is a plain token.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_contract::config::SidecarConfig;
use portcullis_fuzz::KEY_LINE;
use portcullis_sidecar::config::Settings;
use std::io;
use std::path::Path;

const CLIENT_SECRET: &str = "s3cret\n";
const ROOT_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$J0GZ3k0kGfX3b0S2tP0g5r3sWY8d2m5zDk8VbZb7w9E\n";

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|byte| *byte == 0);
    let Some(Ok(yaml)) = parts.next().map(std::str::from_utf8) else {
        return;
    };
    let mut file = |fallback: &str| match parts.next() {
        Some(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        None => fallback.to_owned(),
    };
    let secret = file(CLIENT_SECRET);
    let keys = file(&format!("{KEY_LINE}\n"));
    let hash = file(ROOT_HASH);

    let Ok(config) = SidecarConfig::from_yaml(yaml) else {
        return;
    };
    let rendered = config.to_yaml().expect("a parsed config renders");
    assert_eq!(
        SidecarConfig::from_yaml(&rendered).as_ref().ok(),
        Some(&config),
        "rendered YAML did not read back:\n{rendered}"
    );

    let read_file = |path: &Path| -> io::Result<String> {
        match path.to_str().unwrap_or_default() {
            "/s/client-secret" | "/etc/portcullis/secret/client-secret" => Ok(secret.clone()),
            "/s/keys" | "/etc/portcullis/secret/session-keys" => Ok(keys.clone()),
            "/s/root-hash" | "/etc/portcullis/secret/root-password-hash" => Ok(hash.clone()),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "No such file")),
        }
    };
    match Settings::from_config(&config, read_file) {
        Ok(settings) => {
            match settings.door.upstream() {
                Some(upstream) => {
                    assert_eq!(upstream.url.scheme(), "http");
                    assert!(upstream.url.host_str().is_some());
                }
                None => assert!(!settings.trusted_proxies.is_empty()),
            }
            assert!(matches!(settings.public_url.scheme(), "http" | "https"));
            assert!(settings.public_url.host_str().is_some());
            assert!(
                settings
                    .oidc
                    .redirect_url
                    .as_str()
                    .starts_with(settings.public_url.as_str().trim_end_matches('/'))
            );
            assert!(settings.oidc.scopes.iter().any(|scope| scope == "openid"));
            assert!(!settings.oidc.client_id.is_empty());
            assert!(!settings.oidc.client_secret.expose().is_empty());
            assert_eq!(
                settings.session.secure_cookies,
                settings.public_url.scheme() == "https"
            );
            if let Some(domain) = &settings.session.cookie_domain {
                assert!(
                    settings.door.upstream().is_none(),
                    "a shared cookie for a proxy"
                );
                let within = |host: &str| host == domain || host.ends_with(&format!(".{domain}"));
                let public_host = settings.public_url.host_str().unwrap_or_default();
                assert!(within(&public_host.to_ascii_lowercase()), "{public_host}");
                for host in &settings.other_hosts {
                    assert!(within(host), "{host} outside {domain}");
                }
            } else {
                assert!(
                    settings.other_hosts.is_empty(),
                    "hosts with no shared cookie"
                );
            }
            for name in settings.session.cookie_names() {
                assert!(!name.is_empty());
                assert!(
                    name.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                    "{name:?}"
                );
            }
        }
        Err(problems) => assert!(!problems.is_empty(), "refused without a named problem"),
    }
});
