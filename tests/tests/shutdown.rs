//! SIGTERM: stop accepting, finish what is in flight, exit.

use anyhow::Result;
use portcullis_e2e::browser::Browser;
use portcullis_e2e::stack::Stack;
use reqwest::StatusCode;
use std::time::Duration;

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_then_exits() -> Result<()> {
    let mut stack = Stack::start().await?;
    let browser = Browser::new();
    browser.log_in(&stack.url("/"), "alice").await?;
    let slow = tokio::spawn({
        let request = browser.client().get(stack.url("/slow"));
        async move { request.send().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid = stack.sidecar.child.id().expect("running");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    assert!(status.success());

    let response = slow.await??;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the in-flight request finished"
    );
    let exit = tokio::time::timeout(Duration::from_secs(15), stack.sidecar.child.wait()).await??;
    assert!(exit.success(), "{exit:?}");
    let refused = reqwest::Client::new().get(stack.url("/")).send().await;
    assert!(refused.is_err(), "nothing listens after shutdown");
    Ok(())
}
