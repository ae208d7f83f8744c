//! `status.rollout` from what each running pod answered: a pure decision,
//! so the counting, the timing and the message are tested without pods.
//!
//! The roll-out of a hash starts when the operator first reports it and
//! completes the first time every running pod serves it; a pod that
//! starts later mounts the new settings anyway, and one that stops
//! answering afterwards is counted, not taken for an unfinished roll-out.

use crate::crd_rollout::RolloutStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::time::Duration;

/// How many pods a message names before it says how many more there are.
const NAMED_PODS: usize = 5;

/// How long an unfinished roll-out is looked at more often than the usual
/// re-check: past it, something other than the kubelet's sync is wrong.
pub const WATCHED_FOR: Duration = Duration::from_secs(600);

/// What one running pod said on its admin port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PodAnswer {
    /// It serves the settings with this hash.
    Serves(String),
    /// It could not be asked, or its answer named no hash: why.
    NoAnswer(String),
}

/// A running pod and its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodReport {
    /// The pod's name.
    pub name: String,
    /// What it said.
    pub answer: PodAnswer,
}

/// The roll-out of `hash` after `pods` answered, continuing `old`'s
/// timing when it is the same hash.
pub fn next_rollout(
    old: Option<&RolloutStatus>,
    hash: &str,
    pods: &[PodReport],
    now: &Time,
) -> RolloutStatus {
    let same = old.filter(|old| old.config_hash == hash);
    let started_at = same.map_or_else(|| now.clone(), |old| old.started_at.clone());
    let current = pods
        .iter()
        .filter(|pod| pod.answer == PodAnswer::Serves(hash.to_owned()))
        .count();
    let everywhere = !pods.is_empty() && current == pods.len();
    let completed_at = same
        .and_then(|old| old.completed_at.clone())
        .or_else(|| everywhere.then(|| now.clone()));
    let seconds = completed_at
        .as_ref()
        .map(|done| (done.0.as_second() - started_at.0.as_second()).max(0));
    RolloutStatus {
        config_hash: hash.to_owned(),
        pods: count(pods.len()),
        pods_current: count(current),
        started_at,
        completed_at,
        seconds,
        message: message(hash, pods, current),
    }
}

/// Whether to look again sooner than the usual re-check: some pod does
/// not serve the settings yet, and the roll-out is young enough that the
/// kubelet's sync may still bring them.
pub fn look_again_soon(rollout: &RolloutStatus, now: &Time) -> bool {
    let age = now.0.as_second() - rollout.started_at.0.as_second();
    rollout.pods_current < rollout.pods
        && u64::try_from(age).is_ok_and(|age| age < WATCHED_FOR.as_secs())
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn message(hash: &str, pods: &[PodReport], current: usize) -> String {
    if pods.is_empty() {
        return "no running pod serves these settings".to_owned();
    }
    let mut out = format!(
        "{current} of {} running pods serve the current settings",
        pods.len()
    );
    let older: Vec<&str> = pods
        .iter()
        .filter(|pod| matches!(&pod.answer, PodAnswer::Serves(served) if served != hash))
        .map(|pod| pod.name.as_str())
        .collect();
    if !older.is_empty() {
        out.push_str(&format!(
            "; still on older ones (the kubelet refreshes mounted settings within a minute or two): {}",
            names(&older)
        ));
    }
    let silent: Vec<String> = pods
        .iter()
        .filter_map(|pod| match &pod.answer {
            PodAnswer::NoAnswer(why) => Some(format!("{} ({why})", pod.name)),
            PodAnswer::Serves(_) => None,
        })
        .collect();
    if !silent.is_empty() {
        let silent: Vec<&str> = silent.iter().map(String::as_str).collect();
        out.push_str(&format!(
            "; not answering on the admin port (a NetworkPolicy must admit the operator to spec.adminPort): {}",
            names(&silent)
        ));
    }
    out
}

fn names(names: &[&str]) -> String {
    let shown = names[..names.len().min(NAMED_PODS)].join(", ");
    match names.len().saturating_sub(NAMED_PODS) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(second).expect("a valid second"))
    }

    fn serves(name: &str, hash: &str) -> PodReport {
        PodReport {
            name: name.into(),
            answer: PodAnswer::Serves(hash.into()),
        }
    }

    #[test]
    fn a_new_hash_starts_a_roll_out_that_completes_when_every_pod_serves_it() {
        let started = next_rollout(
            None,
            "new",
            &[serves("a", "new"), serves("b", "old")],
            &at(100),
        );
        assert_eq!((started.pods, started.pods_current), (2, 1));
        assert_eq!(started.started_at, at(100));
        assert_eq!(
            (started.completed_at.as_ref(), started.seconds),
            (None, None)
        );
        assert!(started.message.contains("1 of 2"), "{}", started.message);
        assert!(started.message.contains(": b"), "{}", started.message);

        let done = next_rollout(
            Some(&started),
            "new",
            &[serves("a", "new"), serves("b", "new")],
            &at(168),
        );
        assert_eq!((done.pods, done.pods_current), (2, 2));
        assert_eq!(done.started_at, at(100));
        assert_eq!(done.completed_at, Some(at(168)));
        assert_eq!(done.seconds, Some(68));
    }

    #[test]
    fn a_completed_roll_out_keeps_its_time_when_a_pod_stops_answering() {
        let done = next_rollout(None, "h", &[serves("a", "h")], &at(10));
        let later = next_rollout(
            Some(&done),
            "h",
            &[
                serves("a", "h"),
                PodReport {
                    name: "b".into(),
                    answer: PodAnswer::NoAnswer("connection refused".into()),
                },
            ],
            &at(500),
        );
        assert_eq!(later.completed_at, Some(at(10)));
        assert_eq!((later.pods, later.pods_current), (2, 1));
        assert!(
            later.message.contains("b (connection refused)"),
            "{}",
            later.message
        );
        assert!(
            later.message.contains("spec.adminPort"),
            "{}",
            later.message
        );
    }

    #[test]
    fn another_hash_starts_over() {
        let done = next_rollout(None, "one", &[serves("a", "one")], &at(10));
        let next = next_rollout(Some(&done), "two", &[serves("a", "one")], &at(70));
        assert_eq!(next.started_at, at(70));
        assert_eq!((next.completed_at, next.seconds), (None, None));
        assert_eq!(next.pods_current, 0);
    }

    #[test]
    fn no_pods_is_no_completed_roll_out() {
        let none = next_rollout(None, "h", &[], &at(10));
        assert_eq!((none.pods, none.completed_at.as_ref()), (0, None));
        assert!(none.message.contains("no running pod"), "{}", none.message);
        assert!(!look_again_soon(&none, &at(20)));
    }

    #[test]
    fn an_unfinished_roll_out_is_watched_for_ten_minutes() {
        let started = next_rollout(None, "h", &[serves("a", "old")], &at(0));
        assert!(look_again_soon(&started, &at(30)));
        assert!(!look_again_soon(&started, &at(601)));
        let done = next_rollout(None, "h", &[serves("a", "h")], &at(0));
        assert!(!look_again_soon(&done, &at(30)));
    }

    #[test]
    fn long_lists_of_pods_are_cut_short() {
        let pods: Vec<PodReport> = (0..8).map(|i| serves(&format!("p{i}"), "old")).collect();
        let rollout = next_rollout(None, "h", &pods, &at(0));
        assert!(
            rollout.message.ends_with("p0, p1, p2, p3, p4 and 3 more"),
            "{}",
            rollout.message
        );
    }
}
