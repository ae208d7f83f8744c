//! Path patterns of access rules: exact paths, `*` for one segment, and a
//! final `**` for everything below.
//!
//! The syntax is small on purpose, so a reader can tell what a pattern
//! covers without running it: no regular expressions, no globs inside a
//! segment. A pattern is written in the normal form of
//! [`super::path::normalise`], so it means what a request path means after
//! normalisation, and a pattern that could never match (`/a//b`, `/a/../b`,
//! `/%61`) is refused instead of silently doing nothing.
//!
//! | pattern | matches | does not match |
//! |---|---|---|
//! | `/healthz` | `/healthz` | `/healthz/`, `/healthz/x` |
//! | `/static/**` | `/static`, `/static/`, `/static/a/b.css` | `/statics` |
//! | `/api/*/items` | `/api/v1/items` | `/api/items`, `/api/v1/x/items` |
//! | `/**` | every path | |

use super::path::{Params, normalise};

/// One segment of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    /// Matches exactly this segment (empty for a trailing slash).
    Literal(String),
    /// `*`: any one non-empty segment.
    One,
    /// `**` (last only): zero or more segments.
    Rest,
}

/// A parsed path pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPattern {
    segments: Vec<Segment>,
}

/// Why a pattern was refused, in words that say how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{pattern}` {reason}")]
pub struct BadPattern {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: String,
}

impl PathPattern {
    /// Parses a pattern, refusing anything but the documented syntax.
    pub fn parse(pattern: &str) -> Result<Self, BadPattern> {
        let bad = |reason: &str| BadPattern {
            pattern: pattern.to_owned(),
            reason: reason.to_owned(),
        };
        if !pattern.starts_with('/') {
            return Err(bad("must start with `/`"));
        }
        if let Some(odd) = pattern.chars().find(|c| !is_pattern_char(*c)) {
            return Err(bad(&format!(
                "holds `{}`, which a pattern cannot: use letters, digits, `-._~!$&'()*+,=:@/` and percent escapes",
                odd.escape_default()
            )));
        }
        match normalise(pattern, Params::Keep) {
            Ok(normal) if normal == pattern => {}
            Ok(normal) => {
                return Err(bad(&format!(
                    "is not in normal form (requests are matched after normalisation): write `{normal}`"
                )));
            }
            Err(why) => return Err(bad(&format!("can never match: {why}"))),
        }
        let pieces: Vec<&str> = pattern[1..].split('/').collect();
        let last = pieces.len() - 1;
        let mut segments = Vec::with_capacity(pieces.len());
        for (index, piece) in pieces.iter().enumerate() {
            segments.push(match *piece {
                "**" if index == last => Segment::Rest,
                "**" => {
                    return Err(bad(
                        "has `**` before the end; it may only be the last segment",
                    ));
                }
                "*" => Segment::One,
                literal if literal.contains('*') => {
                    return Err(bad(
                        "has `*` inside a segment; `*` and `**` must be whole segments",
                    ));
                }
                literal => Segment::Literal(literal.to_owned()),
            });
        }
        // The root `/` splits into one empty piece: it matches only `/`.
        Ok(Self { segments })
    }

    /// True when the normalised `path` matches; `ignore_case` compares
    /// literal segments without regard to ASCII case.
    pub fn matches(&self, path: &str, ignore_case: bool) -> bool {
        let mut pieces = path.strip_prefix('/').unwrap_or(path).split('/');
        for segment in &self.segments {
            match segment {
                Segment::Rest => return true,
                Segment::One => match pieces.next() {
                    Some(piece) if !piece.is_empty() => {}
                    _ => return false,
                },
                Segment::Literal(literal) => match pieces.next() {
                    Some(piece) if ignore_case && piece.eq_ignore_ascii_case(literal) => {}
                    Some(piece) if piece == literal => {}
                    _ => return false,
                },
            }
        }
        pieces.next().is_none()
    }
}

/// Characters a path segment may hold literally (RFC 3986 `pchar` without `;`,
/// which starts path parameters), plus `/` and `%` for escapes.
fn is_pattern_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,=:@/%".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> PathPattern {
        PathPattern::parse(text).expect("valid pattern")
    }

    #[test]
    fn exact_paths_match_only_themselves() {
        let healthz = pattern("/healthz");
        assert!(healthz.matches("/healthz", false));
        assert!(!healthz.matches("/healthz/", false));
        assert!(!healthz.matches("/healthz/x", false));
        assert!(!healthz.matches("/health", false));
        assert!(!healthz.matches("/", false));
        let root = pattern("/");
        assert!(root.matches("/", false));
        assert!(!root.matches("/x", false));
        let docs = pattern("/docs/");
        assert!(docs.matches("/docs/", false));
        assert!(!docs.matches("/docs", false));
    }

    #[test]
    fn a_final_double_star_covers_the_prefix_and_everything_below() {
        let statics = pattern("/static/**");
        for path in ["/static", "/static/", "/static/a", "/static/a/b.css"] {
            assert!(statics.matches(path, false), "{path}");
        }
        for path in ["/statics", "/", "/x/static/a"] {
            assert!(!statics.matches(path, false), "{path}");
        }
        assert!(pattern("/**").matches("/", false));
        assert!(pattern("/**").matches("/any/thing/", false));
    }

    #[test]
    fn a_star_is_one_non_empty_segment() {
        let items = pattern("/api/*/items");
        assert!(items.matches("/api/v1/items", false));
        assert!(!items.matches("/api/items", false));
        assert!(!items.matches("/api/v1/x/items", false));
        assert!(!pattern("/a/*").matches("/a/", false));
    }

    #[test]
    fn case_matters_unless_ignored() {
        let admin = pattern("/admin/**");
        assert!(!admin.matches("/ADMIN", false));
        assert!(admin.matches("/ADMIN", true));
        assert!(admin.matches("/Admin/x", true));
        assert!(!admin.matches("/ADMINS", true));
    }

    #[test]
    fn patterns_outside_the_syntax_are_refused_with_a_reason() {
        for (text, reason) in [
            ("admin", "must start with `/`"),
            ("", "must start with `/`"),
            ("/a//b", "write `/a/b`"),
            ("/a/../b", "write `/b`"),
            ("/%61dmin", "write `/admin`"),
            ("/a%2fb", "can never match"),
            ("/a/**/b", "only be the last segment"),
            ("/*.css", "whole segments"),
            ("/a**", "whole segments"),
            ("/a?x=1", "holds `?`"),
            ("/a;x", "holds `;`"),
            ("/a b", "holds ` `"),
            ("/a\\b", "holds `\\\\`"),
        ] {
            let error = PathPattern::parse(text).expect_err(text);
            assert!(error.to_string().contains(reason), "{text}: {error}");
        }
    }
}
