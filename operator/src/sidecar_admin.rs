//! Asking a sidecar on its admin port which settings it serves.
//!
//! Its `/readyz` names the hash of the settings it loaded, in an answer it
//! gives whether ready or not. Plain HTTP to a pod's address, with a short
//! timeout, never through a proxy the operator's environment names; the
//! cause of a failure is short and stable, so an unchanged outage gives an
//! unchanged status.

use crate::fetch_failure::failure_cause;
use crate::status::rollout::PodAnswer;
use std::net::SocketAddr;
use std::time::Duration;

/// How long one pod has to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// The client that asks sidecars.
pub fn admin_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(ASK_TIMEOUT)
        .no_proxy()
        .build()
        .unwrap_or_default()
}

/// What the sidecar at `address` says it serves.
pub async fn served_settings(client: &reqwest::Client, address: SocketAddr) -> PodAnswer {
    let url = format!("http://{address}/readyz");
    let body = match client.get(&url).send().await {
        Ok(response) => response.json::<serde_json::Value>().await,
        Err(error) => return PodAnswer::NoAnswer(failure_cause(&error, ASK_TIMEOUT)),
    };
    match body {
        Ok(body) => match body["config"]["hash"].as_str() {
            Some(hash) if !hash.is_empty() => PodAnswer::Serves(hash.to_owned()),
            _ => PodAnswer::NoAnswer("its /readyz names no settings hash".to_owned()),
        },
        Err(_) => PodAnswer::NoAnswer("its /readyz is not JSON".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serving(body: &'static str) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address = listener.local_addr().expect("its address");
        let app =
            axum::Router::new().route("/readyz", axum::routing::get(move || async move { body }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        address
    }

    #[tokio::test]
    async fn a_sidecar_names_its_hash_and_anything_else_says_why_not() {
        let client = admin_client();
        let hash = serving(r#"{"ready":false,"config":{"hash":"abc"}}"#).await;
        assert_eq!(
            served_settings(&client, hash).await,
            PodAnswer::Serves("abc".into())
        );
        let text = serving("ok").await;
        assert_eq!(
            served_settings(&client, text).await,
            PodAnswer::NoAnswer("its /readyz is not JSON".into())
        );
        let nameless = serving(r#"{"ready":true}"#).await;
        assert_eq!(
            served_settings(&client, nameless).await,
            PodAnswer::NoAnswer("its /readyz names no settings hash".into())
        );
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port");
        let PodAnswer::NoAnswer(why) = served_settings(&client, closed).await else {
            panic!("an answer from a closed port");
        };
        assert!(why.contains("refused"), "{why}");
    }
}
