//! SIGTERM: report not ready and keep serving for the drain delay, then stop
//! accepting, finish what is in flight, exit.

use anyhow::{Result, ensure};
use portcullis_e2e::browser::Browser;
use portcullis_e2e::stack::Stack;
use reqwest::StatusCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The drain delay the sidecar is started with in these tests.
const DRAIN_DELAY: Duration = Duration::from_secs(3);

fn sigterm(stack: &Stack) -> Result<()> {
    let pid = stack.sidecar.child.id().expect("running");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    ensure!(status.success(), "kill failed");
    Ok(())
}

async fn start() -> Result<Stack> {
    Stack::start_with(|setup| {
        setup.args = vec![
            "--drain-delay-seconds".into(),
            DRAIN_DELAY.as_secs().to_string(),
        ];
    })
    .await
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_then_exits() -> Result<()> {
    let mut stack = start().await?;
    let browser = Browser::new();
    browser.log_in(&stack.url("/"), "alice").await?;
    let slow = tokio::spawn({
        let request = browser.client().get(stack.url("/slow"));
        async move { request.send().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    sigterm(&stack)?;

    let response = slow.await??;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the in-flight request finished"
    );
    let exit = tokio::time::timeout(Duration::from_secs(20), stack.sidecar.child.wait()).await??;
    assert!(exit.success(), "{exit:?}");
    let refused = reqwest::Client::new().get(stack.url("/")).send().await;
    assert!(refused.is_err(), "nothing listens after shutdown");
    Ok(())
}

#[tokio::test]
async fn during_the_drain_delay_readyz_fails_and_no_request_does() -> Result<()> {
    let mut stack = start().await?;
    let browser = Browser::new();
    browser.log_in(&stack.url("/"), "alice").await?;
    let (status, _) = stack.sidecar.readyz().await?;
    assert_eq!(status, 200);

    sigterm(&stack)?;
    let signalled = Instant::now();
    // Readiness turns at once, so the endpoint leaves the Service.
    let (status, body) = loop {
        let (status, body) = stack.sidecar.readyz().await?;
        if status == 503 || signalled.elapsed() > Duration::from_millis(500) {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["draining"], true, "{body}");

    // A bounded load until just before the delay ends: kept-alive sessions
    // and new connections (as a Service still routes some) all succeed.
    let until = signalled + DRAIN_DELAY - Duration::from_millis(500);
    let served = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for fresh_connections in [false, false, true, true] {
        let client = if fresh_connections {
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .redirect(reqwest::redirect::Policy::none())
                .build()?
        } else {
            browser.client().clone()
        };
        let url = stack.url(if fresh_connections { "/login" } else { "/" });
        let served = served.clone();
        load.push(tokio::spawn(async move {
            while Instant::now() < until {
                let response = client.get(&url).send().await?;
                ensure!(
                    response.status() == StatusCode::OK,
                    "{url}: {}",
                    response.status()
                );
                served.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for task in load {
        task.await??;
    }
    assert!(served.load(Ordering::Relaxed) > 20, "the load ran");
    let exit = tokio::time::timeout(Duration::from_secs(20), stack.sidecar.child.wait()).await??;
    assert!(exit.success(), "{exit:?}");
    Ok(())
}
