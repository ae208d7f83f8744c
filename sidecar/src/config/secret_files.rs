//! Reading the files a config names: the client secret, the root admin's
//! password hash, the session keys, the identity signing keys and the
//! provider's CA bundle.
//!
//! Each reader records a problem naming the field and the path (never the
//! content) and returns `None`, so every bad file is reported at once. The
//! files come through a reader function: the binary reads the disk, tests
//! read memory. What a secret file's content must be is the contract
//! crate's rule, the one the operator applies to the Secret it copies.

use super::problems::Problems;
use crate::identity::SigningKeys;
use crate::session::keys::KeyRing;
use argon2::PasswordHash;
use portcullis_contract::secret::Secret;
use portcullis_contract::secret_text::secret_text;
use std::io;
use std::path::Path;

pub(super) fn secret_file(
    problems: &mut Problems,
    field: &str,
    path: &Path,
    read_file: &impl Fn(&Path) -> io::Result<String>,
) -> Option<Secret> {
    if path.as_os_str().is_empty() {
        return None;
    }
    match read_file(path).map(|text| secret_text(&text).map(Secret::new)) {
        Ok(Ok(secret)) => Some(secret),
        Ok(Err(blank)) => {
            problems.push(field, format!("{} {blank}", path.display()));
            None
        }
        Err(error) => {
            problems.push(field, format!("cannot read {}: {error}", path.display()));
            None
        }
    }
}

/// An argon2id hash (the root admin's password's, or the enrolment
/// code's) from `path`, for the config file's `field`.
pub(super) fn password_hash(
    problems: &mut Problems,
    field: &str,
    path: &Path,
    read_file: &impl Fn(&Path) -> io::Result<String>,
) -> Option<Secret> {
    let hash = secret_file(problems, field, path, read_file)?;
    let hash = Secret::new(hash.expose().trim());
    match PasswordHash::new(hash.expose()) {
        Ok(parsed) if parsed.algorithm.as_str() == "argon2id" => Some(hash),
        Ok(_) => {
            problems.push(field, "must hold an argon2id hash");
            None
        }
        Err(_) => {
            problems.push(
                field,
                "is not a PHC hash string (`portcullis-sidecar hash-password` and `enrol-code` print one)",
            );
            None
        }
    }
}

pub(super) fn identity_keys(
    problems: &mut Problems,
    path: &Path,
    read_file: &impl Fn(&Path) -> io::Result<String>,
) -> Option<SigningKeys> {
    // An empty path: the contract's validation names the missing field.
    parsed_file(
        problems,
        "signedIdentity.keyFile",
        path,
        read_file,
        SigningKeys::parse,
    )
}

pub(super) fn key_ring(
    problems: &mut Problems,
    path: &Path,
    read_file: &impl Fn(&Path) -> io::Result<String>,
) -> Option<KeyRing> {
    parsed_file(problems, "session.keyFile", path, read_file, KeyRing::parse)
}

/// The certificates (DER) of the provider's CA bundle at `path`.
pub(super) fn ca_certificates(
    problems: &mut Problems,
    path: &Path,
    read_file: &impl Fn(&Path) -> io::Result<String>,
) -> Option<Vec<Vec<u8>>> {
    parsed_file(
        problems,
        "oidc.caFile",
        path,
        read_file,
        portcullis_contract::ca_bundle::certificates,
    )
}

/// What `parse` makes of the file at `path`, for the config file's
/// `field`; a file that cannot be read or parsed is a problem naming the
/// path, and an empty path is left to the contract's validation.
fn parsed_file<T, E: std::fmt::Display>(
    problems: &mut Problems,
    field: &str,
    path: &Path,
    read_file: &impl Fn(&Path) -> io::Result<String>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<T> {
    if path.as_os_str().is_empty() {
        return None;
    }
    let text = match read_file(path) {
        Ok(text) => text,
        Err(error) => {
            problems.push(field, format!("cannot read {}: {error}", path.display()));
            return None;
        }
    };
    parse(&text)
        .map_err(|error| problems.push(field, format!("{}: {error}", path.display())))
        .ok()
}
