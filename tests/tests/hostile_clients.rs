//! A signed-in client that tries to reach the app as someone else: through
//! protocol switches, header spellings, forwarding headers and `Host` tricks.
//! Each test runs the real sidecar in front of the echo app.

use anyhow::Result;
use portcullis_e2e::guarded::{Guarded, read_response};
use portcullis_sidecar::access::roles::Role;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Header names the app received, from the echo app's JSON answer.
fn header_names(echo: &Value) -> Vec<String> {
    echo["headers"]
        .as_object()
        .map(|headers| headers.keys().cloned().collect())
        .unwrap_or_default()
}

fn header<'a>(echo: &'a Value, name: &str) -> Vec<&'a str> {
    echo["headers"][name]
        .as_array()
        .map(|values| values.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_h2c_upgrade_is_forwarded_as_a_plain_request_never_spliced() -> Result<()> {
    let guarded = Guarded::start().await?;
    let cookie = guarded.session_cookie("ursula", Role::Untrusted, 600)?;
    let mut stream = TcpStream::connect(guarded.addr()).await?;
    let request = format!(
        "GET /h2c HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
         HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nCookie: {cookie}\r\n\r\n",
        guarded.addr()
    );
    stream.write_all(request.as_bytes()).await?;
    let response = read_response(&mut stream).await?;
    assert_eq!(response.status(), 200, "{}", response.head);
    let echo: Value = serde_json::from_str(&response.body)?;
    let names = header_names(&echo);
    for never in ["upgrade", "http2-settings", "connection"] {
        assert!(
            !names.iter().any(|name| name == never),
            "{never} in {names:?}"
        );
    }
    assert_eq!(header(&echo, "x-forwarded-user"), ["ursula"]);

    // The connection is still HTTP/1.1 through the sidecar: a request with
    // no cookie and spoofed identity is refused, not handed to the app.
    stream
        .write_all(
            format!(
                "GET /as-root HTTP/1.1\r\nHost: {}\r\nX-Forwarded-User: root\r\nX-Portcullis-Role: admin\r\n\r\n",
                guarded.addr()
            )
            .as_bytes(),
        )
        .await?;
    let smuggled = read_response(&mut stream).await?;
    assert_eq!(smuggled.status(), 401, "{}", smuggled.head);
    Ok(())
}

#[tokio::test]
async fn an_app_switching_a_websocket_handshake_to_another_protocol_is_not_spliced() -> Result<()> {
    let guarded = Guarded::start().await?;
    let cookie = guarded.session_cookie("ursula", Role::Untrusted, 600)?;
    let mut stream = TcpStream::connect(guarded.addr()).await?;
    let request = format!(
        "GET /socket?switch-to=h2c HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nCookie: {cookie}\r\n\r\n",
        guarded.addr()
    );
    stream.write_all(request.as_bytes()).await?;
    let response = read_response(&mut stream).await?;
    assert_eq!(response.status(), 502, "{}", response.head);
    Ok(())
}

#[tokio::test]
async fn underscore_spellings_of_identity_headers_never_reach_the_app() -> Result<()> {
    let guarded = Guarded::start().await?;
    let cookie = guarded.session_cookie("ursula", Role::Untrusted, 600)?;
    let echo: Value = reqwest::Client::new()
        .get(guarded.url("/cgi"))
        .header("Cookie", cookie)
        .header("X_Portcullis_Role", "admin")
        .header("X_Forwarded_User", "root")
        .header("x-forwarded_groups", "admin")
        .header("X_Portcullis_Root", "true")
        .header("X_App_Theme", "dark")
        .send()
        .await?
        .json()
        .await?;
    let names = header_names(&echo);
    let spoofed: Vec<&String> = names.iter().filter(|name| name.contains('_')).collect();
    assert_eq!(spoofed, ["x_app_theme"], "{names:?}");
    assert_eq!(header(&echo, "x-forwarded-user"), ["ursula"]);
    assert_eq!(header(&echo, "x-portcullis-role"), ["untrusted"]);
    Ok(())
}

#[tokio::test]
async fn forwarding_headers_are_the_sidecars_not_the_clients() -> Result<()> {
    let guarded = Guarded::start().await?;
    let cookie = guarded.session_cookie("ursula", Role::Untrusted, 600)?;
    let echo: Value = reqwest::Client::new()
        .get(guarded.url("/where"))
        .header("Cookie", cookie)
        .header("Forwarded", "for=10.0.0.1;host=admin.internal")
        .header("X-Real-IP", "10.0.0.1")
        .header("X-Forwarded-For", "10.0.0.1")
        .header("X-Forwarded-Port", "443")
        .header("X-Forwarded-Prefix", "/admin")
        .header("X-Forwarded-Host", "admin.internal")
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(header(&echo, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(header(&echo, "x-real-ip"), ["127.0.0.1"]);
    assert_eq!(header(&echo, "x-forwarded-host"), [guarded.addr()]);
    assert_eq!(
        header(&echo, "forwarded"),
        [format!("for=127.0.0.1;proto=http;host=\"{}\"", guarded.addr()).as_str()]
    );
    assert!(header(&echo, "x-forwarded-port").is_empty());
    assert!(header(&echo, "x-forwarded-prefix").is_empty());
    Ok(())
}

#[tokio::test]
async fn two_host_headers_are_refused_and_connection_cannot_drop_host() -> Result<()> {
    let guarded = Guarded::start().await?;
    let cookie = guarded.session_cookie("ursula", Role::Untrusted, 600)?;
    let mut stream = TcpStream::connect(guarded.addr()).await?;
    let twice = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nHost: admin.internal\r\nCookie: {cookie}\r\n\r\n",
        guarded.addr()
    );
    stream.write_all(twice.as_bytes()).await?;
    assert_eq!(read_response(&mut stream).await?.status(), 400);

    let mut stream = TcpStream::connect(guarded.addr()).await?;
    let hop = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nConnection: host, cookie\r\nX-Forwarded-Host: admin.internal\r\nCookie: {cookie}\r\n\r\n",
        guarded.addr()
    );
    stream.write_all(hop.as_bytes()).await?;
    let response = read_response(&mut stream).await?;
    assert_eq!(response.status(), 200, "{}", response.head);
    let echo: Value = serde_json::from_str(&response.body)?;
    assert_eq!(header(&echo, "host"), [guarded.addr()]);
    assert_eq!(header(&echo, "x-forwarded-host"), [guarded.addr()]);
    Ok(())
}

#[tokio::test]
async fn a_websocket_closes_when_its_session_expires() -> Result<()> {
    let guarded = Guarded::start().await?;
    let cookie = guarded.session_cookie("ursula", Role::Untrusted, 3)?;
    let mut stream = guarded.open_websocket(&cookie).await?;
    stream.write_all(b"ping").await?;
    let mut echoed = [0u8; 4];
    stream.read_exact(&mut echoed).await?;
    assert_eq!(&echoed, b"ping");
    assert_closes_within(&mut stream, Duration::from_secs(15)).await
}

#[tokio::test]
async fn a_websocket_closes_when_its_session_logs_out() -> Result<()> {
    let guarded = Guarded::start().await?;
    let browser = portcullis_e2e::browser::Browser::new();
    let base = guarded.sidecar.url();
    browser
        .backup_login(
            base,
            portcullis_e2e::sidecar::ROOT_USERNAME,
            portcullis_e2e::sidecar::ROOT_PASSWORD,
        )
        .await?;
    let cookie = browser.cookies_for(base).unwrap_or_default();
    let mut stream = guarded.open_websocket(&cookie).await?;
    browser.log_out(base).await?;
    assert_closes_within(&mut stream, Duration::from_secs(5)).await
}

/// The spliced connection ends (EOF or reset) within `limit`, while the
/// client keeps talking.
async fn assert_closes_within(stream: &mut TcpStream, limit: Duration) -> Result<()> {
    let closed = tokio::time::timeout(limit, async {
        let mut buffer = [0u8; 64];
        loop {
            if stream.write_all(b"still here").await.is_err() {
                return;
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    })
    .await;
    anyhow::ensure!(
        closed.is_ok(),
        "the spliced connection outlived its session"
    );
    Ok(())
}

mod identity_values {
    //! Identity values from the provider that an app could read differently
    //! from the sidecar.

    use anyhow::Result;
    use portcullis_e2e::browser::Browser;
    use portcullis_e2e::stack::Stack;
    use reqwest::StatusCode;
    use serde_json::Value;

    #[tokio::test]
    async fn a_username_with_a_leading_space_or_a_control_character_is_refused() -> Result<()> {
        let stack = Stack::start().await?;
        for login in ["spacey", "bell"] {
            let (_, response) = Browser::new().log_in(&stack.url("/"), login).await?;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{login}");
            let page = response.text().await?;
            assert!(page.contains("preferred_username"), "{login}: {page}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_group_name_with_a_comma_reaches_the_app_as_one_group() -> Result<()> {
        let stack = Stack::start().await?;
        let (_, response) = Browser::new().log_in(&stack.url("/"), "comma").await?;
        assert_eq!(response.status(), StatusCode::OK);
        let echo: Value = response.json().await?;
        assert_eq!(
            echo["headers"]["x-forwarded-groups"][0],
            "admin%2Cstaff,readers"
        );
        assert_eq!(echo["headers"]["x-portcullis-role"][0], "untrusted");
        Ok(())
    }

    #[tokio::test]
    async fn the_most_groups_a_session_keeps_fit_in_two_cookies_with_the_id_token() -> Result<()> {
        let stack = Stack::start().await?;
        let browser = Browser::new();
        let (_, response) = browser.log_in(&stack.url("/"), "crowded").await?;
        assert_eq!(response.status(), StatusCode::OK);
        let echo: Value = response.json().await?;
        let groups = echo["headers"]["x-forwarded-groups"][0]
            .as_str()
            .unwrap_or("");
        assert_eq!(groups.split(',').count(), 32, "{groups}");
        let cookies = browser.cookies_for(stack.sidecar.url()).unwrap_or_default();
        let value = |name: &str| {
            cookies
                .split("; ")
                .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                .map(str::to_owned)
        };
        let first = value("portcullis_session").unwrap_or_default();
        let second = value("portcullis_session_1").unwrap_or_default();
        assert!(first.starts_with("2."), "the first of two parts: {cookies}");
        assert!(!second.is_empty() && first.len() <= 3800 && second.len() <= 3800);
        println!(
            "cookie sizes of a session with 32 long groups: {} + {} bytes",
            first.len(),
            second.len()
        );
        // The ID token was kept: the provider is told who logs out.
        let response = browser.log_out(stack.sidecar.url()).await?;
        let target = url::Url::parse(response.headers()[reqwest::header::LOCATION].to_str()?)?;
        assert!(
            target
                .query_pairs()
                .any(|(name, _)| name == "id_token_hint"),
            "{target}"
        );
        let cleared: Vec<&str> = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter(|value| value.contains("Max-Age=0"))
            .collect();
        for name in ["portcullis_session=", "portcullis_session_1="] {
            assert!(
                cleared.iter().any(|value| value.starts_with(name)),
                "{name} cleared: {cleared:?}"
            );
        }
        Ok(())
    }
}
