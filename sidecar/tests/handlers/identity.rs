//! The signed identity: the app receives a JWT it can verify with the keys
//! the sidecar publishes, and never a copy the client sent.

use crate::proxy::{echo_app, state_with_echo_app};
use crate::support::{Options, get, header_text, identity_keys, send, session_cookie, state, text};
use axum::body::Body;
use axum::http::{StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use portcullis_contract::identity_keys::parse_identity_keys;
use portcullis_sidecar::access::roles::Role;
use serde_json::Value;

const SIGNED: &str = "signedIdentity:\n  keyFile: /secrets/identity-keys\n";
const SIGNED_CUSTOM: &str = "signedIdentity:\n  keyFile: /secrets/identity-keys\n  headerName: X-Jwt-Assertion\n  lifetimeSeconds: 30\n";
/// The test config's public URL: issuer and audience of every token.
const PUBLIC_URL: &str = "http://127.0.0.1:4180";

async fn jwks(state: &portcullis_sidecar::runtime::state::SharedState) -> Value {
    let response = send(state, get("/.well-known/portcullis/jwks.json", None, None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header_text(&response, header::CONTENT_TYPE),
        "application/jwk-set+json"
    );
    serde_json::from_str(&text(response).await).expect("json")
}

fn verify(token: &str, jwks: &Value) -> Value {
    let kid = decode_header(token).expect("header").kid.expect("a kid");
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|jwk| jwk["kid"] == kid.as_str())
        .expect("the signing key is published");
    let key = DecodingKey::from_ec_components(
        jwk["x"].as_str().expect("x"),
        jwk["y"].as_str().expect("y"),
    )
    .expect("a P-256 key");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[PUBLIC_URL]);
    validation.set_audience(&[PUBLIC_URL]);
    validation.leeway = 0;
    decode::<Value>(token, &key, &validation)
        .expect("the token verifies")
        .claims
}

async fn forwarded_headers(
    state: &portcullis_sidecar::runtime::state::SharedState,
    request: axum::http::Request<Body>,
) -> Value {
    let response = send(state, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen: Value = serde_json::from_str(&text(response).await).expect("json");
    seen["headers"].clone()
}

#[tokio::test]
async fn the_app_gets_a_signed_identity_that_verifies_with_the_published_keys() {
    let upstream = echo_app().await;
    let state = state(Options {
        upstream,
        extra: SIGNED,
        ..Options::default()
    });
    let session = session_cookie(&state, "alice", Role::Admin);
    let headers = forwarded_headers(&state, get("/books", None, Some(&session))).await;
    let tokens = headers["x-portcullis-identity"]
        .as_array()
        .expect("one header");
    assert_eq!(tokens.len(), 1);
    let token = tokens[0].as_str().expect("text");
    let claims = verify(token, &jwks(&state).await);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["username"], "alice");
    assert_eq!(claims["role"], "admin");
    assert_eq!(claims["root"], false);
    assert_eq!(claims["groups"], serde_json::json!(["readers"]));
    assert_eq!(claims["email"], "alice@example.com");
    let lifetime = claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat");
    assert_eq!(lifetime, 60);
    let first_kid = parse_identity_keys(identity_keys()).expect("keys")[0]
        .kid()
        .to_owned();
    assert_eq!(
        decode_header(token).expect("header").kid.as_deref(),
        Some(first_kid.as_str()),
        "the first key of the file signs"
    );
}

#[tokio::test]
async fn a_client_sent_identity_token_never_reaches_the_app_in_any_spelling() {
    let upstream = echo_app().await;
    let state = state(Options {
        upstream,
        extra: SIGNED_CUSTOM,
        ..Options::default()
    });
    let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJyb290In0.";
    let request = |cookie: Option<&str>| {
        let mut builder = axum::http::Request::get("/books")
            .header("X-Jwt-Assertion", forged)
            .header("x_jwt_assertion", forged)
            .header("X_JWT-Assertion", forged)
            .header("X-Portcullis-Identity", forged);
        if let Some(cookie) = cookie {
            builder = builder.header(header::COOKIE, cookie);
        }
        builder.body(Body::empty()).expect("request")
    };
    let session = session_cookie(&state, "alice", Role::Untrusted);
    let headers = forwarded_headers(&state, request(Some(&session))).await;
    let tokens = headers["x-jwt-assertion"]
        .as_array()
        .expect("the sidecar's");
    assert_eq!(tokens.len(), 1, "{headers}");
    assert_ne!(tokens[0], forged);
    assert!(headers.get("x_jwt_assertion").is_none(), "{headers}");
    assert!(headers.get("x_jwt-assertion").is_none(), "{headers}");
    assert!(headers.get("x-portcullis-identity").is_none(), "{headers}");
    let claims = verify(tokens[0].as_str().expect("text"), &jwks(&state).await);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat"),
        30
    );
}

#[tokio::test]
async fn a_public_path_without_a_session_forwards_no_identity_token_at_all() {
    let upstream = echo_app().await;
    let state = state(Options {
        upstream,
        extra: "signedIdentity:\n  keyFile: /secrets/identity-keys\nauthorization:\n  rules:\n    - {path: /healthz, allow: public}\n",
        ..Options::default()
    });
    let request = axum::http::Request::get("/healthz")
        .header("x-portcullis-identity", "forged")
        .body(Body::empty())
        .expect("request");
    let headers = forwarded_headers(&state, request).await;
    assert!(headers.get("x-portcullis-identity").is_none(), "{headers}");
}

#[tokio::test]
async fn the_jwks_is_served_without_a_session_and_lists_every_key() {
    let state = state(Options {
        extra: SIGNED,
        ..Options::default()
    });
    let response = send(
        &state,
        get("/.well-known/portcullis/jwks.json", Some("text/html"), None),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "no sign-in redirect");
    assert!(header_text(&response, header::CACHE_CONTROL).contains("max-age=60"));
    let jwks: Value = serde_json::from_str(&text(response).await).expect("json");
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|jwk| jwk["kid"].as_str().expect("kid"))
        .collect();
    let in_file: Vec<String> = parse_identity_keys(identity_keys())
        .expect("keys")
        .iter()
        .map(|key| key.kid().to_owned())
        .collect();
    assert_eq!(published, in_file, "the new key and the previous one");
    assert!(
        !jwks.to_string().contains("\"d\""),
        "no private part: {jwks}"
    );
}

#[tokio::test]
async fn without_signed_identity_the_jwks_path_is_a_404_and_no_token_is_added() {
    let state = state_with_echo_app().await;
    let response = send(&state, get("/.well-known/portcullis/jwks.json", None, None)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let session = session_cookie(&state, "alice", Role::Untrusted);
    let headers = forwarded_headers(&state, get("/books", None, Some(&session))).await;
    assert!(headers.get("x-portcullis-identity").is_none(), "{headers}");
}
