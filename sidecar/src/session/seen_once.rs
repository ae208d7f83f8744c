//! Names that may be used once, remembered until a time: the ids of the
//! provider's logout tokens, so a token captured on its way cannot be
//! replayed here. With a session store the store decides across replicas;
//! this memory keeps the rule on one replica when there is none, or when
//! the store does not answer.

use std::collections::HashMap;
use std::sync::Mutex;

/// Most names kept; beyond this the soonest to be forgotten go first.
pub const MAX_SEEN: usize = 10_000;

/// Digests of used names, each with when it may be forgotten (unix seconds).
#[derive(Debug, Default)]
pub struct SeenOnce {
    seen: Mutex<HashMap<String, u64>>,
}

impl SeenOnce {
    /// Records `digest` as used until `until`; true the first time.
    pub fn first_use(&self, digest: &str, until: u64, now: u64) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        seen.retain(|_, kept_until| *kept_until > now);
        if seen.contains_key(digest) {
            return false;
        }
        if seen.len() >= MAX_SEEN
            && let Some(soonest) = seen
                .iter()
                .min_by_key(|(_, kept_until)| **kept_until)
                .map(|(digest, _)| digest.clone())
        {
            seen.remove(&soonest);
        }
        seen.insert(digest.to_owned(), until);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_used_once_until_it_is_forgotten() {
        let seen = SeenOnce::default();
        assert!(seen.first_use("a", 100, 0));
        assert!(!seen.first_use("a", 100, 50));
        assert!(seen.first_use("b", 100, 50));
        assert!(seen.first_use("a", 300, 100), "forgotten at 100");
    }

    #[test]
    fn the_memory_is_bounded() {
        let seen = SeenOnce::default();
        for n in 0..MAX_SEEN as u64 + 10 {
            assert!(seen.first_use(&n.to_string(), 1_000 + n, 0));
        }
        assert_eq!(
            seen.seen.lock().map(|seen| seen.len()).unwrap_or(0),
            MAX_SEEN
        );
        assert!(!seen.first_use(&(MAX_SEEN as u64 + 9).to_string(), 5_000, 0));
    }
}
