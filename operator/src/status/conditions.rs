//! From checks to `status`: `Ready`, transition times, and "did it change?".

use super::check::{Check, READY};
use super::reason::Reason;
use crate::crd::OidcSettingsStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The status for `checks`, keeping transition times from `old` where the status did not flip.
pub fn next_status(
    old: Option<&OidcSettingsStatus>,
    generation: Option<i64>,
    issuer: String,
    checks: &[Check],
    now: Time,
) -> OidcSettingsStatus {
    let mut all: Vec<Check> = checks.to_vec();
    all.push(ready(checks));
    let conditions = all
        .iter()
        .map(|check| {
            let status = match check.passed {
                Some(true) => "True",
                Some(false) => "False",
                None => "Unknown",
            };
            let since = old
                .and_then(|old| old.conditions.iter().find(|c| c.type_ == check.type_))
                .filter(|previous| previous.status == status)
                .map_or_else(
                    || now.clone(),
                    |previous| previous.last_transition_time.clone(),
                );
            Condition {
                type_: check.type_.to_owned(),
                status: status.to_owned(),
                reason: check.reason.to_string(),
                message: check.message.clone(),
                observed_generation: generation,
                last_transition_time: since,
            }
        })
        .collect();
    OidcSettingsStatus {
        observed_generation: generation,
        issuer: Some(issuer),
        conditions,
        forward_auth: None,
        rollout: None,
    }
}

/// The status after the API server refused a request: `Ready=False` with
/// `reason` and `message`, every other condition kept as it was (what the
/// operator could not check this time, it does not claim to know anew).
pub fn refused_status(
    old: Option<&OidcSettingsStatus>,
    generation: Option<i64>,
    issuer: String,
    reason: Reason,
    message: String,
    now: Time,
) -> OidcSettingsStatus {
    let mut conditions: Vec<Condition> = old
        .map(|old| {
            old.conditions
                .iter()
                .filter(|c| c.type_ != READY)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let since = ready_condition(old)
        .filter(|previous| previous.status == "False")
        .map_or_else(
            || now.clone(),
            |previous| previous.last_transition_time.clone(),
        );
    conditions.push(Condition {
        type_: READY.to_owned(),
        status: "False".to_owned(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time: since,
    });
    OidcSettingsStatus {
        observed_generation: generation,
        issuer: Some(issuer),
        conditions,
        forward_auth: old.and_then(|old| old.forward_auth.clone()),
        rollout: old.and_then(|old| old.rollout.clone()),
    }
}

/// `Ready`: the first failing blocking check, else ready with any warnings named.
fn ready(checks: &[Check]) -> Check {
    if let Some(failed) = checks
        .iter()
        .find(|check| check.blocking && check.passed != Some(true))
    {
        return Check {
            type_: READY,
            passed: Some(false),
            reason: failed.reason,
            message: failed.message.clone(),
            blocking: true,
        };
    }
    let warnings: Vec<&str> = checks
        .iter()
        .filter(|check| check.passed == Some(false))
        .map(|check| check.message.as_str())
        .collect();
    let mut message = "the sidecar ConfigMap and Secret are up to date".to_owned();
    if !warnings.is_empty() {
        message.push_str("; warnings: ");
        message.push_str(&warnings.join("; "));
    }
    Check {
        type_: READY,
        passed: Some(true),
        reason: Reason::Reconciled,
        message,
        blocking: true,
    }
}

/// The `Ready` condition of a status, if any.
pub fn ready_condition(status: Option<&OidcSettingsStatus>) -> Option<&Condition> {
    status?.conditions.iter().find(|c| c.type_ == READY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::check::{CLAIMS_ADVERTISED, PROVIDER_REACHABLE};
    use k8s_openapi::jiff::Timestamp;

    /// A time `seconds` after the epoch.
    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).expect("a valid time"))
    }

    fn check(type_: &'static str, passed: Option<bool>, blocking: bool) -> Check {
        Check {
            type_,
            passed,
            reason: if passed == Some(true) {
                Reason::ProviderMatches
            } else {
                Reason::IssuerMismatch
            },
            message: format!("{type_} message"),
            blocking,
        }
    }

    #[test]
    fn all_passing_is_ready() {
        let status = next_status(
            None,
            Some(2),
            "https://i".into(),
            &[check(PROVIDER_REACHABLE, Some(true), true)],
            at(0),
        );
        let ready = ready_condition(Some(&status)).expect("ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "Reconciled")
        );
        assert_eq!(status.observed_generation, Some(2));
        assert_eq!(ready.last_transition_time, at(0));
    }

    #[test]
    fn a_blocking_failure_gives_its_reason_to_ready() {
        let checks = [
            check(PROVIDER_REACHABLE, Some(false), true),
            check(CLAIMS_ADVERTISED, Some(false), false),
        ];
        let status = next_status(None, None, "i".into(), &checks, at(0));
        let ready = ready_condition(Some(&status)).expect("ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "IssuerMismatch")
        );
    }

    #[test]
    fn warnings_keep_ready_true_and_are_mentioned() {
        let status = next_status(
            None,
            None,
            "i".into(),
            &[check(CLAIMS_ADVERTISED, Some(false), false)],
            at(0),
        );
        let ready = ready_condition(Some(&status)).expect("ready");
        assert_eq!(ready.status, "True");
        assert!(
            ready.message.contains("ClaimsAdvertised message"),
            "{}",
            ready.message
        );
    }

    #[test]
    fn a_refusal_sets_ready_false_and_keeps_the_rest() {
        let first = next_status(
            None,
            Some(1),
            "i".into(),
            &[check(PROVIDER_REACHABLE, Some(true), true)],
            at(0),
        );
        let refused = refused_status(
            Some(&first),
            Some(1),
            "i".into(),
            Reason::Forbidden,
            "secrets is forbidden".into(),
            at(5),
        );
        let ready = ready_condition(Some(&refused)).expect("ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "Forbidden")
        );
        assert_eq!(ready.last_transition_time, at(5));
        assert_eq!(refused.conditions.len(), 2);
        assert_eq!(refused.conditions[0], first.conditions[0]);
        let again = refused_status(
            Some(&refused),
            Some(1),
            "i".into(),
            Reason::Forbidden,
            "secrets is forbidden".into(),
            at(9),
        );
        assert_eq!(again, refused, "a repeated refusal writes nothing");
    }

    #[test]
    fn unchanged_world_gives_an_identical_status() {
        let checks = [check(PROVIDER_REACHABLE, Some(true), true)];
        let first = next_status(None, Some(1), "i".into(), &checks, at(0));
        let second = next_status(Some(&first), Some(1), "i".into(), &checks, at(1));
        assert_eq!(first, second);
    }

    #[test]
    fn a_flip_moves_only_that_transition_time() {
        let first = next_status(
            None,
            Some(1),
            "i".into(),
            &[
                check(PROVIDER_REACHABLE, Some(true), true),
                check(CLAIMS_ADVERTISED, Some(true), false),
            ],
            at(0),
        );
        let second = next_status(
            Some(&first),
            Some(1),
            "i".into(),
            &[
                check(PROVIDER_REACHABLE, Some(false), true),
                check(CLAIMS_ADVERTISED, Some(true), false),
            ],
            at(1),
        );
        let time = |type_: &str| {
            second
                .conditions
                .iter()
                .find(|c| c.type_ == type_)
                .map(|c| c.last_transition_time.clone())
        };
        assert_eq!(time(PROVIDER_REACHABLE), Some(at(1)));
        assert_eq!(time(CLAIMS_ADVERTISED), Some(at(0)));
        assert_eq!(time(READY), Some(at(1)));
    }
}
