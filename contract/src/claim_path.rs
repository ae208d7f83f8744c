//! Where in the claims the groups are: a dotted path into nested objects.
//!
//! Providers put roles and groups in nested claims (Keycloak:
//! `realm_access.roles`, `resource_access.<client>.roles`), and many claim
//! names are URLs that contain dots themselves. So a path is split at dots,
//! `\.` stands for a literal dot and `\\` for a literal backslash, and a
//! top-level claim named exactly like the whole setting is used as it is, so
//! a URL-style claim name configured before paths existed keeps working.
//!
//! The parser lives here because both halves need it: the sidecar follows
//! the path through a token's claims, and the operator compares the path's
//! top-level claim with what the provider says it supports.

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

    /// The claim names to step through, outermost first, escapes resolved.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The whole setting as one top-level claim name, when it may be read
    /// that way: only a setting without escapes is (whoever writes an escape
    /// means the path).
    pub fn whole_name(&self) -> Option<&str> {
        (!self.written.contains('\\')).then_some(self.written.as_str())
    }

    /// The top-level claims this path may start at: the whole setting (see
    /// [`ClaimPath::whole_name`]) and the first segment. For a plain name
    /// both are the same and it is given once.
    pub fn top_level_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.whole_name().into_iter().collect();
        if let Some(first) = self.segments.first()
            && !names.contains(&first.as_str())
        {
            names.push(first);
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<String> {
        ClaimPath::parse(path)
            .expect("valid path")
            .segments()
            .to_vec()
    }

    #[test]
    fn a_plain_name_is_one_segment() {
        assert_eq!(segments("groups"), ["groups"]);
    }

    #[test]
    fn dots_separate_segments_and_escapes_keep_dots_and_backslashes() {
        assert_eq!(segments("realm_access.roles"), ["realm_access", "roles"]);
        assert_eq!(
            segments("ns.example\\.com.roles"),
            ["ns", "example.com", "roles"]
        );
        assert_eq!(segments("a\\\\b"), ["a\\b"]);
        assert_eq!(segments("a\\..b"), ["a.", "b"]);
    }

    #[test]
    fn top_level_names_are_the_whole_setting_and_the_first_segment() {
        let names = |path: &str| {
            ClaimPath::parse(path)
                .expect("valid path")
                .top_level_names()
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(names("groups"), ["groups"]);
        assert_eq!(
            names("realm_access.roles"),
            ["realm_access.roles", "realm_access"]
        );
        assert_eq!(
            names("https://example.com/groups"),
            ["https://example.com/groups", "https://example"]
        );
        assert_eq!(
            names("https://example\\.com/groups"),
            ["https://example.com/groups"]
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
