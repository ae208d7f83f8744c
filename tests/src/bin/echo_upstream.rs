//! A tiny app to put behind the proxies: it answers every request with JSON
//! describing what it received (method, path, query, headers), so tests can
//! see exactly what the sidecar passed on. Like many app servers (Hypercorn
//! accepts `h2c`), it agrees to any `Upgrade` it is asked for, switching to
//! a raw byte echo; `?switch-to=<protocol>` makes it answer with another
//! protocol than asked, as a misbehaving app would. `/bench` answers a bare `ok`
//! (for load tests); `/slow` answers after 800 ms (for shutdown tests).
//!
//! Like many small apps it exits at once on SIGTERM, in-flight requests and
//! all (and not only because it is PID 1 in a container, which would
//! otherwise ignore the signal): the app a rollout test needs.
//!
//! Usage: `echo-upstream [PORT | ADDRESS:PORT]` (0 or none picks a free
//! port; a port alone listens on loopback, as an app behind the sidecar
//! should; `0.0.0.0:8080` is an app that listens everywhere, as many do,
//! which only a NetworkPolicy keeps other pods from); prints
//! `ECHO_READY <address>:<port>` once listening.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use std::io::Write;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let address = match std::env::args().nth(1) {
        Some(arg) if arg.contains(':') => arg.parse()?,
        Some(port) => SocketAddr::from(([127, 0, 0, 1], port.parse()?)),
        None => SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let listener = tokio::net::TcpListener::bind(address).await?;
    println!("ECHO_READY {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let app = Router::new().fallback(echo);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        served = axum::serve(listener, app) => served?,
        _ = terminate.recv() => std::process::exit(0),
    }
    Ok(())
}

async fn echo(mut request: Request) -> Response {
    if let Some(asked) = request.headers().get(header::UPGRADE).cloned() {
        let answered = request
            .uri()
            .query()
            .and_then(|query| query.strip_prefix("switch-to="))
            .and_then(|protocol| HeaderValue::from_str(protocol).ok())
            .unwrap_or(asked);
        let upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                let mut io = TokioIo::new(upgraded);
                let mut buffer = [0u8; 1024];
                while let Ok(read) = io.read(&mut buffer).await {
                    if read == 0 || io.write_all(&buffer[..read]).await.is_err() {
                        break;
                    }
                }
            }
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        response.headers_mut().insert(header::UPGRADE, answered);
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        return response;
    }
    if request.uri().path() == "/bench" {
        return "ok".into_response();
    }
    if request.uri().path() == "/slow" {
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    }
    let mut headers = Map::new();
    for (name, value) in request.headers() {
        let values = headers
            .entry(name.as_str())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = values {
            values.push(Value::String(
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        }
    }
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    axum::Json(json!({
        "method": method,
        "path": path,
        "query": query,
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    }))
    .into_response()
}
