//! Serving `envoy.service.auth.v3.Authorization/Check` over gRPC.
//!
//! Every question gets a `CheckResponse`, a refusal included: a gRPC
//! error would leave the verdict to Envoy's `failure_mode_allow`, and a
//! forward-auth service decides, it does not fail open by configuration.
//! Each call is bounded in time and size, a connection in the calls it runs
//! at once, and the port in its open connections.

use super::answer::{allowed, denied};
use super::bounded_incoming::bounded;
use super::question::question_of;
use crate::forward::verify::{judge, not_believed};
use crate::runtime::state::SharedState;
use axum::response::{IntoResponse, Response};
use envoy_types::pb::envoy::service::auth::v3::authorization_server::{
    Authorization, AuthorizationServer,
};
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};
use http::StatusCode;
use std::net::IpAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::Server;

/// The longest a call may take: a verdict waits at most for a session
/// store or a provider's keys, both bounded inside it. Envoy's own timeout
/// is usually shorter; what it does then is its `failure_mode_allow`,
/// which must be false (the README says so).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Calls one connection (one Envoy) may run at once, and the HTTP/2
/// streams it may open.
const CALLS_PER_CONNECTION: u32 = 256;
/// The largest `CheckRequest` read: Envoy's headers (at most 96 KiB) and a
/// body only when `with_request_body` asks, which the gate never reads.
const MAX_QUESTION_BYTES: usize = 1024 * 1024;
/// Pings on an idle connection, and how long an answer may take, so a
/// vanished Envoy's connections are closed.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer body passed on: refusal pages are a few KiB.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The `Authorization` service over the sidecar's state.
#[derive(Clone)]
pub struct CheckService {
    state: SharedState,
}

impl CheckService {
    /// The service answering from `state`'s current settings.
    pub fn new(state: SharedState) -> Self {
        Self { state }
    }

    /// The answer to `check` from `peer`.
    pub async fn answer(&self, peer: IpAddr, check: &CheckRequest) -> CheckResponse {
        let settings = self.state.settings.load_full();
        if settings.door.upstream().is_some() {
            return denied_by(
                (
                    StatusCode::NOT_FOUND,
                    "this sidecar proxies to an app: it answers no forward-auth question",
                )
                    .into_response(),
            )
            .await;
        }
        let question = match question_of(peer, check, &settings.trusted_proxies, settings.hosts()) {
            Ok(question) => question,
            Err(why) => return denied_by(not_believed(&why)).await,
        };
        match judge(
            &self.state,
            &settings,
            &question.original,
            &question.headers,
        )
        .await
        {
            Ok(passed) => allowed(passed, &question.headers, settings.signed_identity_header()),
            Err(refused) => denied_by(refused).await,
        }
    }
}

#[tonic::async_trait]
impl Authorization for CheckService {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        let Some(peer) = request.remote_addr() else {
            return Err(tonic::Status::permission_denied(
                "the peer's address is unknown, so it cannot be a trusted proxy",
            ));
        };
        let answer = self.answer(peer.ip(), request.get_ref()).await;
        Ok(tonic::Response::new(answer))
    }
}

/// Serves the service on `listener` until `stop` turns true.
pub async fn serve_check(
    listener: TcpListener,
    state: SharedState,
    mut stop: watch::Receiver<bool>,
) -> Result<(), tonic::transport::Error> {
    let max_connections = state.settings.load().connections.max_connections;
    let incoming = bounded(listener, max_connections);
    let service = AuthorizationServer::new(CheckService::new(state))
        .max_decoding_message_size(MAX_QUESTION_BYTES);
    Server::builder()
        .timeout(CALL_TIMEOUT)
        .concurrency_limit_per_connection(CALLS_PER_CONNECTION as usize)
        .max_concurrent_streams(CALLS_PER_CONNECTION)
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        })
        .await
}

/// The `Denied` answer carrying the HTTP answer `response`.
async fn denied_by(response: Response) -> CheckResponse {
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .unwrap_or_default();
    denied(parts.status, &parts.headers, &body)
}
