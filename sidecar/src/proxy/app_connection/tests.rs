//! A client connection's requests against a real app on 127.0.0.1 that
//! counts its connections and can close them.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the test app treats a connection after each answer.
#[derive(Clone, Copy)]
enum AfterAnswer {
    KeepOpen,
    /// Announce `Connection: close` and close.
    Close,
    /// Keep-alive, but close as soon as the answer is out, as an app with
    /// a short idle timeout does.
    CloseSilently,
    /// Answer the first request; read the second and close unanswered.
    DropTheSecond,
}

#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    closed_by_sidecar: AtomicUsize,
}

/// An app that answers `ok` to every request without a body.
async fn app(after: AfterAnswer) -> (Authority, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let authority = Authority::try_from(listener.local_addr().expect("address").to_string())
        .expect("authority");
    let counts = Arc::new(Counts::default());
    let shared = counts.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            shared.accepted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(answer(stream, after, shared.clone()));
        }
    });
    (authority, counts)
}

async fn answer(mut stream: TcpStream, after: AfterAnswer, counts: Arc<Counts>) {
    let mut head = Vec::new();
    let mut buffer = [0; 1024];
    let mut answered = 0;
    loop {
        let Ok(read) = stream.read(&mut buffer).await else {
            return;
        };
        if read == 0 {
            counts.closed_by_sidecar.fetch_add(1, Ordering::SeqCst);
            return;
        }
        head.extend_from_slice(&buffer[..read]);
        while let Some(end) = head.windows(4).position(|window| window == b"\r\n\r\n") {
            head.drain(..end + 4);
            answered += 1;
            if matches!(after, AfterAnswer::DropTheSecond) && answered == 2 {
                return;
            }
            let close = matches!(after, AfterAnswer::Close);
            let answer = if close {
                "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
            } else {
                "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
            };
            if stream.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
            if matches!(after, AfterAnswer::Close | AfterAnswer::CloseSilently) {
                return;
            }
        }
    }
}

fn get(authority: &Authority) -> Request<Body> {
    Request::get("/")
        .header(http::header::HOST, authority.as_str())
        .body(Body::empty())
        .expect("request")
}

/// Sends `count` requests one after the other on one client connection,
/// as its task does, and returns each answer's body.
async fn requests_on_one_client_connection(authority: &Authority, count: usize) -> Vec<String> {
    let (connection, driver) = AppConnection::new();
    let mut bodies = Vec::new();
    driver
        .serve_alongside(async {
            for _ in 0..count {
                let response = connection
                    .send(authority, get(authority))
                    .await
                    .expect("sent");
                let body = axum::body::to_bytes(Body::new(response.into_body()), 1024)
                    .await
                    .expect("body");
                bodies.push(String::from_utf8_lossy(&body).into_owned());
                // Time for an app that closes at once to be seen closing.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    bodies
}

#[tokio::test]
async fn a_client_connections_requests_share_one_connection_to_the_app() {
    let (authority, counts) = app(AfterAnswer::KeepOpen).await;
    let bodies = requests_on_one_client_connection(&authority, 3).await;
    assert_eq!(bodies, ["ok", "ok", "ok"]);
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn each_client_connection_has_its_own_connection_to_the_app() {
    let (authority, counts) = app(AfterAnswer::KeepOpen).await;
    let (first, second) = tokio::join!(
        requests_on_one_client_connection(&authority, 2),
        requests_on_one_client_connection(&authority, 2),
    );
    assert_eq!([first, second].concat(), ["ok", "ok", "ok", "ok"]);
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_app_that_announces_close_gets_a_new_connection_for_the_next_request() {
    let (authority, counts) = app(AfterAnswer::Close).await;
    let bodies = requests_on_one_client_connection(&authority, 3).await;
    assert_eq!(bodies, ["ok", "ok", "ok"]);
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_app_that_closes_an_idle_connection_unannounced_gets_a_new_one() {
    let (authority, counts) = app(AfterAnswer::CloseSilently).await;
    let bodies = requests_on_one_client_connection(&authority, 3).await;
    assert_eq!(bodies, ["ok", "ok", "ok"]);
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_request_the_app_received_is_never_sent_again() {
    let (authority, counts) = app(AfterAnswer::DropTheSecond).await;
    let (connection, driver) = AppConnection::new();
    driver
        .serve_alongside(async {
            let first = connection.send(&authority, get(&authority)).await;
            let body = axum::body::to_bytes(Body::new(first.expect("sent").into_body()), 1024)
                .await
                .expect("body");
            assert_eq!(&body[..], b"ok");
            let second = connection.send(&authority, get(&authority)).await;
            assert!(
                matches!(second, Err(AppConnectionError::Http(_))),
                "{second:?}"
            );
        })
        .await;
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_connection_to_the_app_closes_with_its_client_connection() {
    let (authority, counts) = app(AfterAnswer::KeepOpen).await;
    requests_on_one_client_connection(&authority, 1).await;
    let closed = async {
        while counts.closed_by_sidecar.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("the app saw its connection close");
}

#[tokio::test]
async fn an_app_that_is_not_listening_is_an_error_naming_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let authority = Authority::try_from(listener.local_addr().expect("address").to_string())
        .expect("authority");
    drop(listener);
    let (connection, driver) = AppConnection::new();
    driver
        .serve_alongside(async {
            let error = connection
                .send(&authority, get(&authority))
                .await
                .expect_err("nothing listens");
            assert!(matches!(error, AppConnectionError::Connect(_)), "{error:?}");
            assert!(error.to_string().starts_with("cannot connect to the app"));
        })
        .await;
}
