//! API clients with bearer tokens: the real provider issues client-credentials
//! JWTs, the real sidecar verifies them with the provider's keys.
//!
//! Refused tokens are forged with an independent JOSE library
//! (`jsonwebtoken`), most with the provider's own signing key (the test made
//! it), so each differs from an accepted token in one property only; a
//! forged token with every property right is accepted, which shows the
//! forging itself is sound.

use anyhow::Result;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use portcullis_contract::access::{Access, AccessRule};
use portcullis_contract::bearer::BearerConfig;
use portcullis_e2e::api_clients::{ADMIN_ROBOT, TRUSTED_ROBOT, rsa_key_pair, write_signing_key};
use portcullis_e2e::idp::CLIENT_ID;
use portcullis_e2e::stack::Stack;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// The audience API clients ask the provider for (a resource indicator).
const API: &str = "https://books.example.test/api";
/// The `kid` of the provider's signing key.
const KID: &str = portcullis_e2e::idp::SIGNING_KEY_ID;

struct Api {
    stack: Stack,
    private_pem: String,
    public_pem: String,
    _keys: tempfile::TempDir,
}

async fn start() -> Result<Api> {
    let keys = tempfile::tempdir()?;
    let (private_pem, public_pem) = write_signing_key(keys.path(), "idp.pem")?;
    let stack = Stack::start_for_api(&keys.path().join("idp.pem"), |setup| {
        setup.config.bearer_tokens = Some(BearerConfig {
            audiences: vec![API.to_owned()],
            ..BearerConfig::default()
        });
        setup.config.authorization.rules = vec![AccessRule {
            path: "/admin/**".to_owned(),
            methods: Vec::new(),
            allow: Access::Admin,
        }];
    })
    .await?;
    Ok(Api {
        stack,
        private_pem,
        public_pem,
        _keys: keys,
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Claims like the provider's client-credentials tokens, for `issuer`.
fn claims(issuer: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer,
        "sub": "forged-robot",
        "aud": API,
        "iat": now,
        "exp": now + 300,
        "preferred_username": "service-account-forged",
        "groups": ["trusted"],
    })
}

fn sign(claims: &Value, algorithm: Algorithm, key: &EncodingKey) -> Result<String> {
    let mut header = Header::new(algorithm);
    header.kid = Some(KID.to_owned());
    header.typ = Some("at+jwt".to_owned());
    Ok(encode(&header, claims, key)?)
}

fn rsa(pem: &str) -> Result<EncodingKey> {
    Ok(EncodingKey::from_rsa_pem(pem.as_bytes())?)
}

/// `alg: none`, no signature.
fn unsigned(claims: &Value) -> String {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine.encode(json!({"alg": "none", "typ": "JWT", "kid": KID}).to_string());
    let payload = engine.encode(claims.to_string());
    format!("{header}.{payload}.")
}

async fn call(api: &Api, path: &str, token: &str) -> Result<reqwest::Response> {
    Ok(reqwest::Client::new()
        .get(api.stack.url(path))
        .bearer_auth(token)
        .header("accept", "text/html")
        .send()
        .await?)
}

#[tokio::test]
async fn a_client_credentials_token_from_the_provider_is_accepted_with_its_role() -> Result<()> {
    let api = start().await?;
    let (id, secret) = TRUSTED_ROBOT;
    let token = api
        .stack
        .idp
        .client_credentials_token(id, secret, API)
        .await?;
    let response = call(&api, "/books", &token).await?;
    assert_eq!(response.status(), 200);
    let seen: Value = response.json().await?;
    let headers = &seen["headers"];
    assert_eq!(
        headers["x-forwarded-user"],
        json!(["service-account-robot-trusted"])
    );
    assert_eq!(headers["x-portcullis-role"], json!(["trusted"]));

    let denied = call(&api, "/admin/users", &token).await?;
    assert_eq!(denied.status(), 403);
    assert!(denied.text().await?.contains("Not allowed"));

    let (id, secret) = ADMIN_ROBOT;
    let admin = api
        .stack
        .idp
        .client_credentials_token(id, secret, API)
        .await?;
    assert_eq!(call(&api, "/admin/users", &admin).await?.status(), 200);
    Ok(())
}

#[tokio::test]
async fn a_token_forged_right_with_the_providers_key_is_accepted() -> Result<()> {
    let api = start().await?;
    let token = sign(
        &claims(&api.stack.idp.issuer),
        Algorithm::RS256,
        &rsa(&api.private_pem)?,
    )?;
    let response = call(&api, "/books", &token).await?;
    assert_eq!(response.status(), 200, "the forging is sound");
    Ok(())
}

#[tokio::test]
async fn tokens_wrong_in_one_property_are_refused_with_401_never_a_redirect() -> Result<()> {
    let api = start().await?;
    let issuer = api.stack.idp.issuer.clone();
    let provider_key = rsa(&api.private_pem)?;
    let (id, secret) = TRUSTED_ROBOT;
    let other_audience = api
        .stack
        .idp
        .client_credentials_token(id, secret, "https://other.example.test/api")
        .await?;

    let mut wrong_issuer = claims(&issuer);
    wrong_issuer["iss"] = json!("http://127.0.0.1:1");
    let mut expired = claims(&issuer);
    expired["iat"] = json!(now() - 600);
    expired["exp"] = json!(now() - 120);
    let mut not_yet = claims(&issuer);
    not_yet["nbf"] = json!(now() + 600);
    let (other_private, _) = rsa_key_pair()?;
    let mut from_the_future = claims(&issuer);
    from_the_future["iat"] = json!(now() + 3600);
    from_the_future["exp"] = json!(now() + 3900);
    let with_claim = |name: &str, value: Value| {
        let mut shaped = claims(&issuer);
        shaped[name] = value;
        shaped
    };
    // An ID token as providers issue them: for the client, with the nonce
    // of its login and the hash of its access token.
    let mut id_token = claims(&issuer);
    id_token["aud"] = json!(CLIENT_ID);
    id_token["nonce"] = json!("n-0S6_WzA2Mj");
    id_token["at_hash"] = json!("77QmUPtjPfzWtF2AnpK9RQ");

    let cases = [
        ("an audience of another API", other_audience),
        (
            "another issuer",
            sign(&wrong_issuer, Algorithm::RS256, &provider_key)?,
        ),
        (
            "an expired exp",
            sign(&expired, Algorithm::RS256, &provider_key)?,
        ),
        (
            "an nbf ahead",
            sign(&not_yet, Algorithm::RS256, &provider_key)?,
        ),
        ("alg none", unsigned(&claims(&issuer))),
        (
            "HS256 keyed with the provider's public key",
            sign(
                &claims(&issuer),
                Algorithm::HS256,
                &EncodingKey::from_secret(api.public_pem.as_bytes()),
            )?,
        ),
        (
            "a signature from another key",
            sign(&claims(&issuer), Algorithm::RS256, &rsa(&other_private)?)?,
        ),
        ("an opaque token", "not-a-jwt".to_owned()),
        (
            "an iat an hour ahead",
            sign(&from_the_future, Algorithm::RS256, &provider_key)?,
        ),
        (
            "a nonce (an ID token's claim)",
            sign(
                &with_claim("nonce", json!("n-0S6_WzA2Mj")),
                Algorithm::RS256,
                &provider_key,
            )?,
        ),
        (
            "an at_hash (an ID token's claim)",
            sign(
                &with_claim("at_hash", json!("77QmUPtjPfzWtF2AnpK9RQ")),
                Algorithm::RS256,
                &provider_key,
            )?,
        ),
        (
            "a typ claim of ID (Keycloak's ID tokens)",
            sign(
                &with_claim("typ", json!("ID")),
                Algorithm::RS256,
                &provider_key,
            )?,
        ),
        (
            "the client id as the only audience",
            sign(
                &with_claim("aud", json!(CLIENT_ID)),
                Algorithm::RS256,
                &provider_key,
            )?,
        ),
        (
            "an ID token of the client",
            sign(&id_token, Algorithm::RS256, &provider_key)?,
        ),
    ];
    for (what, token) in &cases {
        let response = call(&api, "/books", token).await?;
        assert_eq!(response.status(), 401, "{what}");
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(challenge, r#"Bearer error="invalid_token""#, "{what}");
        let body: Value = response.json().await?;
        assert_eq!(body["error"], "invalid_token", "{what}");
    }
    let refused = format!(
        "portcullis_bearer_tokens_total{{result=\"Refused\"}} {}",
        cases.len()
    );
    api.stack.sidecar.wait_for_metric(&refused).await?;
    Ok(())
}
