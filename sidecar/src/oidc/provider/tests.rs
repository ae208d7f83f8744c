//! When a token that fails to verify may make the sidecar fetch the
//! provider's keys again, against a small discovery server on loopback that
//! counts the key fetches.

use super::{Provider, TokenSource};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A provider that serves a discovery document and an empty key set, and
/// counts how often the key set was fetched.
struct CountingProvider {
    issuer: String,
    key_fetches: Arc<AtomicUsize>,
}

impl CountingProvider {
    async fn start() -> Self {
        Self::start_declaring(|issuer| issuer.to_owned()).await
    }

    /// A provider whose document declares `declared(issuer)` as its issuer.
    async fn start_declaring(declared: impl Fn(&str) -> String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("address"));
        let key_fetches = Arc::new(AtomicUsize::new(0));
        let document = discovery_document(&declared(&issuer));
        let router = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { axum::Json(document) }),
            )
            .route("/jwks", get(keys))
            .with_state(key_fetches.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            issuer,
            key_fetches,
        }
    }

    fn key_fetches(&self) -> usize {
        self.key_fetches.load(Ordering::SeqCst)
    }
}

async fn keys(State(fetches): State<Arc<AtomicUsize>>) -> axum::Json<Value> {
    fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({ "keys": [] }))
}

fn discovery_document(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{}/jwks", issuer.trim_end_matches('/')),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    })
}

fn cache() -> Provider {
    Provider::new(reqwest::Client::new())
}

#[tokio::test]
async fn a_failed_token_from_the_token_endpoint_refetches_every_time() {
    let idp = CountingProvider::start().await;
    let provider = cache();
    let mut used = provider.get(&idp.issuer).await.expect("discovery");
    for round in 1..=3 {
        let fresh = provider
            .refresh_after_key_failure(&used, TokenSource::TokenEndpoint)
            .await
            .expect("refetch");
        assert!(
            !Arc::ptr_eq(&fresh, &used),
            "round {round} kept the old keys"
        );
        used = fresh;
    }
    assert_eq!(idp.key_fetches(), 4);
}

#[tokio::test]
async fn forged_bearer_tokens_force_at_most_one_key_fetch_in_a_burst() {
    let idp = CountingProvider::start().await;
    let provider = cache();
    let used = provider.get(&idp.issuer).await.expect("discovery");
    for _ in 0..50 {
        let current = provider.cached(&idp.issuer).expect("cached");
        provider
            .refresh_after_key_failure(&current, TokenSource::Bearer)
            .await
            .expect("keys");
    }
    assert_eq!(
        idp.key_fetches(),
        2,
        "one at start, one forced by the burst"
    );
    assert!(!Arc::ptr_eq(
        &provider.cached(&idp.issuer).expect("cached"),
        &used
    ));
}

#[tokio::test]
async fn logins_failing_together_after_a_rotation_cause_one_fetch() {
    let idp = CountingProvider::start().await;
    let provider = Arc::new(cache());
    let used = provider.get(&idp.issuer).await.expect("discovery");
    let logins: Vec<_> = (0..10)
        .map(|_| {
            let provider = provider.clone();
            let used = used.clone();
            tokio::spawn(async move {
                provider
                    .refresh_after_key_failure(&used, TokenSource::TokenEndpoint)
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    for login in logins {
        login.await.expect("task").expect("keys");
    }
    assert_eq!(idp.key_fetches(), 2, "one at start, one for all ten logins");
}

#[tokio::test]
async fn a_provider_declaring_its_issuer_with_a_trailing_slash_is_accepted() {
    let idp = CountingProvider::start_declaring(|issuer| format!("{issuer}/")).await;
    let provider = cache();
    let found = provider.get(&idp.issuer).await.expect("discovery");
    assert_eq!(
        found.issuer, idp.issuer,
        "cached under the configured issuer"
    );
    assert_eq!(found.declared_issuer(), format!("{}/", idp.issuer));
}

#[tokio::test]
async fn a_provider_declaring_another_issuer_is_refused() {
    let idp =
        CountingProvider::start_declaring(|_| "https://elsewhere.example.com/".to_owned()).await;
    let failure = cache().get(&idp.issuer).await.expect_err("another issuer");
    assert!(
        failure.reason.contains("elsewhere.example.com"),
        "{}",
        failure.reason
    );
}
