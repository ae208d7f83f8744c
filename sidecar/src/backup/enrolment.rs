//! A new browser becomes a known device with the one-time enrolment code.
//!
//! The shared budget of unknown clients can be emptied by whoever floods
//! the backup login; a known device keeps its own budget. A root admin on a
//! browser that never logged in sends the enrolment code with the password:
//! a right code that no browser spent yet makes this browser a known device
//! before its password is checked, so the password check draws on the new
//! device's budget, and the device cookie is set even if the password was
//! mistyped. The code is checked against its argon2id hash off the async
//! threads (about a millisecond), and spent in this process's memory.

use crate::backup::budgets::Attempter;
use crate::backup::guard::BackupGuard;
use crate::config::Settings;
use portcullis_contract::enrolment::code_matches;
use std::net::IpAddr;
use std::time::Duration;

/// What an enrolment code sent with the backup form did.
#[derive(Debug, PartialEq, Eq)]
pub enum Enrolment {
    /// No code was sent.
    NotAsked,
    /// A right, unspent code: the new device id of this browser.
    Enrolled(String),
    /// A wrong or spent code, or none configured.
    Refused,
    /// Too many codes from this client: wait this long.
    RateLimited(Duration),
}

/// Checks the code `typed` from `client` and spends it when it is right.
pub async fn enrol(
    guard: &BackupGuard,
    settings: &Settings,
    typed: &str,
    client: IpAddr,
) -> Enrolment {
    if typed.trim().is_empty() {
        return Enrolment::NotAsked;
    }
    if let Err(wait) = guard.take_attempt(&Attempter::Enrolling(client)).await {
        return Enrolment::RateLimited(wait);
    }
    let Some(phc) = settings
        .root_admin
        .as_ref()
        .and_then(|root| root.enrolment_code_hash.as_ref())
        .map(|hash| hash.expose().to_owned())
    else {
        return Enrolment::Refused;
    };
    let (typed, hash) = (typed.to_owned(), phc.clone());
    let matches = tokio::task::spawn_blocking(move || code_matches(&typed, &hash))
        .await
        .unwrap_or(false);
    let spent_now = matches && guard.spend_code(&phc).await;
    if spent_now {
        Enrolment::Enrolled(portcullis_contract::random::url_safe_token(16))
    } else {
        Enrolment::Refused
    }
}
