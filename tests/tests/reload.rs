//! Settings that change without a restart and without logging anyone out.

use anyhow::Result;
use portcullis_e2e::browser::Browser;
use portcullis_e2e::echo::Echo;
use portcullis_e2e::idp::Idp;
use portcullis_e2e::sidecar::{SidecarSetup, generate_key, reserve_public_url};
use portcullis_e2e::stack::Stack;
use reqwest::StatusCode;
use serde_json::Value;
use std::path::Path;

const APPLIED: &str = "portcullis_config_reloads_total{result=\"Applied\"} 1";

async fn role_of_new_login(stack_url: &str, login: &str) -> Result<String> {
    let (_, response) = Browser::new()
        .log_in(&format!("{stack_url}/"), login)
        .await?;
    let echo: Value = response.json().await?;
    Ok(echo["headers"]["x-portcullis-role"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

#[tokio::test]
async fn a_new_group_claim_applies_to_the_next_login_while_existing_sessions_keep_working()
-> Result<()> {
    let mut stack = Stack::start().await?;
    let alice = Browser::new();
    alice.log_in(&stack.url("/"), "alice").await?;
    assert_eq!(
        role_of_new_login(stack.sidecar.url(), "trudy").await?,
        "trusted"
    );

    let keys_file = stack.sidecar.dir().join("session-keys");
    let old_keys = std::fs::read_to_string(&keys_file)?;
    std::fs::write(&keys_file, format!("{}\n{old_keys}", generate_key()?))?;
    stack.sidecar.setup.config.oidc.group_claim = "roles".into();
    stack.sidecar.setup.write_config()?;
    stack.sidecar.wait_for_metric(APPLIED).await?;

    assert_eq!(
        role_of_new_login(stack.sidecar.url(), "trudy").await?,
        "admin",
        "trudy's roles claim says admin"
    );
    let me = alice.client().get(stack.url("/auth/me")).send().await?;
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "alice's session survives the reload and the key rotation"
    );
    Ok(())
}

#[tokio::test]
async fn a_broken_config_is_refused_and_the_last_good_settings_keep_serving() -> Result<()> {
    let stack = Stack::start().await?;
    let config = stack.sidecar.setup.config_path();
    std::fs::write(&config, "upstream: [this is: not valid\n")?;
    stack
        .sidecar
        .wait_for_metric("portcullis_config_reloads_total{result=\"Refused\"} 1")
        .await?;
    let mut invalid = stack.sidecar.setup.config.clone();
    invalid.upstream = "ftp://127.0.0.1:1".into();
    std::fs::write(&config, invalid.to_yaml()?)?;
    stack
        .sidecar
        .wait_for_metric("portcullis_config_reloads_total{result=\"Refused\"} 2")
        .await?;

    assert_eq!(
        role_of_new_login(stack.sidecar.url(), "alice").await?,
        "admin",
        "still proxying to the echo app"
    );
    Ok(())
}

/// Lays out `dir` the way the kubelet mounts a ConfigMap: `file -> ..data/file`, `..data -> ..<version>`.
fn kubelet_publish(dir: &Path, version: &str, file: &str, contents: &str) -> Result<()> {
    let versioned = dir.join(format!("..{version}"));
    std::fs::create_dir_all(&versioned)?;
    std::fs::write(versioned.join(file), contents)?;
    let staging = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&staging);
    std::os::unix::fs::symlink(format!("..{version}"), &staging)?;
    std::fs::rename(&staging, dir.join("..data"))?;
    let link = dir.join(file);
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(format!("..data/{file}"), &link)?;
    }
    Ok(())
}

#[tokio::test]
async fn a_configmap_swapped_through_the_data_symlink_is_picked_up() -> Result<()> {
    let (port, public_url) = reserve_public_url();
    let idp = Idp::start(&public_url).await?;
    let echo = Echo::start().await?;
    let mut setup = SidecarSetup::new(port, &idp.well_known_url(), &echo.url)?;
    let mounted = setup.dir.path().join("config");
    std::fs::create_dir_all(&mounted)?;
    kubelet_publish(
        &mounted,
        "2026_11_28_1",
        "sidecar.yaml",
        &setup.config.to_yaml()?,
    )?;
    setup.config.oidc.group_claim = "roles".into();
    let next = setup.config.to_yaml()?;
    let sidecar = setup
        .start_with_config_at(&mounted.join("sidecar.yaml"))
        .await?;
    assert_eq!(role_of_new_login(sidecar.url(), "trudy").await?, "trusted");

    kubelet_publish(&mounted, "2026_11_28_2", "sidecar.yaml", &next)?;
    sidecar.wait_for_metric(APPLIED).await?;
    assert_eq!(role_of_new_login(sidecar.url(), "trudy").await?, "admin");
    drop(idp);
    Ok(())
}
