//! A sealed session too long for one cookie, split across several.
//!
//! Browsers keep a cookie up to about 4096 bytes, and a session with a
//! provider's large ID token and its refresh token (Entra ID with many
//! groups, a Keycloak realm with many roles) may need more. Such a value is
//! cut into parts: the session cookie holds `<n>.` and the first part, the
//! cookies `<name>_1` … `<name>_<n-1>` the others. A sealed value is
//! base64, which has no `.`, so a whole value never looks like a first
//! part, and the check is one byte.
//!
//! The parts are joined before anything is opened, never opened alone: the
//! seal covers the whole value, so a part planted by a sibling domain, or
//! taken from another session, makes the join fail to open. Where a part's
//! name comes several times, a few joins are tried, the way several session
//! cookies are.

/// The longest value one cookie carries: the name and attributes still fit
/// within 4096 bytes.
pub const MAX_PART_LEN: usize = 3800;

pub use portcullis_contract::cookie_names::{MAX_PARTS, part_name};

/// At most this many joins are tried for one session cookie when part
/// names come more than once.
const MAX_JOINS: usize = 4;

/// `sealed` as the values of the session cookie and the part cookies after
/// it; `None` when it would need more than [`MAX_PARTS`].
pub fn split(sealed: &str) -> Option<Vec<String>> {
    if sealed.len() <= MAX_PART_LEN {
        return Some(vec![sealed.to_owned()]);
    }
    let (head, rest) = sealed.split_at_checked(MAX_PART_LEN - 2)?;
    let count = 1 + rest.len().div_ceil(MAX_PART_LEN);
    if count > MAX_PARTS {
        return None;
    }
    let mut parts = vec![format!("{count}.{head}")];
    parts.extend(
        rest.as_bytes()
            .chunks(MAX_PART_LEN)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned()),
    );
    Some(parts)
}

/// How many parts a session cookie's value says the session is in, when
/// it is the first of several; `None` for a whole value.
pub fn parts_announced(value: &str) -> Option<usize> {
    let bytes = value.as_bytes();
    if bytes.get(1) != Some(&b'.') {
        return None;
    }
    let count = usize::from(bytes[0].checked_sub(b'0')?);
    (2..=MAX_PARTS).contains(&count).then_some(count)
}

/// The whole values `first` (a first part) makes with the values found
/// under each following part's name, in the order sent, at most
/// [`MAX_JOINS`]; none when a part is missing.
pub fn joins(first: &str, following: &[Vec<&str>]) -> Vec<String> {
    let Some(head) = first.get(2..) else {
        return Vec::new();
    };
    let mut joined = vec![head.to_owned()];
    for candidates in following {
        joined = joined
            .iter()
            .flat_map(|start| candidates.iter().map(move |part| format!("{start}{part}")))
            .take(MAX_JOINS)
            .collect();
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(len: usize) -> String {
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            .chars()
            .cycle()
            .take(len)
            .collect()
    }

    #[test]
    fn a_value_that_fits_stays_whole() {
        let value = sealed(MAX_PART_LEN);
        assert_eq!(split(&value), Some(vec![value.clone()]));
        assert_eq!(parts_announced(&value), None);
    }

    #[test]
    fn a_long_value_is_split_and_joined_back() {
        for len in [MAX_PART_LEN + 1, 2 * MAX_PART_LEN, 3 * MAX_PART_LEN - 2] {
            let value = sealed(len);
            let parts = split(&value).expect("fits in three");
            assert!(parts.len() >= 2);
            assert!(parts.iter().all(|part| part.len() <= MAX_PART_LEN), "{len}");
            assert_eq!(parts_announced(&parts[0]), Some(parts.len()));
            let following: Vec<Vec<&str>> = parts[1..].iter().map(|p| vec![p.as_str()]).collect();
            assert_eq!(joins(&parts[0], &following), vec![value], "{len}");
        }
    }

    #[test]
    fn a_value_needing_more_parts_than_allowed_is_refused() {
        assert_eq!(split(&sealed(3 * MAX_PART_LEN)), None);
    }

    #[test]
    fn only_a_digit_and_a_dot_announce_parts() {
        assert_eq!(parts_announced("2.abc"), Some(2));
        assert_eq!(parts_announced("3.abc"), Some(3));
        for whole in ["", "2", "1.abc", "4.abc", "9.abc", "x.abc", "ab.c", "AAAA"] {
            assert_eq!(parts_announced(whole), None, "{whole}");
        }
    }

    #[test]
    fn a_missing_part_makes_no_join() {
        assert!(joins("2.ab", &[vec![]]).is_empty());
    }

    #[test]
    fn parts_sent_twice_give_a_bounded_number_of_joins_in_order() {
        let joined = joins("3.a", &[vec!["b", "B"], vec!["c", "C", "x"]]);
        assert_eq!(joined, ["abc", "abC", "abx", "aBc"]);
    }
}
