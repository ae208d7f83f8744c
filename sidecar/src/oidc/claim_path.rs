//! Where in the claims the groups are: a dotted path into nested objects.
//!
//! Providers put roles and groups in nested claims (Keycloak:
//! `realm_access.roles`, `resource_access.<client>.roles`), and many claim
//! names are URLs that contain dots themselves. So a path is split at dots,
//! `\.` stands for a literal dot and `\\` for a literal backslash, and a
//! top-level claim named exactly like the whole setting is used as it is, so
//! a URL-style claim name configured before paths existed keeps working.

use serde_json::{Map, Value};

/// A parsed claim path: the setting as written, and its segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimPath {
    written: String,
    segments: Vec<String>,
}

/// Why a claim path cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimPathError {
    /// Empty, or a dot at the start, at the end, or next to another dot.
    #[error("has an empty segment (a dot at the start or end, or two dots in a row)")]
    EmptySegment,
    /// A backslash followed by something other than `.` or `\`.
    #[error("a backslash must be followed by `.` (a literal dot) or `\\` (a literal backslash)")]
    BadEscape,
}

// === impl ClaimPath ===

impl ClaimPath {
    /// Parses a setting such as `realm_access.roles` or `https://example\.com/groups`.
    pub fn parse(written: &str) -> Result<Self, ClaimPathError> {
        let mut segments = Vec::new();
        let mut current = String::new();
        let mut chars = written.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(escaped @ ('.' | '\\')) => current.push(escaped),
                    _ => return Err(ClaimPathError::BadEscape),
                },
                '.' => segments.push(std::mem::take(&mut current)),
                other => current.push(other),
            }
        }
        segments.push(current);
        if segments.iter().any(String::is_empty) {
            return Err(ClaimPathError::EmptySegment);
        }
        Ok(Self {
            written: written.to_owned(),
            segments,
        })
    }

    /// The setting as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// The value at this path, if every step exists and every step before
    /// the last is an object.
    pub fn find<'a>(&self, claims: &'a Map<String, Value>) -> Option<&'a Value> {
        if !self.written.contains('\\')
            && let Some(whole) = claims.get(&self.written)
        {
            return Some(whole);
        }
        let (first, rest) = self.segments.split_first()?;
        rest.iter()
            .try_fold(claims.get(first)?, |value, segment| value.get(segment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("object")
    }

    fn found(path: &str, value: Value) -> Option<Value> {
        ClaimPath::parse(path)
            .expect("valid path")
            .find(&claims(value))
            .cloned()
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

    #[test]
    fn malformed_paths_are_refused_with_the_reason() {
        for path in ["", ".groups", "groups.", "a..b"] {
            assert_eq!(
                ClaimPath::parse(path),
                Err(ClaimPathError::EmptySegment),
                "{path}"
            );
        }
        for path in ["a\\b", "groups\\"] {
            assert_eq!(
                ClaimPath::parse(path),
                Err(ClaimPathError::BadEscape),
                "{path}"
            );
        }
        assert!(ClaimPath::parse("a\\..b").is_ok());
    }
}
