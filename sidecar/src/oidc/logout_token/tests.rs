//! Each rule of section 2.6 on its own: a token that differs from a good
//! one in one property is refused, naming it.

use super::*;
use crate::identity::keys::SigningKeys;
use jsonwebtoken::{EncodingKey, Header, encode};
use portcullis_contract::identity_keys::generate_identity_key_line;
use serde_json::json;

const ISSUER: &str = "https://sso.example.com/realms/home";
const CLIENT: &str = "books";
const NOW: u64 = 1_900_000_000;

struct Provider {
    keys: SigningKeys,
    jwks: Value,
}

fn provider() -> Provider {
    let keys = SigningKeys::parse(&generate_identity_key_line().expect("a key")).expect("parses");
    let jwks = serde_json::from_slice(&keys.jwks()).expect("json");
    Provider { keys, jwks }
}

fn good_claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": [CLIENT, "other"],
        "iat": NOW - 5,
        "exp": NOW + 115,
        "jti": "6f1c2a9e",
        "sid": "kc-session-1",
        "sub": "user-1",
        "events": {BACK_CHANNEL_LOGOUT_EVENT: {}},
    })
}

fn sign(provider: &Provider, header: Header, claims: &Value) -> String {
    encode(&header, claims, provider.keys.encoding_key()).expect("signed")
}

fn logout_header(provider: &Provider) -> Header {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(provider.keys.kid().to_owned());
    header.typ = Some("logout+jwt".into());
    header
}

fn check(provider: &Provider, token: &str) -> Result<LogoutOrder, LogoutTokenError> {
    let claims = verified_claims(token, &provider.jwks, &[Algorithm::ES256, Algorithm::RS256])?;
    check_claims(&claims, ISSUER, CLIENT, NOW)
}

#[test]
fn a_good_token_names_the_session_and_the_user() {
    let provider = provider();
    let token = sign(&provider, logout_header(&provider), &good_claims());
    assert_eq!(
        check(&provider, &token),
        Ok(LogoutOrder {
            sid: Some("kc-session-1".into()),
            subject: Some("user-1".into()),
            jti: "6f1c2a9e".into(),
            issued_at: NOW - 5,
        })
    );
}

#[test]
fn older_providers_typ_and_none_at_all_pass_another_does_not() {
    let provider = provider();
    for typ in [None, Some("JWT"), Some("application/logout+jwt")] {
        let mut header = logout_header(&provider);
        header.typ = typ.map(str::to_owned);
        let token = sign(&provider, header, &good_claims());
        assert!(check(&provider, &token).is_ok(), "{typ:?}");
    }
    let mut header = logout_header(&provider);
    header.typ = Some("at+jwt".into());
    let token = sign(&provider, header, &good_claims());
    assert!(
        matches!(check(&provider, &token), Err(LogoutTokenError::Invalid(why)) if why.contains("typ"))
    );
}

/// One change to a good token's claims.
type Change = fn(&mut Map<String, Value>);

#[test]
fn each_claim_that_breaks_a_rule_is_refused_naming_it() {
    let provider = provider();
    let cases: Vec<(&str, Change)> = vec![
        ("iss", |c| {
            c.insert("iss".into(), json!("https://evil.example.com"));
        }),
        ("aud", |c| {
            c.insert("aud".into(), json!("another-client"));
        }),
        ("aud", |c| {
            c.remove("aud");
        }),
        ("iat", |c| {
            c.remove("iat");
        }),
        ("future", |c| {
            c.insert("iat".into(), json!(NOW + 3600));
        }),
        ("ago", |c| {
            c.insert("iat".into(), json!(NOW - 3600));
        }),
        ("expired", |c| {
            c.insert("exp".into(), json!(NOW - 3600));
        }),
        ("exp", |c| {
            c.insert("exp".into(), json!("soon"));
        }),
        ("nonce", |c| {
            c.insert("nonce".into(), json!("n-0S6_WzA2Mj"));
        }),
        ("events", |c| {
            c.remove("events");
        }),
        ("events", |c| {
            c.insert("events".into(), json!({BACK_CHANNEL_LOGOUT_EVENT: "yes"}));
        }),
        ("events", |c| {
            c.insert(
                "events".into(),
                json!({"http://schemas.openid.net/event/other": {}}),
            );
        }),
        ("jti", |c| {
            c.remove("jti");
        }),
        ("jti", |c| {
            c.insert("jti".into(), json!(""));
        }),
        ("neither", |c| {
            c.remove("sid");
            c.remove("sub");
        }),
        ("sid", |c| {
            c.insert("sid".into(), json!(42));
        }),
        ("sub", |c| {
            c.insert("sub".into(), json!("x".repeat(300)));
        }),
    ];
    for (named, change) in cases {
        let mut claims = good_claims().as_object().cloned().expect("an object");
        change(&mut claims);
        let token = sign(&provider, logout_header(&provider), &Value::Object(claims));
        match check(&provider, &token) {
            Err(LogoutTokenError::Invalid(why)) => assert!(why.contains(named), "{named}: {why}"),
            other => panic!("{named}: {other:?}"),
        }
    }
}

#[test]
fn a_missing_exp_is_allowed_and_sid_or_sub_alone_is_enough() {
    let provider = provider();
    let mut claims = good_claims().as_object().cloned().expect("an object");
    claims.remove("exp");
    claims.remove("sid");
    let token = sign(&provider, logout_header(&provider), &Value::Object(claims));
    let order = check(&provider, &token).expect("valid");
    assert_eq!(
        (order.sid, order.subject.as_deref()),
        (None, Some("user-1"))
    );
}

#[test]
fn forged_signatures_algorithms_and_keys_are_refused() {
    let provider = provider();
    let stranger = self::provider();
    let mut header = logout_header(&stranger);
    header.kid = Some(provider.keys.kid().to_owned());
    let forged = sign(&stranger, header, &good_claims());
    assert!(
        matches!(check(&provider, &forged), Err(LogoutTokenError::Invalid(why)) if why.contains("signature")),
        "signed by another key under the provider's key id"
    );

    let unknown = sign(&stranger, logout_header(&stranger), &good_claims());
    assert_eq!(
        check(&provider, &unknown),
        Err(LogoutTokenError::UnknownKey)
    );

    let mut hmac = Header::new(Algorithm::HS256);
    hmac.kid = Some(provider.keys.kid().to_owned());
    let with_secret = encode(
        &hmac,
        &good_claims(),
        &EncodingKey::from_secret(b"client-secret"),
    )
    .expect("signed");
    assert!(matches!(
        check(&provider, &with_secret),
        Err(LogoutTokenError::Invalid(why)) if why.contains("HS256")
    ));

    let good = sign(&provider, logout_header(&provider), &good_claims());
    let claims_part = good.split('.').nth(1).expect("a payload");
    // `{"alg":"none","typ":"logout+jwt"}`, base64url-encoded.
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoibG9nb3V0K2p3dCJ9.{claims_part}.");
    assert!(check(&provider, &unsigned).is_err(), "alg none");
    assert!(matches!(
        check(&provider, "not a jwt"),
        Err(LogoutTokenError::Malformed(_))
    ));
}

#[test]
fn hmac_and_unknown_algorithms_are_never_accepted() {
    assert_eq!(
        accepted_algorithms(["RS256", "HS256", "none", "ES256", "XX1"]),
        [Algorithm::RS256, Algorithm::ES256]
    );
}
