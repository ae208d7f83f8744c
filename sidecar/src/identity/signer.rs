//! Signing the identity token, with a small cache of recent tokens.
//!
//! An ES256 signature costs tens of microseconds (and `jsonwebtoken` parses
//! the PKCS#8 key on each call); a browser asks for dozens of assets per
//! page. So a token is reused for the same identity, key, issuer and
//! audience while at least half of its lifetime is left: the app always
//! receives a token valid for at least `lifetime / 2` more seconds. The
//! cache is bounded; when full, entries past reuse go first, then all.

use super::claims::Subject;
use super::keys::SigningKeys;
use crate::session::Session;
use http::{HeaderName, HeaderValue};
use jsonwebtoken::{Algorithm, Header};
use std::collections::HashMap;
use std::sync::Mutex;

/// Most tokens kept for reuse (one per identity recently seen).
const MAX_CACHED: usize = 4096;

/// The `signedIdentity` settings, ready to sign with.
#[derive(Clone, Debug)]
pub struct SignedIdentity {
    /// The signing key and the published keys.
    pub keys: SigningKeys,
    /// The request header that carries the token.
    pub header: HeaderName,
    /// Seconds from `iat` to `exp`.
    pub lifetime_seconds: u64,
    /// `iss`: the public URL without a trailing slash.
    pub issuer: String,
    /// `aud`: the configured audience, or the issuer.
    pub audience: String,
}

/// The token could not be signed (never carries key material).
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the identity token: {0}")]
pub struct SignError(#[from] jsonwebtoken::errors::Error);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CacheKey {
    kid: String,
    lifetime: u64,
    subject: Subject,
}

#[derive(Clone, Debug)]
struct Cached {
    value: HeaderValue,
    iat: u64,
}

/// Signs identity tokens and remembers recent ones.
#[derive(Debug, Default)]
pub struct IdentitySigner {
    cache: Mutex<HashMap<CacheKey, Cached>>,
}

/// Whether a token issued at `iat` may still be handed out at `now`: at
/// least half of its `lifetime` must be left (and the clock must not have
/// gone back past `iat`).
pub fn reusable(iat: u64, lifetime: u64, now: u64) -> bool {
    now >= iat && now - iat < lifetime / 2
}

impl IdentitySigner {
    /// The header value for `session` at `now` (Unix seconds): a cached
    /// token while [`reusable`], else a freshly signed one.
    pub fn header_value(
        &self,
        identity: &SignedIdentity,
        session: &Session,
        now: u64,
    ) -> Result<HeaderValue, SignError> {
        let key = CacheKey {
            kid: identity.keys.kid().to_owned(),
            lifetime: identity.lifetime_seconds,
            subject: Subject::of(session, &identity.issuer, &identity.audience),
        };
        if let Some(cached) = self.lookup(&key, now) {
            return Ok(cached);
        }
        let value = sign(identity, &key.subject, now)?;
        self.remember(key, value.clone(), now);
        Ok(value)
    }

    fn lookup(&self, key: &CacheKey, now: u64) -> Option<HeaderValue> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(key)
            .filter(|cached| reusable(cached.iat, key.lifetime, now))
            .map(|cached| cached.value.clone())
    }

    fn remember(&self, key: CacheKey, value: HeaderValue, now: u64) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= MAX_CACHED {
            cache.retain(|key, cached| reusable(cached.iat, key.lifetime, now));
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(key, Cached { value, iat: now });
    }

    /// How many tokens are kept (for tests).
    pub fn cached(&self) -> usize {
        self.cache.lock().map_or(0, |cache| cache.len())
    }
}

/// Signs a new token for `subject` issued at `now`.
pub fn sign(
    identity: &SignedIdentity,
    subject: &Subject,
    now: u64,
) -> Result<HeaderValue, SignError> {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(identity.keys.kid().to_owned());
    let claims = subject.at(now, identity.lifetime_seconds);
    let token = jsonwebtoken::encode(&header, &claims, identity.keys.encoding_key())?;
    // A compact JWS is base64url and dots only: always a valid header value.
    HeaderValue::from_str(&token)
        .map_err(|_| SignError(jsonwebtoken::errors::ErrorKind::InvalidToken.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::roles::Role;
    use crate::session::LoginMethod;
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
    use portcullis_contract::identity_keys::{generate_identity_key_line, parse_identity_keys};
    use std::time::Instant;

    fn identity(lines: &str) -> SignedIdentity {
        SignedIdentity {
            keys: SigningKeys::parse(lines).expect("keys"),
            header: HeaderName::from_static("x-portcullis-identity"),
            lifetime_seconds: 60,
            issuer: "https://books.example.com".into(),
            audience: "https://books.example.com".into(),
        }
    }

    fn session(user: &str) -> Session {
        Session {
            sid: "sid".into(),
            user: user.into(),
            email: None,
            preferred_username: None,
            groups: vec!["trusted".into()],
            role: Role::Trusted,
            root: false,
            method: LoginMethod::Oidc,
            expires_at: u64::MAX,
            id_token: None,
            provider: None,
            refresh: None,
        }
    }

    fn subject(user: &str) -> Subject {
        let issuer = "https://books.example.com";
        Subject::of(&session(user), issuer, issuer)
    }

    fn now() -> u64 {
        crate::runtime::state::unix_now()
    }

    fn decoding_key(lines: &str, index: usize) -> DecodingKey {
        let keys = parse_identity_keys(lines).expect("keys");
        let jwk = keys[index].public();
        DecodingKey::from_ec_components(&jwk.x, &jwk.y).expect("public key")
    }

    fn validation() -> Validation {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&["https://books.example.com"]);
        validation.set_audience(&["https://books.example.com"]);
        validation.leeway = 0;
        validation
    }

    #[test]
    fn a_signed_token_verifies_with_the_published_key_and_names_it() {
        let lines = generate_identity_key_line().expect("key");
        let identity = identity(&lines);
        let value = sign(&identity, &subject("alice"), now()).expect("signed");
        let token = value.to_str().expect("ascii");
        let header = decode_header(token).expect("header");
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some(identity.keys.kid()));
        let data = decode::<serde_json::Value>(token, &decoding_key(&lines, 0), &validation())
            .expect("verifies");
        assert_eq!(data.claims["sub"], "alice");
        assert_eq!(data.claims["role"], "trusted");
        assert_eq!(
            data.claims["exp"].as_u64().expect("exp") - data.claims["iat"].as_u64().expect("iat"),
            60
        );
    }

    #[test]
    fn a_token_signed_with_another_key_does_not_verify() {
        let lines = generate_identity_key_line().expect("key");
        let other = generate_identity_key_line().expect("key");
        let token = sign(&identity(&other), &subject("alice"), now()).expect("signed");
        let refused = decode::<serde_json::Value>(
            token.to_str().expect("ascii"),
            &decoding_key(&lines, 0),
            &validation(),
        );
        assert!(refused.is_err());
    }

    #[test]
    fn a_token_is_reused_while_half_its_lifetime_is_left() {
        assert!(reusable(100, 60, 100));
        assert!(reusable(100, 60, 129));
        assert!(!reusable(100, 60, 130));
        assert!(!reusable(100, 60, 99), "the clock went back");
        let identity = identity(&generate_identity_key_line().expect("key"));
        let signer = IdentitySigner::default();
        let alice = session("alice");
        let first = signer
            .header_value(&identity, &alice, 1_000)
            .expect("signed");
        let again = signer
            .header_value(&identity, &alice, 1_029)
            .expect("cached");
        let later = signer
            .header_value(&identity, &alice, 1_030)
            .expect("signed");
        assert_eq!(first, again);
        assert_ne!(first, later);
        let bob = signer
            .header_value(&identity, &session("bob"), 1_030)
            .expect("signed");
        assert_ne!(bob, later, "another identity gets its own token");
    }

    #[test]
    fn a_new_role_or_a_rotated_key_gets_a_new_token() {
        let old_line = generate_identity_key_line().expect("key");
        let signer = IdentitySigner::default();
        let alice = session("alice");
        let first = signer
            .header_value(&identity(&old_line), &alice, 1_000)
            .expect("signed");
        let mut promoted = alice.clone();
        promoted.role = Role::Admin;
        let as_admin = signer
            .header_value(&identity(&old_line), &promoted, 1_001)
            .expect("signed");
        assert_ne!(first, as_admin);
        let rotated = format!(
            "{}\n{old_line}\n",
            generate_identity_key_line().expect("key")
        );
        let after_rotation = signer
            .header_value(&identity(&rotated), &alice, 1_001)
            .expect("signed");
        let header = decode_header(after_rotation.to_str().expect("ascii")).expect("header");
        assert_eq!(header.kid.as_deref(), Some(identity(&rotated).keys.kid()));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let identity = identity(&generate_identity_key_line().expect("key"));
        let signer = IdentitySigner::default();
        for index in 0..=MAX_CACHED {
            let key = CacheKey {
                kid: identity.keys.kid().to_owned(),
                lifetime: 60,
                subject: Subject::of(&session(&format!("user{index}")), "i", "a"),
            };
            signer.remember(key, HeaderValue::from_static("t"), 1_000);
        }
        assert!(signer.cached() <= MAX_CACHED);
        assert!(signer.cached() >= 1);
    }

    /// Run with `--ignored --nocapture` to see what the cache saves.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn measure_signing_against_a_cache_hit() {
        const ROUNDS: u32 = 2_000;
        let identity = identity(&generate_identity_key_line().expect("key"));
        let alice = session("alice");
        let subject = Subject::of(&alice, &identity.issuer, &identity.audience);
        let started = Instant::now();
        for _ in 0..ROUNDS {
            sign(&identity, &subject, 1_000).expect("signed");
        }
        let signing = started.elapsed() / ROUNDS;
        let signer = IdentitySigner::default();
        signer
            .header_value(&identity, &alice, 1_000)
            .expect("signed");
        let started = Instant::now();
        for _ in 0..ROUNDS {
            signer
                .header_value(&identity, &alice, 1_000)
                .expect("cached");
        }
        let cached = started.elapsed() / ROUNDS;
        println!("signing: {signing:?} per token; cache hit: {cached:?} per request");
    }
}
