//! API clients registered at the test provider, and keys to forge tokens.
//!
//! The provider issues client-credentials access tokens as JWTs for a
//! resource (RFC 8707), as a service account with the groups listed here.
//! Tests that check what the sidecar refuses forge tokens themselves with
//! an independent JOSE library; the provider then signs with a key the test
//! generated, so a forged token can differ from a real one in exactly one
//! property (issuer, expiry, algorithm, key).

use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::path::Path;

/// A client whose service account is in the `trusted` group.
pub const TRUSTED_ROBOT: (&str, &str) = ("robot-trusted", "robot-trusted-secret");
/// A client whose service account is in the `admin` group.
pub const ADMIN_ROBOT: (&str, &str) = ("robot-admin", "robot-admin-secret");

/// The clients, as `IDP_CLIENTS` items.
pub fn clients() -> Vec<Value> {
    [(TRUSTED_ROBOT, "trusted"), (ADMIN_ROBOT, "admin")]
        .into_iter()
        .map(|((id, secret), group)| {
            json!({
                "client_id": id,
                "client_secret": secret,
                "grant_types": ["client_credentials"],
                "response_types": [],
                "redirect_uris": [],
                "groups": [group],
            })
        })
        .collect()
}

/// A fresh 2048-bit RSA key pair as PEM (PKCS#8 private, SPKI public),
/// made by Node's crypto (Node runs the provider anyway).
pub fn rsa_key_pair() -> Result<(String, String)> {
    let script = "const { generateKeyPairSync } = require('node:crypto');
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
process.stdout.write(JSON.stringify({
  private: privateKey.export({ type: 'pkcs8', format: 'pem' }),
  public: publicKey.export({ type: 'spki', format: 'pem' }),
}));";
    let output = std::process::Command::new("node")
        .args(["-e", script])
        .output()
        .context("run node")?;
    anyhow::ensure!(output.status.success(), "node failed: {output:?}");
    let pair: Value = serde_json::from_slice(&output.stdout)?;
    let text = |name: &str| {
        pair[name]
            .as_str()
            .map(str::to_owned)
            .context("a PEM from node")
    };
    Ok((text("private")?, text("public")?))
}

/// Writes a fresh key pair's private PEM to `dir/name`; returns both PEMs.
pub fn write_signing_key(dir: &Path, name: &str) -> Result<(String, String)> {
    let (private, public) = rsa_key_pair()?;
    std::fs::write(dir.join(name), &private)?;
    Ok((private, public))
}
