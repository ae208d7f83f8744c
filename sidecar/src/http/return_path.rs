//! Where a browser may be sent back to after login or logout.
//!
//! Only a same-origin, absolute path is accepted (`/books?page=2`). Anything a
//! browser could read as another origin is refused: scheme-relative `//evil`,
//! backslash tricks `/\evil`, absolute URLs, control characters. A refused or
//! missing path falls back to `/`, so a hostile `rd` is never an open redirect.

/// The path used when none, or an unsafe one, is given.
pub const DEFAULT_RETURN_PATH: &str = "/";

/// Longest return path kept; longer ones are refused rather than truncated.
const MAX_RETURN_PATH_LEN: usize = 2048;

/// Returns `candidate` when it is a safe same-origin path, otherwise `None`.
pub fn safe_return_path(candidate: &str) -> Option<&str> {
    let bytes = candidate.as_bytes();
    let starts_with_single_slash =
        bytes.first() == Some(&b'/') && !matches!(bytes.get(1), Some(b'/') | Some(b'\\'));
    // Characters, not bytes: the C1 controls (U+0080 to U+009F) are
    // control characters too, though none of their UTF-8 bytes is ASCII.
    let plain = candidate
        .chars()
        .all(|c| !c.is_control() && c != '\\' && c != ' ');
    (starts_with_single_slash && plain && candidate.len() <= MAX_RETURN_PATH_LEN)
        .then_some(candidate)
}

/// The safe return path for an optional `rd` value, defaulting to `/`.
pub fn return_path_or_default(candidate: Option<&str>) -> String {
    candidate
        .and_then(safe_return_path)
        .unwrap_or(DEFAULT_RETURN_PATH)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_paths_are_kept() {
        for path in [
            "/",
            "/books",
            "/books/1?page=2&sort=title",
            "/a/b#frag",
            "/%2F%2Fescaped",
        ] {
            assert_eq!(safe_return_path(path), Some(path));
        }
    }

    #[test]
    fn off_site_targets_are_refused() {
        for hostile in [
            "//evil.example",
            "//evil.example/path",
            "https://evil.example",
            "http://evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/\tevil",
            "/\r\nLocation: https://evil.example",
            "/ /evil",
            "/path\\..\\..",
        ] {
            assert_eq!(safe_return_path(hostile), None, "{hostile:?}");
        }
    }

    #[test]
    fn c1_control_characters_are_refused_too() {
        // Found by the `return_path` fuzz target: U+0085 (NEL) was let
        // through because each of its UTF-8 bytes alone is not a control.
        for hostile in ["/\u{85}/evil.example", "/a\u{9b}b", "/\u{80}"] {
            assert_eq!(safe_return_path(hostile), None, "{hostile:?}");
        }
        assert_eq!(safe_return_path("/caf\u{e9}"), Some("/caf\u{e9}"));
    }

    #[test]
    fn refused_or_missing_paths_fall_back_to_root() {
        assert_eq!(return_path_or_default(None), "/");
        assert_eq!(return_path_or_default(Some("//evil.example")), "/");
        assert_eq!(return_path_or_default(Some("/ok")), "/ok");
    }

    #[test]
    fn overlong_paths_are_refused() {
        let long = format!("/{}", "a".repeat(MAX_RETURN_PATH_LEN));
        assert_eq!(safe_return_path(&long), None);
    }
}
