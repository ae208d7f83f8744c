//! The provider rotates its signing key: the next login must succeed at
//! once, whether the new key has a new `kid` or reuses the old one.

use anyhow::Result;
use portcullis_e2e::browser::Browser;
use portcullis_e2e::stack::Stack;
use reqwest::StatusCode;

async fn logs_in(stack: &Stack) -> Result<StatusCode> {
    let (_, response) = Browser::new().log_in(&stack.url("/"), "alice").await?;
    Ok(response.status())
}

#[tokio::test]
async fn a_key_replaced_under_the_same_kid_does_not_fail_the_next_login() -> Result<()> {
    let mut stack = Stack::start().await?;
    stack.idp.restart_with_key_id(Some("pinned")).await?;
    assert_eq!(logs_in(&stack).await?, StatusCode::OK);
    stack.idp.restart_with_key_id(Some("pinned")).await?;
    assert_eq!(logs_in(&stack).await?, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn a_new_kid_moments_after_a_key_fetch_does_not_fail_the_next_login() -> Result<()> {
    let mut stack = Stack::start().await?;
    assert_eq!(logs_in(&stack).await?, StatusCode::OK);
    stack.idp.restart_with_key_id(Some("rotated")).await?;
    assert_eq!(logs_in(&stack).await?, StatusCode::OK);
    Ok(())
}
