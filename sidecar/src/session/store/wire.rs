//! What the replicas write to the store and send each other: key names and
//! messages. Pure, so the format is tested without a server.
//!
//! On a Redis Cluster every key and the channel of one app carry the prefix
//! as their hash tag (`{prefix}revoked`), so they share a slot: the budget
//! script touches two keys at once, and a log out writes and announces in
//! one transaction, which a cluster allows only within one slot.
//!
//! All revocations of one app are one sorted set (member: the session's
//! digest, score: its expiry in unix seconds), so a full load is one read
//! and expired members are trimmed by score. A log out is also published
//! on one channel as `<digest> <expiry>`, which every replica applies to
//! its local copy at once.

/// The store's names for one app, all under its key prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreNames {
    /// The sorted set of revoked session digests.
    pub revoked: String,
    /// The channel log outs are announced on.
    pub channel: String,
    /// What every key starts with.
    key_start: String,
}

impl StoreNames {
    /// The names under `prefix`, in one hash slot when `clustered`.
    pub fn under(prefix: &str, clustered: bool) -> Self {
        let key_start = if clustered {
            format!("{{{prefix}}}")
        } else {
            prefix.to_owned()
        };
        Self {
            revoked: format!("{key_start}revoked"),
            channel: format!("{key_start}revocations"),
            key_start,
        }
    }

    /// The key `name`, beside the others.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.key_start)
    }
}

pub use crate::session::revoked::Revocation;

impl Revocation {
    /// The message announcing it: `<digest> <expiry>`, and ` <before>` for
    /// one the provider sent.
    pub fn message(&self) -> String {
        match self.signed_in_before {
            None => format!("{} {}", self.digest, self.expires_at),
            Some(before) => format!("{} {} {before}", self.digest, self.expires_at),
        }
    }

    /// Reads a message; `None` for anything that is not one (the channel is
    /// the store's, not ours alone).
    pub fn parse(message: &str) -> Option<Self> {
        let mut words = message.split(' ');
        let digest = words.next().filter(|digest| is_digest(digest))?;
        let expires_at = words.next()?.parse().ok()?;
        let signed_in_before = match words.next() {
            None => None,
            Some(before) => Some(before.parse().ok()?),
        };
        if words.next().is_some() {
            return None;
        }
        Some(Self {
            digest: digest.to_owned(),
            expires_at,
            signed_in_before,
        })
    }

    /// The member of the sorted set: the digest, and `:<before>` for one
    /// the provider sent (the score is the expiry).
    pub fn member(&self) -> String {
        match self.signed_in_before {
            None => self.digest.clone(),
            Some(before) => format!("{}:{before}", self.digest),
        }
    }

    /// Reads a member of the sorted set with its score.
    pub fn from_member(member: &str, score: f64) -> Option<Self> {
        let (digest, signed_in_before) = match member.split_once(':') {
            None => (member, None),
            Some((digest, before)) => (digest, Some(before.parse().ok()?)),
        };
        if !is_digest(digest) || !score.is_finite() || score < 0.0 {
            return None;
        }
        // Scores are whole seconds, written from a u64 below 2^53.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let expires_at = score as u64;
        Some(Self {
            digest: digest.to_owned(),
            expires_at,
            signed_in_before,
        })
    }
}

/// A digest as [`crate::session::revoked::sid_digest`] writes it.
fn is_digest(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::revoked::sid_digest;

    #[test]
    fn names_live_under_the_prefix() {
        let names = StoreNames::under("media/books:", false);
        assert_eq!(names.revoked, "media/books:revoked");
        assert_eq!(names.key("budget"), "media/books:budget");
        assert_eq!(names.channel, "media/books:revocations");
    }

    #[test]
    fn on_a_cluster_every_key_shares_the_prefix_as_its_hash_tag() {
        let names = StoreNames::under("media/books:", true);
        assert_eq!(names.revoked, "{media/books:}revoked");
        assert_eq!(names.key("budget"), "{media/books:}budget");
        assert_eq!(names.channel, "{media/books:}revocations");
    }

    #[test]
    fn a_message_and_a_member_read_back_as_the_revocation_they_carry() {
        let ours = Revocation::of_session(sid_digest("sid"), 1_900_000_000);
        let provider = Revocation {
            digest: sid_digest("sub"),
            expires_at: 1_900_000_000,
            signed_in_before: Some(1_899_990_000),
        };
        for revocation in [ours, provider] {
            assert_eq!(
                Revocation::parse(&revocation.message()),
                Some(revocation.clone())
            );
            assert_eq!(
                Revocation::from_member(&revocation.member(), 1.9e9),
                Some(revocation)
            );
        }
    }

    #[test]
    fn anything_else_on_the_channel_is_ignored() {
        let digest = sid_digest("sid");
        for message in [
            String::new(),
            "hello".into(),
            digest.clone(),
            format!("{digest} soon"),
            format!("{digest} -1"),
            format!("{} 100", digest.to_uppercase()),
            format!("{digest}0 100"),
            format!("{digest} 100 50 extra"),
            format!("{digest} 100 soon"),
        ] {
            assert_eq!(Revocation::parse(&message), None, "{message:?}");
        }
        assert_eq!(Revocation::from_member("x", 1.0), None);
        assert_eq!(Revocation::from_member(&digest, f64::NAN), None);
        assert_eq!(Revocation::from_member(&digest, -5.0), None);
        assert_eq!(Revocation::from_member(&format!("{digest}:x"), 1.0), None);
    }
}
