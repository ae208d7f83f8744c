//! Following a group-claim path through a token's claims.
//!
//! The path's syntax (dots, `\.` and `\\` escapes) is parsed in the contract
//! crate, so the operator reads the setting exactly as the sidecar does; what
//! stays here is walking the parsed path through JSON claims, which only the
//! sidecar does.

use serde_json::{Map, Value};

pub use portcullis_contract::claim_path::{ClaimPath, ClaimPathError};

/// The value at `path`, if every step exists and every step before the last
/// is an object. A top-level claim named exactly like the whole setting wins,
/// so a URL-style claim name configured before paths existed keeps working.
pub fn find<'a>(path: &ClaimPath, claims: &'a Map<String, Value>) -> Option<&'a Value> {
    if let Some(whole) = path.whole_name().and_then(|name| claims.get(name)) {
        return Some(whole);
    }
    let (first, rest) = path.segments().split_first()?;
    rest.iter()
        .try_fold(claims.get(first)?, |value, segment| value.get(segment))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("object")
    }

    fn found(path: &str, value: Value) -> Option<Value> {
        find(&ClaimPath::parse(path).expect("valid path"), &claims(value)).cloned()
    }

    #[test]
    fn a_plain_name_is_a_top_level_claim() {
        assert_eq!(
            found("groups", json!({"groups": ["a"]})),
            Some(json!(["a"]))
        );
        assert_eq!(found("groups", json!({"roles": ["a"]})), None);
    }

    #[test]
    fn dots_step_into_nested_objects() {
        let token = json!({
            "realm_access": {"roles": ["admin"]},
            "resource_access": {"books": {"roles": ["trusted"]}},
        });
        assert_eq!(
            found("realm_access.roles", token.clone()),
            Some(json!(["admin"]))
        );
        assert_eq!(
            found("resource_access.books.roles", token.clone()),
            Some(json!(["trusted"]))
        );
        assert_eq!(found("resource_access.other.roles", token.clone()), None);
        assert_eq!(found("realm_access.roles.more", token), None);
    }

    #[test]
    fn an_escaped_dot_is_part_of_the_name() {
        let token = json!({
            "https://example.com/groups": ["admin"],
            "ns": {"example.com": {"roles": ["trusted"]}},
        });
        assert_eq!(
            found("https://example\\.com/groups", token.clone()),
            Some(json!(["admin"]))
        );
        assert_eq!(
            found("ns.example\\.com.roles", token),
            Some(json!(["trusted"]))
        );
        assert_eq!(found("a\\\\b", json!({"a\\b": 1})), Some(json!(1)));
    }

    #[test]
    fn a_top_level_claim_named_like_the_whole_setting_is_used_as_it_is() {
        let token = json!({"https://example.com/groups": ["admin"]});
        assert_eq!(
            found("https://example.com/groups", token),
            Some(json!(["admin"]))
        );
    }
}
