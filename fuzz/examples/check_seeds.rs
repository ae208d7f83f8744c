//! Writes the seeds of the `envoy_check` target, which are protobuf messages
//! and so cannot be written by hand: `cargo run --example check_seeds` (from
//! `fuzz/`).

use envoy_types::pb::envoy::config::core::v3::{HeaderMap, HeaderValue};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest};
use prost::Message;
use std::collections::HashMap;
use std::fs;
use std::path::Path;

/// Envoy's question about `method path` on `host` with `headers` merged.
fn question(method: &str, path: &str, host: &str, headers: &[(&str, &str)]) -> HttpRequest {
    HttpRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        host: host.to_owned(),
        scheme: "https".to_owned(),
        protocol: "HTTP/2".to_owned(),
        headers: headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect::<HashMap<_, _>>(),
        ..Default::default()
    }
}

fn check(http: HttpRequest) -> CheckRequest {
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                http: Some(http),
                time: None,
            }),
            ..Default::default()
        }),
    }
}

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/envoy_check");
    fs::create_dir_all(&dir)?;
    let host = "books.example.com";
    let mut raw = question("GET", "/books", host, &[]);
    raw.header_map = Some(HeaderMap {
        headers: ["a=1", "b=2"]
            .iter()
            .map(|cookie| HeaderValue {
                key: "cookie".to_owned(),
                raw_value: cookie.as_bytes().to_vec(),
                ..Default::default()
            })
            .collect(),
    });
    let seeds = [
        (
            "page",
            question(
                "GET",
                "/books?page=2",
                host,
                &[
                    (":authority", host),
                    (":path", "/books?page=2"),
                    ("accept", "text/html"),
                ],
            ),
        ),
        (
            "forged-identity",
            question(
                "POST",
                "/upload",
                "books.example.com:443",
                &[
                    ("x-forwarded-user", "admin"),
                    ("x_forwarded_user", "admin"),
                    ("x-portcullis_role", "admin"),
                    ("x-jwt_assertion", "forged"),
                ],
            ),
        ),
        (
            "path-in-headers",
            question(
                "GET",
                "/admin/users",
                host,
                &[
                    ("x-original-url", "https://books.example.com/healthz"),
                    ("x-envoy-original-path", "/healthz"),
                ],
            ),
        ),
        ("other-host", question("GET", "/", "evil.example", &[])),
        (
            "absolute-path",
            question("GET", "https://evil.example/", host, &[]),
        ),
        ("fragment", question("GET", "/a#/admin", host, &[])),
        ("raw-headers", raw),
    ];
    for (name, http) in seeds {
        fs::write(dir.join(name), check(http).encode_to_vec())?;
    }
    Ok(())
}
