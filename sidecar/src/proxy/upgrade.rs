//! Which protocol switches pass the sidecar, and how long a switched
//! connection may live.
//!
//! Once a connection is spliced, the sidecar no longer sees requests on it:
//! whatever the client sends goes straight to the app. So only a WebSocket
//! handshake on an HTTP/1.1 `GET` is passed on, and only when the app's
//! `101` switches to WebSocket too. Any other `Upgrade` (`h2c` above all,
//! which would let the client speak HTTP/2 to the app with headers of its
//! choosing) is removed and the request forwarded as an ordinary one. A
//! spliced connection ends when the session that opened it expires or is
//! logged out, or when the sidecar stops; until then it keeps its place
//! among the connections served at once.

use crate::proxy::connection_slot::ConnectionSlot;
use crate::runtime::state::{SharedState, unix_now};
use crate::session::Session;
use http::header::{self, HeaderMap};
use http::{Method, Version};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;

const WEBSOCKET: &str = "websocket";

/// True for a WebSocket handshake (RFC 6455 §4.1): an HTTP/1.1 `GET` with
/// `Connection: upgrade` and a single `Upgrade: websocket`.
pub fn is_websocket_handshake(method: &Method, version: Version, headers: &HeaderMap) -> bool {
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    let mut upgrades = headers.get_all(header::UPGRADE).iter();
    let only_websocket = matches!(
        (upgrades.next(), upgrades.next()),
        (Some(value), None) if value.to_str().is_ok_and(|value| value.trim().eq_ignore_ascii_case(WEBSOCKET))
    );
    method == Method::GET && version == Version::HTTP_11 && connection_upgrade && only_websocket
}

/// True when the app's `101` switches to WebSocket, the one protocol asked for.
pub fn app_switched_to_websocket(response_headers: &HeaderMap) -> bool {
    response_headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case(WEBSOCKET))
}

/// Copies bytes both ways until either side closes, the session ends or
/// the server stops. `slot` (the connection's place among those served at
/// once) is held until then.
pub async fn splice(
    state: SharedState,
    session: Option<Arc<Session>>,
    slot: Option<ConnectionSlot>,
    client: OnUpgrade,
    app: OnUpgrade,
) {
    let (Ok(client), Ok(app)) = (client.await, app.await) else {
        return;
    };
    let copy = async {
        let _ =
            tokio::io::copy_bidirectional(&mut TokioIo::new(client), &mut TokioIo::new(app)).await;
    };
    let stopping = async {
        match slot {
            Some(mut slot) => slot.stopping().await,
            None => std::future::pending().await,
        }
    };
    let Some(session) = session else {
        // A public path without a session: only the peers or a stop end it.
        tokio::select! {
            () = copy => {}
            () = stopping => {}
        }
        return;
    };
    let lifetime = Duration::from_secs(session.last_moment().saturating_sub(unix_now()));
    tokio::select! {
        () = copy => {}
        () = stopping => {}
        () = tokio::time::sleep(lifetime) => {
            tracing::info!(user = %session.user, "WebSocket closed: the session expired");
        }
        () = state.revoked.wait_until_ended(&session) => {
            tracing::info!(user = %session.user, "WebSocket closed: the session was logged out");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn handshake(upgrade: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        headers.insert(header::UPGRADE, HeaderValue::from_static(upgrade));
        headers
    }

    #[test]
    fn only_a_websocket_get_over_http_1_1_is_a_handshake() {
        let get = Method::GET;
        let v11 = Version::HTTP_11;
        assert!(is_websocket_handshake(&get, v11, &handshake("WebSocket")));
        assert!(!is_websocket_handshake(&get, v11, &handshake("h2c")));
        assert!(!is_websocket_handshake(
            &get,
            v11,
            &handshake("websocket, h2c")
        ));
        assert!(!is_websocket_handshake(
            &Method::POST,
            v11,
            &handshake("websocket")
        ));
        assert!(!is_websocket_handshake(
            &get,
            Version::HTTP_10,
            &handshake("websocket")
        ));
        let mut twice = handshake("websocket");
        twice.append(header::UPGRADE, HeaderValue::from_static("h2c"));
        assert!(!is_websocket_handshake(&get, v11, &twice));
        let mut no_connection = handshake("websocket");
        no_connection.remove(header::CONNECTION);
        assert!(!is_websocket_handshake(&get, v11, &no_connection));
    }

    #[test]
    fn an_app_switching_to_anything_but_websocket_is_not_spliced() {
        assert!(app_switched_to_websocket(&handshake("websocket")));
        assert!(!app_switched_to_websocket(&handshake("h2c")));
        assert!(!app_switched_to_websocket(&HeaderMap::new()));
    }
}
