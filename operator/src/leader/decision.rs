//! What a candidate does with the Lease it just read.

use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// The Lease fields the decision needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseView {
    /// Current holder, if any.
    pub holder: Option<String>,
    /// Last renewal.
    pub renewed: Option<Timestamp>,
    /// How long a renewal is valid, in seconds.
    pub duration_seconds: Option<i32>,
}

/// The candidate's next step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// We hold it: renew.
    Renew,
    /// Free or expired: take it over.
    TakeOver,
    /// Someone else holds a valid lease: wait.
    Wait,
}

/// Decides for candidate `me` at `now`.
pub fn decide(lease: &LeaseView, me: &str, now: Timestamp) -> Decision {
    match lease.holder.as_deref() {
        Some(holder) if holder == me => Decision::Renew,
        None | Some("") => Decision::TakeOver,
        Some(_) if expired(lease, now) => Decision::TakeOver,
        Some(_) => Decision::Wait,
    }
}

fn expired(lease: &LeaseView, now: Timestamp) -> bool {
    let (Some(renewed), Some(seconds)) = (lease.renewed, lease.duration_seconds) else {
        return true;
    };
    renewed
        .checked_add(SignedDuration::from_secs(i64::from(seconds)))
        .map_or(true, |until| until <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).expect("valid")
    }

    fn held_by(holder: &str, renewed: i64) -> LeaseView {
        LeaseView {
            holder: Some(holder.into()),
            renewed: Some(at(renewed)),
            duration_seconds: Some(15),
        }
    }

    #[test]
    fn own_lease_is_renewed() {
        assert_eq!(decide(&held_by("a", 100), "a", at(200)), Decision::Renew);
    }

    #[test]
    fn valid_foreign_lease_is_respected() {
        assert_eq!(decide(&held_by("b", 100), "a", at(114)), Decision::Wait);
    }

    #[test]
    fn expired_foreign_lease_is_taken_over() {
        assert_eq!(decide(&held_by("b", 100), "a", at(115)), Decision::TakeOver);
    }

    #[test]
    fn released_or_incomplete_lease_is_taken_over() {
        assert_eq!(
            decide(&LeaseView::default(), "a", at(0)),
            Decision::TakeOver
        );
        let mut released = held_by("", 100);
        released.holder = Some(String::new());
        assert_eq!(decide(&released, "a", at(100)), Decision::TakeOver);
    }
}
