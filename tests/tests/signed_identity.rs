//! The signed identity, end to end: a real login at the real provider, the
//! real sidecar binary, and the echo app receiving the token; the test
//! verifies it as an app would, with `jsonwebtoken` and the JWKS fetched
//! from the sidecar, before and after it expires and across a key rotation.

use anyhow::{Context, Result};
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use portcullis_contract::identity::SignedIdentityConfig;
use portcullis_e2e::browser::Browser;
use portcullis_e2e::sidecar::generate_identity_key;
use portcullis_e2e::stack::Stack;
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Short, so the test sees a token expire without waiting long.
const LIFETIME_SECONDS: u64 = 5;
const HEADER: &str = "x-portcullis-identity";
const APPLIED: &str = "portcullis_config_reloads_total{result=\"Applied\"} 1";

/// A stack whose sidecar signs identities valid for `lifetime_seconds`.
async fn stack(lifetime_seconds: u64) -> Result<Stack> {
    let key = generate_identity_key()?;
    Stack::start_with(|setup| {
        let key_file = setup.dir.path().join("identity-keys");
        // A failed write shows up as the sidecar refusing its config.
        let _ = std::fs::write(&key_file, format!("{key}\n"));
        setup.config.signed_identity = Some(SignedIdentityConfig {
            key_file,
            lifetime_seconds,
            ..SignedIdentityConfig::default()
        });
    })
    .await
}

/// The JWKS as an app fetches it: no cookies, no session.
async fn jwks(stack: &Stack) -> Result<JwkSet> {
    let response = reqwest::get(stack.url("/.well-known/portcullis/jwks.json")).await?;
    anyhow::ensure!(response.status() == 200, "JWKS: {}", response.status());
    Ok(response.json().await?)
}

/// The token the app received in the echo app's answer.
async fn token_seen_by_app(response: reqwest::Response) -> Result<String> {
    anyhow::ensure!(response.status() == 200, "app: {}", response.status());
    let echo: Value = response.json().await?;
    let tokens = echo["headers"][HEADER].as_array().context("no token")?;
    anyhow::ensure!(tokens.len() == 1, "one token: {tokens:?}");
    Ok(tokens[0].as_str().context("text")?.to_owned())
}

/// Verifies `token` as an app would: the key its `kid` names in the JWKS,
/// ES256 only, this sidecar as issuer and audience, no leeway.
fn verify(stack: &Stack, token: &str, jwks: &JwkSet) -> jsonwebtoken::errors::Result<Value> {
    let kid = decode_header(token)?.kid.unwrap_or_default();
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| jsonwebtoken::errors::Error::from(ErrorKind::InvalidKeyFormat))?;
    let key = DecodingKey::from_jwk(jwk)?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[stack.sidecar.url()]);
    validation.set_audience(&[stack.sidecar.url()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 0;
    Ok(decode::<Value>(token, &key, &validation)?.claims)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[tokio::test]
async fn the_app_receives_an_identity_that_verifies_against_the_jwks_until_it_expires() -> Result<()>
{
    let stack = stack(LIFETIME_SECONDS).await?;
    let alice = Browser::new();
    let (_, response) = alice.log_in(&stack.url("/books"), "alice").await?;
    let token = token_seen_by_app(response).await?;
    let keys = jwks(&stack).await?;
    let claims = verify(&stack, &token, &keys).expect("a fresh token verifies");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["username"], "alice");
    assert_eq!(claims["groups"], serde_json::json!(["admin", "staff"]));
    assert_eq!(claims["role"], "admin");
    assert_eq!(claims["root"], false);
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["login"], "oidc");
    assert_eq!(claims["iss"], stack.sidecar.url());
    assert_eq!(claims["aud"], stack.sidecar.url());
    let exp = claims["exp"].as_u64().context("exp")?;
    assert_eq!(
        exp - claims["iat"].as_u64().context("iat")?,
        LIFETIME_SECONDS
    );

    // Past `exp` the same token no longer verifies (the wait is bounded by the lifetime).
    let wait = exp.saturating_sub(now()) + 1;
    assert!(wait <= LIFETIME_SECONDS + 1);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let expired = verify(&stack, &token, &keys).expect_err("an expired token is refused");
    assert_eq!(expired.kind(), &ErrorKind::ExpiredSignature);

    // The next request carries a fresh token, never the expired one.
    let response = alice.client().get(stack.url("/books")).send().await?;
    let fresh = token_seen_by_app(response).await?;
    assert_ne!(fresh, token);
    verify(&stack, &fresh, &keys).expect("the next request's token verifies");
    Ok(())
}

#[tokio::test]
async fn the_root_admin_and_an_untrusted_user_are_told_apart_in_the_token() -> Result<()> {
    let stack = stack(60).await?;
    let keys = jwks(&stack).await?;
    for (login, role, root) in [("root", "admin", true), ("ursula", "untrusted", false)] {
        let (_, response) = Browser::new().log_in(&stack.url("/"), login).await?;
        let claims =
            verify(&stack, &token_seen_by_app(response).await?, &keys).expect("the token verifies");
        assert_eq!(claims["sub"], login);
        assert_eq!(claims["role"], role, "{login}");
        assert_eq!(claims["root"], root, "{login}");
    }
    Ok(())
}

#[tokio::test]
async fn a_forged_token_from_the_client_never_reaches_the_app() -> Result<()> {
    let stack = stack(60).await?;
    let alice = Browser::new();
    alice.log_in(&stack.url("/"), "alice").await?;
    let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJyb290Iiwicm9vdCI6dHJ1ZX0.";
    let response = alice
        .client()
        .get(stack.url("/"))
        .header("X-Portcullis-Identity", forged)
        .header("X_Portcullis_Identity", forged)
        .send()
        .await?;
    let token = token_seen_by_app(response).await?;
    assert_ne!(token, forged);
    let claims = verify(&stack, &token, &jwks(&stack).await?).expect("the sidecar's verifies");
    assert_eq!(claims["sub"], "alice");
    Ok(())
}

#[tokio::test]
async fn after_a_key_rotation_new_tokens_use_the_new_key_and_old_ones_still_verify() -> Result<()> {
    // Long enough for the old token to outlive the reload.
    let stack = stack(60).await?;
    let alice = Browser::new();
    let (_, response) = alice.log_in(&stack.url("/"), "alice").await?;
    let old_token = token_seen_by_app(response).await?;
    let old_kid = decode_header(&old_token)?.kid.context("kid")?;

    let key_file = stack.sidecar.dir().join("identity-keys");
    let old_keys = std::fs::read_to_string(&key_file)?;
    std::fs::write(
        &key_file,
        format!("{}\n{old_keys}", generate_identity_key()?),
    )?;
    stack.sidecar.wait_for_metric(APPLIED).await?;

    let keys = jwks(&stack).await?;
    assert_eq!(keys.keys.len(), 2, "the new key and the old one");
    let response = alice.client().get(stack.url("/")).send().await?;
    let new_token = token_seen_by_app(response).await?;
    let new_kid = decode_header(&new_token)?.kid.context("kid")?;
    assert_ne!(new_kid, old_kid, "the new first key signs");
    assert_eq!(
        keys.keys[0].common.key_id.as_deref(),
        Some(new_kid.as_str())
    );
    verify(&stack, &new_token, &keys).expect("the new token verifies");
    verify(&stack, &old_token, &keys).expect("the old token still verifies");
    Ok(())
}

/// The README's Python block that follows `after`, as written.
fn readme_python(after: &str) -> Result<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))?;
    let rest = &readme[readme.find(after).context("the README section")?..];
    let start = rest.find("```python\n").context("a python block")? + "```python\n".len();
    let end = rest[start..].find("```").context("the block's end")?;
    Ok(rest[start..start + end].to_owned())
}

#[tokio::test]
async fn the_readmes_python_snippet_verifies_the_token_with_pyjwt() -> Result<()> {
    let stack = stack(60).await?;
    let (_, response) = Browser::new().log_in(&stack.url("/"), "alice").await?;
    let token = token_seen_by_app(response).await?;
    // The README's example origins stand for this sidecar's.
    let snippet = readme_python("Verify it in Python with PyJWT")?
        .replace("http://127.0.0.1:4180", stack.sidecar.url())
        .replace("https://books.example.com", stack.sidecar.url());
    let script = format!(
        "{snippet}\nimport json, sys\nprint(json.dumps(caller({{\"X-Portcullis-Identity\": sys.argv[1]}})))\n"
    );
    let run = |token: String| {
        let script = script.clone();
        tokio::task::spawn_blocking(move || {
            // Debian's python3, where `make test` installs python3-jwt.
            std::process::Command::new("/usr/bin/python3")
                .args(["-c", &script, &token])
                .output()
        })
    };
    let output = run(token.clone()).await??;
    assert!(
        output.status.success(),
        "the snippet refused a good token: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let claims: Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["role"], "admin");

    // The snippet pins ES256: the same claims unsigned (`alg: none`, the
    // real `kid`) are refused.
    let kid = decode_header(&token)?.kid.context("kid")?;
    let forged_header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string());
    let payload = token.split('.').nth(1).context("payload")?;
    let output = run(format!("{forged_header}.{payload}.")).await??;
    assert!(!output.status.success(), "an unsigned token was accepted");
    Ok(())
}
