//! The backup login under attack: many wrong passwords at once, and an
//! attacker cycling addresses to keep the root admin out.

use anyhow::{Context, Result};
use portcullis_e2e::browser::{Browser, form_token};
use portcullis_e2e::guarded::Guarded;
use portcullis_e2e::sidecar::{ENROLMENT_CODE, ROOT_PASSWORD, ROOT_USERNAME};
use reqwest::StatusCode;
use std::net::{IpAddr, Ipv4Addr};

/// An attacker's client, sending from `127.0.0.<host>`, with its own cookies.
fn attacker(host: u8) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// Fetches the backup form (its token and cookie) as `client`.
async fn form(client: &reqwest::Client, base: &str) -> Result<String> {
    let page = client
        .get(format!("{base}/login?backup=1"))
        .send()
        .await?
        .text()
        .await?;
    form_token(&page).context("the backup form has a token")
}

async fn guess(client: &reqwest::Client, base: &str, token: &str) -> Result<StatusCode> {
    Ok(client
        .post(format!("{base}/login"))
        .form(&[
            ("username", ROOT_USERNAME),
            ("password", "a wrong guess"),
            ("csrf", token),
        ])
        .send()
        .await?
        .status())
}

/// Wrong guesses from 38 addresses, one each, until the shared budget of
/// unknown browsers is empty.
async fn flood_from_many_addresses(base: &str) -> Result<()> {
    let mut refused = 0;
    for host in 2..40 {
        let client = attacker(host)?;
        let token = form(&client, base).await?;
        if guess(&client, base, &token).await? == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    anyhow::ensure!(refused > 0, "the shared budget should be exhausted by now");
    Ok(())
}

/// Peak resident memory of a process, from `/proc`, in KiB.
fn peak_rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmHWM in /proc status")
}

#[tokio::test]
async fn twenty_wrong_passwords_at_once_keep_the_sidecar_small() -> Result<()> {
    let guarded = Guarded::start().await?;
    let base = guarded.sidecar.url();
    let mut attempts = Vec::new();
    for host in 2..22 {
        let client = attacker(host)?;
        let token = form(&client, base).await?;
        attempts.push((client, token));
    }
    let answers = futures_util::future::join_all(
        attempts
            .iter()
            .map(|(client, token)| guess(client, base, token)),
    )
    .await;
    for answer in answers {
        let status = answer?;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
    }
    let pid = guarded.sidecar.child.id().context("the sidecar runs")?;
    let peak = peak_rss_kib(pid)?;
    eprintln!("sidecar peak RSS after 20 wrong passwords at once: {peak} KiB");
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
    Ok(())
}

#[tokio::test]
async fn an_attacker_cycling_addresses_cannot_keep_the_root_admins_browser_out() -> Result<()> {
    let guarded = Guarded::start().await?;
    let base = guarded.sidecar.url();
    let root = Browser::new();
    let first = root
        .backup_login(base, ROOT_USERNAME, ROOT_PASSWORD)
        .await?;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);

    flood_from_many_addresses(base).await?;

    let again = root
        .backup_login(base, ROOT_USERNAME, ROOT_PASSWORD)
        .await?;
    assert_eq!(
        again.status(),
        StatusCode::SEE_OTHER,
        "the root admin gets in"
    );
    Ok(())
}

#[tokio::test]
async fn a_new_browser_with_the_enrolment_code_gets_in_past_the_flood() -> Result<()> {
    let guarded = Guarded::start().await?;
    let base = guarded.sidecar.url();
    flood_from_many_addresses(base).await?;

    let new_laptop = Browser::new();
    let without = new_laptop
        .backup_login(base, ROOT_USERNAME, ROOT_PASSWORD)
        .await?;
    assert_eq!(
        without.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "without the code, a new browser shares the emptied budget"
    );
    let with_code = new_laptop
        .backup_login_enrolling(base, ROOT_USERNAME, ROOT_PASSWORD, ENROLMENT_CODE)
        .await?;
    assert_eq!(
        with_code.status(),
        StatusCode::SEE_OTHER,
        "the code lets it in"
    );

    let other_laptop = Browser::new();
    let reused = other_laptop
        .backup_login_enrolling(base, ROOT_USERNAME, ROOT_PASSWORD, ENROLMENT_CODE)
        .await?;
    assert_eq!(
        reused.status(),
        StatusCode::UNAUTHORIZED,
        "a code enrols one browser"
    );
    Ok(())
}

#[test]
fn the_enrol_code_command_prints_a_fresh_code_and_its_hash() -> Result<()> {
    let (code, hash) = portcullis_e2e::sidecar::enrol_code()?;
    assert!(portcullis_contract::enrolment::code_matches(&code, &hash));
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let (other, _) = portcullis_e2e::sidecar::enrol_code()?;
    assert_ne!(code, other);
    Ok(())
}
