//! Where a browser may be sent back to after login or logout.
//!
//! Only a same-origin, absolute path is accepted (`/books?page=2`). Anything a
//! browser could read as another origin is refused: scheme-relative `//evil`,
//! backslash tricks `/\evil`, absolute URLs, control characters. A refused or
//! missing path falls back to `/`, so a hostile `rd` is never an open redirect.
//!
//! Absolute URLs are read for the hosts this service answers for, which
//! ingress-nginx sends as `rd` (`$scheme://$http_host$request_uri`): one
//! for the public URL's own host gives its path and query, judged as any
//! other path; one for another host a forward-auth service lists
//! (`forwardAuth.hosts`) is kept absolute, rebuilt from its checked parts
//! with the public URL's scheme (the session cookie, `Secure` over https,
//! would not reach an http page). Any other host falls back to `/`.

use crate::config::hosts::{Hosts, plain_host};

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

/// Where to send a browser back for an optional `rd` value, defaulting to
/// `/`: a safe path, or an absolute URL for a host of `hosts` other than
/// the public URL's.
pub fn return_target_or_default(candidate: Option<&str>, hosts: Hosts) -> String {
    candidate
        .and_then(|candidate| match absolute(candidate) {
            None => safe_return_path(candidate).map(str::to_owned),
            Some((authority, path)) => {
                let path = safe_return_path(path)?;
                if hosts.is_public(authority.host()) {
                    Some(path.to_owned())
                } else if hosts.protects(authority.host()) {
                    Some(hosts.url_on(&authority, path))
                } else {
                    None
                }
            }
        })
        .unwrap_or_else(|| DEFAULT_RETURN_PATH.to_owned())
}

/// The authority and the path and query of `candidate` when it is an
/// `http` or `https` URL with a host and no user, as sent.
fn absolute(candidate: &str) -> Option<(http::uri::Authority, &str)> {
    let rest = candidate
        .strip_prefix("https://")
        .or_else(|| candidate.strip_prefix("http://"))?;
    let end = rest.find('/').unwrap_or(rest.len());
    let authority = plain_host(&rest[..end])?;
    Some((
        authority,
        if end == rest.len() { "/" } else { &rest[end..] },
    ))
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

    fn public_url() -> url::Url {
        url::Url::parse("https://books.example.com").expect("url")
    }

    fn return_path_or_default(candidate: Option<&str>, public: &url::Url) -> String {
        return_target_or_default(candidate, Hosts::new(public, &[]))
    }

    #[test]
    fn refused_or_missing_paths_fall_back_to_root() {
        let public = public_url();
        assert_eq!(return_path_or_default(None, &public), "/");
        assert_eq!(return_path_or_default(Some("//evil.example"), &public), "/");
        assert_eq!(return_path_or_default(Some("/ok"), &public), "/ok");
    }

    #[test]
    fn a_url_for_the_public_host_gives_its_path_and_any_other_host_falls_back() {
        let public = public_url();
        for (rd, kept) in [
            ("https://books.example.com/shelf?page=2", "/shelf?page=2"),
            ("http://books.example.com:8080/shelf", "/shelf"),
            ("https://BOOKS.example.com", "/"),
            ("https://books.example.com//evil.example", "/"),
            ("https://books.example.com.evil.example/shelf", "/"),
            ("https://books.example.com@evil.example/shelf", "/"),
            ("https://evil.example/https://books.example.com/", "/"),
            ("javascript://books.example.com/%0aalert(1)", "/"),
            ("https://books.example.com/\\evil.example", "/"),
        ] {
            assert_eq!(return_path_or_default(Some(rd), &public), kept, "{rd}");
        }
    }

    #[test]
    fn a_url_for_another_listed_host_is_kept_absolute_with_the_public_scheme() {
        let public = url::Url::parse("https://auth.example.com").expect("url");
        let others = ["books.example.com".to_owned()];
        let hosts = Hosts::new(&public, &others);
        for (rd, kept) in [
            (
                "http://books.example.com/shelf?page=2",
                "https://books.example.com/shelf?page=2",
            ),
            (
                "https://Books.example.com:8443",
                "https://Books.example.com:8443/",
            ),
            ("https://auth.example.com/account", "/account"),
            ("https://films.example.com/", "/"),
            ("https://books.example.com@evil.example/", "/"),
            ("https://evil.example@books.example.com/", "/"),
            ("https://books.example.com.evil.example/", "/"),
            ("https://books.example.com//evil.example", "/"),
            ("https://books.example.com/\\evil.example", "/"),
            ("https://books.example.com/\r\nSet-Cookie:x=y", "/"),
            ("//books.example.com/shelf", "/"),
        ] {
            assert_eq!(return_target_or_default(Some(rd), hosts), kept, "{rd}");
        }
    }

    #[test]
    fn overlong_paths_are_refused() {
        let long = format!("/{}", "a".repeat(MAX_RETURN_PATH_LEN));
        assert_eq!(safe_return_path(&long), None);
    }
}
