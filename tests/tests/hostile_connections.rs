//! Clients that hold connections: half-sent heads, idle keep-alives, floods
//! of silent connections, huge heads, and HTTP/2 sent without asking.

use anyhow::{Context, Result};
use portcullis_e2e::guarded::{Guarded, read_response};
use portcullis_sidecar::access::roles::Role;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// True once the server has closed `stream` (EOF or reset), within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

fn open_descriptors(pid: u32) -> Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

#[tokio::test]
async fn a_half_sent_request_head_is_closed_after_the_header_timeout() -> Result<()> {
    let guarded = Guarded::start_with(|setup| {
        setup.config.connections.header_read_timeout_seconds = 1;
    })
    .await?;
    let mut stream = TcpStream::connect(guarded.addr()).await?;
    stream
        .write_all(format!("GET / HTTP/1.1\r\nHost: {}\r\nX-Slow: ", guarded.addr()).as_bytes())
        .await?;
    assert!(
        closed_within(&mut stream, Duration::from_secs(10)).await,
        "a slow head kept its connection"
    );
    Ok(())
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() -> Result<()> {
    let guarded = Guarded::start_with(|setup| {
        setup.config.connections.header_read_timeout_seconds = 1;
    })
    .await?;
    let mut stream = TcpStream::connect(guarded.addr()).await?;
    stream
        .write_all(format!("GET /login HTTP/1.1\r\nHost: {}\r\n\r\n", guarded.addr()).as_bytes())
        .await?;
    assert_eq!(read_response(&mut stream).await?.status(), 200);
    assert!(
        closed_within(&mut stream, Duration::from_secs(10)).await,
        "an idle connection stayed open"
    );
    Ok(())
}

#[tokio::test]
async fn silent_connections_beyond_the_cap_hold_no_descriptors() -> Result<()> {
    let guarded = Guarded::start_with(|setup| {
        setup.config.connections.max_connections = 4;
    })
    .await?;
    let pid = guarded.sidecar.child.id().context("the sidecar runs")?;
    let before = open_descriptors(pid)?;
    let mut silent = Vec::new();
    for _ in 0..60 {
        silent.push(TcpStream::connect(guarded.addr()).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = open_descriptors(pid)?;
    assert!(
        during <= before + 4 + 2,
        "{before} descriptors before, {during} with 60 silent clients"
    );
    Ok(())
}

#[tokio::test]
async fn spliced_websockets_keep_their_place_among_the_connections_served() -> Result<()> {
    let guarded = Guarded::start_with(|setup| {
        setup.config.connections.max_connections = 2;
    })
    .await?;
    let cookie = guarded.session_cookie("ursula", Role::Untrusted, 600)?;
    let first = guarded.open_websocket(&cookie).await?;
    let _second = guarded.open_websocket(&cookie).await?;
    let client = reqwest::Client::new();
    let while_full = client
        .get(guarded.url("/login"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        while_full.is_err(),
        "a third connection was served beside two WebSockets: {while_full:?}"
    );
    drop(first);
    let after_one_closed = client
        .get(guarded.url("/login"))
        .timeout(Duration::from_secs(20))
        .send()
        .await?;
    assert_eq!(after_one_closed.status(), reqwest::StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn an_oversized_request_head_is_refused() -> Result<()> {
    let guarded = Guarded::start().await?;
    let mut stream = TcpStream::connect(guarded.addr()).await?;
    let big = "a".repeat(100 * 1024);
    let request = format!(
        "GET /login HTTP/1.1\r\nHost: {}\r\nX-Big: {big}\r\n\r\n",
        guarded.addr()
    );
    let _ = stream.write_all(request.as_bytes()).await;
    let response = read_response(&mut stream).await?;
    assert_eq!(response.status(), 431, "{}", response.head);
    Ok(())
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_refused_cleanly() -> Result<()> {
    let guarded = Guarded::start().await?;
    let mut stream = TcpStream::connect(guarded.addr()).await?;
    // The HTTP/2 connection preface and an empty SETTINGS frame.
    let mut preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    preface.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    stream.write_all(&preface).await?;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || text.starts_with("HTTP/1.1 4") || text.starts_with("HTTP/1.1 5"),
        "an HTTP/2 answer or something else: {answer:?}"
    );
    assert!(!text.starts_with("HTTP/1.1 502"), "{text}");
    let healthy = reqwest::get(guarded.url("/login")).await?;
    assert_eq!(healthy.status(), reqwest::StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn forwarded_for_from_a_trusted_proxy_names_the_client() -> Result<()> {
    let guarded = Guarded::start_with(|setup| {
        setup.config.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await?;
    let cookie = guarded.session_cookie("ursula", Role::Untrusted, 600)?;
    let echo: Value = reqwest::Client::new()
        .get(guarded.url("/who"))
        .header("Cookie", cookie)
        .header("X-Forwarded-For", "1.1.1.1, 203.0.113.5")
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        echo["headers"]["x-forwarded-for"][0],
        "203.0.113.5, 127.0.0.1"
    );
    assert_eq!(echo["headers"]["x-real-ip"][0], "203.0.113.5");
    Ok(())
}
