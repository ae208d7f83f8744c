//! The sidecar's connections to the app, served over real sockets on
//! 127.0.0.1: each client connection keeps one, and no more.

use crate::support::{Options, session_cookie, state};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::serve::ListenerExt;
use portcullis_sidecar::access::roles::Role;
use portcullis_sidecar::config::connections::ConnectionLimits;
use portcullis_sidecar::serve::listener::serve_bounded;
use portcullis_sidecar::serve::routes::PublicApp;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An app on 127.0.0.1 that counts the connections it accepted: a body to
/// read at `/upload`, a large answer at `/big`, an early refusal at `/early`,
/// and `ok` everywhere else.
async fn counting_app() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let listener = listener.tap_io(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let app = Router::new()
        .route(
            "/upload",
            axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        )
        .route("/big", axum::routing::get(|| async { vec![b'x'; BIG] }))
        .route(
            "/early",
            axum::routing::post(|| async { (axum::http::StatusCode::PAYLOAD_TOO_LARGE, "no") }),
        )
        .fallback(|| async { "ok" });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, accepted)
}

/// A sidecar on 127.0.0.1 in front of `upstream`, serving until dropped.
struct ServedSidecar {
    address: SocketAddr,
    cookie: String,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn serve_sidecar(upstream: SocketAddr) -> ServedSidecar {
    let state = state(Options {
        upstream,
        ..Options::default()
    });
    let cookie = session_cookie(&state, "alice", Role::Trusted);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(10),
        max_connections: 16,
        max_request_head_bytes: 16 * 1024,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let app = PublicApp::new(state);
    let serve = move |peer, request| app.clone().serve(peer, request);
    tokio::spawn(serve_bounded(listener, serve, limits, stopped));
    ServedSidecar {
        address,
        cookie,
        _stop: stop,
    }
}

/// Sends `count` GETs one after the other on one connection and checks each answer.
async fn requests_on_one_connection(sidecar: SocketAddr, cookie: &str, count: usize) {
    let mut stream = TcpStream::connect(sidecar).await.expect("connect");
    for _ in 0..count {
        let request =
            format!("GET /books HTTP/1.1\r\nHost: books.example\r\nCookie: {cookie}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut answer = Vec::new();
        let mut buffer = [0; 4096];
        while !answer.ends_with(b"\r\n\r\nok") {
            let read = stream.read(&mut buffer).await.expect("read");
            assert!(
                read > 0,
                "closed early: {}",
                String::from_utf8_lossy(&answer)
            );
            answer.extend_from_slice(&buffer[..read]);
        }
        assert!(
            answer.starts_with(b"HTTP/1.1 200 OK"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
}

#[tokio::test]
async fn each_client_connection_keeps_one_connection_to_the_app() {
    let (upstream, accepted) = counting_app().await;
    let sidecar = serve_sidecar(upstream).await;
    let cookie = sidecar.cookie.as_str();

    tokio::join!(
        requests_on_one_connection(sidecar.address, cookie, 5),
        requests_on_one_connection(sidecar.address, cookie, 5),
        requests_on_one_connection(sidecar.address, cookie, 5),
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

const BIG: usize = 1024 * 1024;

#[tokio::test]
async fn bodies_both_ways_and_an_early_answer_leave_the_next_request_intact() {
    let (upstream, accepted) = counting_app().await;
    let sidecar = serve_sidecar(upstream).await;
    let cookie = sidecar.cookie.as_str();

    let stream = TcpStream::connect(sidecar.address).await.expect("connect");
    let (mut client, connection) =
        hyper::client::conn::http1::handshake::<_, Body>(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(connection);
    let upload = vec![b'u'; 100_000];
    let steps: [(Method, &str, Vec<u8>, StatusCode, usize); 5] = [
        (Method::POST, "/upload", upload.clone(), StatusCode::OK, 6),
        (Method::GET, "/big", Vec::new(), StatusCode::OK, BIG),
        (
            Method::POST,
            "/early",
            upload,
            StatusCode::PAYLOAD_TOO_LARGE,
            2,
        ),
        (Method::GET, "/ok", Vec::new(), StatusCode::OK, 2),
        (Method::GET, "/big", Vec::new(), StatusCode::OK, BIG),
    ];
    for (method, path, body, status, length) in steps {
        client
            .ready()
            .await
            .expect("the sidecar keeps the connection");
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "books.example")
            .header(header::COOKIE, cookie)
            .body(Body::from(body))
            .expect("request");
        let response = client.send_request(request).await.expect("answer");
        assert_eq!(response.status(), status, "{path}");
        let body = axum::body::to_bytes(Body::new(response.into_body()), 2 * BIG)
            .await
            .expect("body");
        assert_eq!(body.len(), length, "{path}");
    }
    let opened = accepted.load(Ordering::SeqCst);
    assert!((1..=2).contains(&opened), "{opened} connections to the app");
}
